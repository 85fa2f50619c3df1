"""Continuous protection between git operations: ``git recover watch``.

:mod:`recovery.watch.watcher` turns file events into checkpoints (settle, then
capture; at least every ``max_wait`` seconds under continuous change);
:mod:`recovery.watch.service` runs it in the background, one per worktree.
This layer sits beside :mod:`recovery.hooks` and imports only ``core`` and ``base``.
"""
