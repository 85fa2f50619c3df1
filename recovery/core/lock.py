"""Serialising git-recover processes on one worktree.

Checkpoint, restore and gc of one worktree take a file lock (flock(2)) at
``<git-dir>/recovery/lock``, so two hooks firing at once (an editor's auto-commit
and a terminal commit) never interleave their ref updates. The lock is
re-entrant inside one process: a restore holds it while it takes its safety
checkpoint.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from recovery.base.errors import RecoverError
from recovery.core.repo import Repo

DEFAULT_TIMEOUT_S = 30.0


@contextmanager
def repo_lock(repo: Repo, timeout_s: float = DEFAULT_TIMEOUT_S) -> Iterator[None]:
    """Hold the worktree's git-recover lock for the ``with`` block.

    Args:
        repo: the worktree to lock.
        timeout_s: seconds to wait for another git-recover process to finish.

    Raises:
        RecoverError: the lock was still held after ``timeout_s`` seconds.
    """
    from recovery.base.fs import LockBusy, file_lock

    repo.state_dir.mkdir(parents=True, exist_ok=True)
    path = repo.state_dir / "lock"
    try:
        with file_lock(path, timeout_s):
            yield
    except LockBusy:
        raise RecoverError(
            f"another git-recover process holds {path} (waited {timeout_s:.0f} s)"
        ) from None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still exists (a stale lock or work directory
    of a killed git-recover is recognised by its dead owner)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    return True
