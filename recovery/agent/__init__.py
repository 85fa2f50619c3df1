"""Claude Code integration: hooks that checkpoint before every prompt and
file-changing tool call, the session record, settings install, rewind by prompt.
This layer sits beside :mod:`recovery.hooks` and imports only ``core``, ``gates``
and ``base``."""
