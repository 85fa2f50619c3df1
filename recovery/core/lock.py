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
from pathlib import Path

from recovery.base.errors import RecoverError
from recovery.core.repo import Repo

DEFAULT_TIMEOUT_S = 30.0


def lock_path(repo: Repo) -> Path:
    """The lock file of ``repo``'s worktree."""
    return repo.state_dir / "lock"


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
    path = lock_path(repo)
    try:
        with file_lock(path, timeout_s):
            yield
    except LockBusy:
        raise RecoverError(
            f"another git-recover process holds {path} (waited {timeout_s:.0f} s)"
        ) from None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a stale lock or work directory of a
    killed git-recover is recognised by its dead owner).

    A zombie is dead: killed, it holds no file and writes nothing, but its pid
    stays until its parent reaps it, which a parent that never calls ``wait``
    or a container's PID 1 may never do (hostile testing: the first ``restore
    --abort`` after a kill found the dead restore's ``index.lock`` "in use").
    Linux's ``/proc/<pid>/stat`` tells (state ``Z``); elsewhere it exists.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # "pid (comm) state ...": comm may hold spaces and parentheses.
            return stat.read().rpartition(b")")[2].split()[:1] != [b"Z"]
    except FileNotFoundError:
        return False  # gone since the signal test
    except OSError:
        return True


def lock_held_by(repo: Repo, pid: int) -> bool:
    """Whether process ``pid`` holds ``repo``'s lock now (Linux: the kernel's
    table of locks, ``/proc/locks``, names each flock's owner and file).

    Why not :func:`pid_alive` alone: a process killed with SIGKILL leaves its
    pid to be reused, and a live stranger must not pass for it; its flock died
    with it. Where ``/proc/locks`` cannot be read, the answer is whether ``pid``
    is alive and the lock is held by some process.
    """
    path = lock_path(repo)
    try:
        inode = path.stat().st_ino
    except OSError:
        return False  # no lock file: nobody ever held it
    try:
        table = Path("/proc/locks").read_text(encoding="ascii", errors="replace")
    except OSError:
        return pid_alive(pid) and _lock_busy(path)
    for line in table.splitlines():
        # "1: FLOCK  ADVISORY  WRITE 6698 fe:00:2179088 0 EOF" ("->" marks a waiter)
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[2] != "->":
            owner, where = fields[4], fields[5]
            if owner == str(pid) and where.rsplit(":", 1)[-1] == str(inode):
                return True
    return False


def _lock_busy(path: Path) -> bool:
    """Whether another process holds the flock on ``path`` (taken and released at once when free)."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
