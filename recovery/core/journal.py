"""The recovery journal: an append-only log of what git-recover did.

Every checkpoint, gate run, detected failure, restore, undo and error is one JSON
line in ``<git_dir>/recovery/journal.jsonl`` (per worktree, beside the lock and the
intent record). ``git recover report`` computes RTO, RPO and MTTR from it, and
``git recover drill`` appends its results to it. The event names and the fields
each carries are documented in docs/metrics.md.

Why the write is shaped this way:

- One line, one ``write(2)`` on an ``O_APPEND`` descriptor, then ``fsync``: the
  line reaches the disk whole or not at all, short of a crash mid-write. The
  JSON Lines convention (jsonlines.org) makes a torn line cost one event, not
  the file.
- A crash mid-write leaves a last line without its newline; the next writer
  starts on a fresh line so its own event is not glued to the fragment, and the
  reader skips any line that is not a JSON object with a warning, never a crash.
- A file lock (:func:`recovery.base.fs.file_lock`, flock(2)) serialises
  writers from concurrent hooks and worktree commands, so rotation never races
  an append. A writer holds it for one append (milliseconds), so a writer that
  cannot take it within ``LOCK_TIMEOUT_S`` does not wait on: it queues its line
  as a file of its own under ``journal.queue/`` (written to a temporary name,
  then renamed: whole or absent) and the next writer that holds the lock
  appends the queue first. A journal event must never cost a git operation
  seconds, and must not be lost either. Readers see queued events too.
- The journal is bounded: past ``MAX_BYTES`` it is renamed to ``journal.jsonl.1``
  (older files shift up to ``KEEP_ROTATED``; the oldest is dropped), the way
  logrotate(8) names rotated logs.

This module runs on every commit through the hooks, so it imports only the
standard library at module level.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from recovery.base import output
from recovery.base.errors import RecoverError
from recovery.base.fs import fsync_dir
from recovery.core.repo import Repo

JOURNAL_NAME = "journal.jsonl"
LOCK_NAME = "journal.lock"
MAX_BYTES = 4 * 1024 * 1024  # ~20,000 events at ~200 bytes each before rotation
KEEP_ROTATED = 3  # journal.jsonl.1 (newest) .. journal.jsonl.3 (oldest)
LOCK_TIMEOUT_S = 0.5
QUEUE_DIR = "journal.queue"
# Longer lines are not events git-recover wrote; the reader skips them.
MAX_LINE_BYTES = 1024 * 1024

# Keys every line carries; ``record`` refuses them as event fields.
_RESERVED = frozenset({"time", "event", "worktree"})


class Event(NamedTuple):
    """One journal line.

    Attributes:
        time: when it was recorded, timezone-aware UTC.
        event: the event name (``checkpoint``, ``gate``, ``failure``, ``restore``,
            ``undo``, ``error``, ``drill``; see docs/metrics.md).
        worktree: the worktree key (``main`` or ``wt-<name>``) that wrote it.
        fields: the event's own fields, as written (durations in seconds, ``*_s``).
    """

    time: datetime
    event: str
    worktree: str
    fields: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        """The field ``key``, or ``default`` when the event does not carry it."""
        return self.fields.get(key, default)


def journal_path(state_dir: Path) -> Path:
    """The live journal file under a worktree's state directory."""
    return state_dir / JOURNAL_NAME


