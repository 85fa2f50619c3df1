"""The snapshot core: the git runner, checkpoint types, capture, refs, restore,
integrity, locks, the journal and retention.

It imports only ``recovery.base``; every feature is built on it."""
