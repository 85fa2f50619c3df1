"""Off-machine recovery: checkpoints and the journal replicated through git
remotes, restorable in any clone.

Git already is the distributed engine: remotes, transports, authentication and
packfiles. This layer adds only a ref layout on the remote (one ref per machine
and worktree), the filters that keep secrets and excluded paths at home, and
retention of what a machine pushed. It imports ``recovery.core`` and
``recovery.base`` only.
"""