def record(repo: Repo, event: str, **fields: Any) -> bool:
    """Append one event to ``repo``'s journal, durably.

    Args:
        repo: the worktree whose journal receives the line.
        event: the event name (see docs/metrics.md for names and their fields).
        **fields: JSON-serialisable values; durations in seconds named ``*_s``.
            Paths, datetimes and other objects are written with ``str()``.

    Returns:
        True when the line is in the journal; False when the lock was busy and
        the line was queued (see the module docstring).

    Raises:
        ValueError: a field is named ``time``, ``event`` or ``worktree``.
        OSError: the state directory cannot be created or written.
    """
    clash = _RESERVED.intersection(fields)
    if clash:
        raise ValueError(f"journal field names reserved: {', '.join(sorted(clash))}")
    line = {"time": _utc_now(), "event": event, "worktree": repo.worktree_key, **fields}
    # backslashreplace: a path or git message holding bytes that are not UTF-8
    # (surrogate escapes) is written as a JSON \udcXX escape, which reads back
    # as the same string, instead of failing the write with a traceback.
    data = (json.dumps(line, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode(
        "utf-8", "backslashreplace")
    return append_line(repo.state_dir, data, MAX_BYTES, KEEP_ROTATED)


def record_or_warn(repo: Repo, event: str, **fields: Any) -> None:
    """:func:`record`, but a journal that cannot be written (a full disk, the
    lock held too long) costs one warning on stderr, never the checkpoint,
    restore or git operation being recorded; a busy lock costs at most
    ``LOCK_TIMEOUT_S`` and a note that the event was queued."""
    try:
        appended = record(repo, event, **fields)
    except (OSError, RecoverError) as exc:
        output.warn(f"journal not written ({exc})")
        return
    if not appended:
        output.note(f"the journal is busy (another process holds {repo.state_dir / LOCK_NAME}); this {event} "
                    f"event was queued in {repo.state_dir / QUEUE_DIR} and is appended by the next writer")


def append_line(state_dir: Path, data: bytes, max_bytes: int = MAX_BYTES,
                keep: int = KEEP_ROTATED) -> bool:
    """Append one encoded line (ending in ``\\n``) under the journal lock, rotating first
    when the line would take the journal past ``max_bytes``.

    Args:
        state_dir: the worktree's state directory (created when missing).
        data: the encoded line.
        max_bytes: size bound of the live file, in bytes.
        keep: how many rotated files to keep.

    Returns:
        True when appended; False when the lock stayed busy for
        ``LOCK_TIMEOUT_S`` and the line was queued instead.
    """
    from recovery.base.fs import LockBusy, file_lock

    state_dir.mkdir(parents=True, exist_ok=True)
    path = journal_path(state_dir)
    try:
        with file_lock(state_dir / LOCK_NAME, LOCK_TIMEOUT_S):
            queued = _queued_files(state_dir)
            # Queued lines are older than this one: they go first. A crash
            # after the append and before the unlink appends them twice; a
            # duplicated event is better than a lost one.
            data = b"".join(_line_bytes(q) for q in queued) + data
            size = path.stat().st_size if path.exists() else 0
            if size and size + len(data) > max_bytes:
                _rotate(path, keep)
                size = 0
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                if size and not _ends_with_newline(fd):
                    data = b"\n" + data  # fence off a torn line left by a crash
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            for done in queued:
                done.unlink(missing_ok=True)
    except LockBusy:
        _queue(state_dir, data)
        return False
    return True


def _queue(state_dir: Path, data: bytes) -> None:
    """Write one line as its own file under ``journal.queue/``: a temporary name
    first, then a rename, so a reader or the next writer sees it whole or not at all.
    The name sorts by time (nanoseconds), then pid."""
    from recovery.base.fs import atomic_write

    queue = state_dir / QUEUE_DIR
    queue.mkdir(exist_ok=True)
    atomic_write(queue / f"{time.time_ns():020d}-{os.getpid()}.jsonl", data)


def _queued_files(state_dir: Path) -> list[Path]:
    """Queued lines, oldest first (their names sort by time)."""
    queue = state_dir / QUEUE_DIR
    return sorted(queue.glob("*.jsonl")) if queue.is_dir() else []


def _line_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return data if data.endswith(b"\n") else data + b"\n"


def read_events(repo: Repo, warn: Callable[[str], None] | None = None) -> list[Event]:
    """Every event in ``repo``'s journal, oldest first (rotated files included).

    Args:
        repo: the worktree whose journal is read.
        warn: receives one line per skipped line (torn or not a JSON event);
            default prints ``git-recover: warning: ...`` to stderr.

    Returns:
        The events in the order they were written; an empty list when no journal exists.
    """
    return list(iter_events(repo.state_dir, warn))


def iter_events(state_dir: Path, warn: Callable[[str], None] | None = None) -> Iterator[Event]:
    """Like :func:`read_events`, lazily, from a state directory."""
    report = warn or output.warn
    live = journal_path(state_dir)
    rotated = sorted(
        (p for p in state_dir.glob(JOURNAL_NAME + ".*") if p.suffix[1:].isdigit()),
        key=lambda p: int(p.suffix[1:]),
        reverse=True,
    )
    for path in [*rotated, live, *_queued_files(state_dir)]:
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            continue
        with handle:
            yield from parse_journal(handle, path.name, report)


def parse_journal(data: BinaryIO | bytes, name: str, warn: Callable[[str], None] | None = None) -> Iterator[Event]:
    """The events in one journal text (JSON Lines), in order, read line by line.

    Args:
        data: an open binary file, read in bounded memory (each line is capped
            at ``MAX_LINE_BYTES``, a longer one skipped), or the whole text.
        name: what to call it in warnings.
        warn: receives one line per skipped line (torn, overlong or not a JSON event).
    """
    report = warn or output.warn
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    number = 0
    while line := stream.readline(MAX_LINE_BYTES):
        number += 1
        if not line.endswith(b"\n") and len(line) == MAX_LINE_BYTES:
            while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass  # the rest of an overlong line
            report(f"journal {name}:{number}: line over {MAX_LINE_BYTES} bytes skipped")
            continue
        if not line.strip():
            continue
        parsed = _parse(line)
        if parsed is None:
            torn = not line.endswith(b"\n")  # the file should end with "\n"
            report(f"journal {name}:{number}: {'torn last line' if torn else 'unreadable line'} skipped")
            continue
        yield parsed


def _parse(text: bytes) -> Event | None:
    try:
        obj = json.loads(text)
        when = datetime.fromisoformat(obj.pop("time"))
        name = obj.pop("event")
        worktree = obj.pop("worktree", "main")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not isinstance(name, str) or when.tzinfo is None:
        return None
    return Event(when, name, str(worktree), obj)


def _rotate(path: Path, keep: int) -> None:
    """journal.jsonl -> .1 -> .2 ... -> .keep; the oldest is replaced."""
    for index in range(keep - 1, 0, -1):
        older = path.with_name(f"{path.name}.{index}")
        if older.exists():
            os.replace(older, path.with_name(f"{path.name}.{index + 1}"))
    if keep > 0:
        os.replace(path, path.with_name(f"{path.name}.1"))
    else:
        path.unlink()
    # The renames must survive a crash too (fsync(2): syncing a file does not sync
    # the directory entry).
    fsync_dir(path.parent)


def _ends_with_newline(fd: int) -> bool:
    return os.pread(fd, 1, os.fstat(fd).st_size - 1) == b"\n"


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


