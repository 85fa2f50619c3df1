"""Files that survive a crash: the one atomic write, the one scratch directory
and the one inter-process file lock.

Every file git-recover replaces (the restore record, gate-cache entries, hook
scripts, MERGE_HEAD and friends put back by a restore) goes through
:func:`atomic_write`, so a reader sees the old content or the new one, never half
of either, and a crash right after the call keeps the new one. Temporary index
files of a capture live in a :func:`scratch_dir`, removed however the block ends.
Processes that must not interleave (two hooks checkpointing one worktree, two
journal writers) take a :func:`file_lock`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def atomic_write(path: Path, data: bytes | str, *, mode: int | None = None, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` so that no reader or crash sees a partial file.

    The data goes to a temporary file in the same directory (a rename is atomic
    only within one filesystem), is flushed and fsynced, renamed over ``path``,
    and the directory is fsynced, because a rename is durable only once its
    directory entry is (fsync(2), rename(2)). The temporary file is removed on any
    failure, including KeyboardInterrupt.

    Args:
        path: the file to create or replace; its directory must exist.
        data: the new content; ``str`` is written as UTF-8.
        mode: exact permission bits for the new file (default: 0o666 less the
            umask, as for any file a program creates).
        durable: ``False`` skips both fsyncs, for caches that only save time.

    Raises:
        OSError: the directory is not writable, the disk is full, ...; ``path``
            is then unchanged.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    # O_EXCL on a name no other process uses: no tempfile import on the hook path,
    # and the default mode gets the umask applied by the kernel like any new file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{time.monotonic_ns()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if mode is None else 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)  # exactly ``mode``, whatever the umask
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make the entries of directory ``path`` (creations, renames, removals)
    durable. A directory that cannot be opened is skipped: the data itself was
    already synced, only the rename's durability is lost."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def scratch_dir(parent: Path, purpose: str) -> Iterator[Path]:
    """A fresh private directory under ``parent`` for the duration of the block,
    removed with everything in it however the block ends.

    Args:
        parent: where to create it (created when missing); callers pass a
            directory on the repository's filesystem so that index copies are cheap.
        purpose: a word that names the user in the directory's name (``restore-4711-...``),
            so that a leftover of a killed process tells who left it.

    Yields:
        The directory's path.
    """
    import shutil  # only here: atomic_write is on the hook path, this is not

    parent.mkdir(parents=True, exist_ok=True)
    path = parent / f"{purpose}-{os.getpid()}-{time.monotonic_ns()}"
    path.mkdir(mode=0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)



class LockBusy(Exception):
    """:func:`file_lock` waited its whole timeout while another process held the lock."""


# Paths this process holds, with how many nested holders: the lock is re-entrant
# inside one process (a restore holds it while it takes its safety checkpoint).
_held: dict[str, tuple[int, int]] = {}
# Seconds between tries while another process holds the lock.
_POLL_S = 0.02


@contextmanager
def file_lock(path: Path, timeout_s: float) -> Iterator[None]:
    """Hold an exclusive ``flock(2)`` on ``path`` (created if missing) for the
    ``with`` block; re-entrant within this process.

    flock(2) locks die with their process, so a killed holder never leaves a
    stale lock behind. It is the lock the filelock library takes on Unix; this
    one function replaces it on the hot path, where importing filelock cost
    30-80 ms per hook on a loaded machine (``python -X importtime``), more
    than the rest of a small checkpoint.

    Args:
        path: the lock file.
        timeout_s: seconds to wait for another process to release it.

    Raises:
        LockBusy: still held by another process after ``timeout_s`` seconds.
        OSError: the lock file cannot be opened.
    """
    import fcntl

    key = str(path)
    if key in _held:
        fd, depth = _held[key]
        _held[key] = (fd, depth + 1)
        try:
            yield
        finally:
            fd, depth = _held[key]
            _held[key] = (fd, depth - 1)
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockBusy(key) from None
                time.sleep(_POLL_S)
        _held[key] = (fd, 1)
        try:
            yield
        finally:
            del _held[key]
    finally:
        os.close(fd)  # releases the flock


def record_word(path: Path, word: str, keep: int) -> None:
    """Append ``word`` to the whitespace-separated list in ``path``, keeping the
    newest ``keep``; the file is replaced atomically (:func:`atomic_write`).

    Raises:
        OSError: the file cannot be read or written.
    """
    kept = path.read_text().split()[-(keep - 1):] if path.exists() else []
    atomic_write(path, "\n".join([*kept, word]) + "\n")


def recorded(path: Path, word: str) -> bool:
    """Whether :func:`record_word` recorded ``word`` in ``path`` (``False`` when
    the file cannot be read: a lost record must never stop anything)."""
    try:
        return word in path.read_text().split()
    except OSError:
        return False
