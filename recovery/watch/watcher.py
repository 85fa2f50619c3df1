"""Turning file events into checkpoints.

Events come from watchdog's inotify observer (a kernel notification per
change; nothing is polled, and an idle watcher sleeps in ``poll(2)`` and
``Condition.wait``). The rules, and why:

- **Settle, then capture**: a checkpoint is taken once no event has arrived
  for ``settle_s`` (default 2 s), so a burst of thousands of changes (a branch
  switch, a formatter, an editor saving by rename) becomes one checkpoint of
  the state it ends in.
- **At least every ``max_wait_s``** (default 60 s) while changes keep coming:
  continuous change must not postpone the recovery point for ever.
- **Only what git would capture**: events under ``.git/`` (our own checkpoint
  writes included) are dropped at once; the paths of a settled burst go through
  ``git check-ignore`` and a burst of ignored paths only (a ``node_modules/``
  install) takes no checkpoint. Open, read and close-without-write events are
  never subscribed to, since git reading files during a capture would
  otherwise wake the watcher again.
- **Bounded memory**: changed paths are kept only until ``MAX_PENDING`` of them
  pile up; then they are classified at once and forgotten (one path git does
  not ignore is enough to know a checkpoint is due). Whether the captured
  state differs from the last checkpoint is decided by the fingerprint check of
  :mod:`recovery.core.fingerprint`, so a burst that changed nothing git sees
  (files written back as they were) takes no checkpoint either.
- **Never in git's way**: the capture works on a copy of the index and never
  takes ``index.lock``; while another git process holds ``index.lock`` (a
  checkout writing the tree) the checkpoint waits another settle period, up to
  ``max_wait_s``, so it records the state after the operation, not halfway.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from recovery.base.errors import RecoverError
from recovery.core.fingerprint import checkpoint_if_changed
from recovery.core.git import Git
from recovery.core.repo import Repo

if TYPE_CHECKING:
    from watchdog.events import FileSystemEvent

DEFAULT_SETTLE_S = 2.0
DEFAULT_MAX_WAIT_S = 60.0
MAX_PENDING = 1000
REASON = "watch"


@dataclass
class Settler:
    """When the pending changes are due for a checkpoint (times in seconds of
    ``time.monotonic()``).

    Attributes:
        settle_s: quiet time after the last change.
        max_wait_s: longest time a change may wait under continuous change.
        first: when the oldest pending change arrived (``None``: nothing pending).
        last: when the newest one arrived.
    """

    settle_s: float
    max_wait_s: float
    first: float | None = None
    last: float = 0.0

    def change(self, now: float) -> None:
        """A change arrived at ``now``."""
        if self.first is None:
            self.first = now
        self.last = now

    def wait_s(self, now: float) -> float | None:
        """Seconds until the pending changes are due (0: now), ``None`` when none is pending."""
        if self.first is None:
            return None
        due = min(self.last + self.settle_s, self.first + self.max_wait_s)
        return max(0.0, due - now)

    def overdue(self, now: float) -> bool:
        """Whether the oldest pending change has waited ``max_wait_s``."""
        return self.first is not None and now - self.first >= self.max_wait_s

    def done(self) -> None:
        """The pending changes were handled."""
        self.first = None


@dataclass
class Pending:
    """The changes since the last checkpoint, in bounded memory.

    Attributes:
        paths: changed worktree-relative paths not yet classified (ignored or not).
        relevant: a path git does not ignore is among the changes (then no more
            paths need keeping).
        count: events counted, for the log line.
    """

    paths: set[str] = field(default_factory=set)
    relevant: bool = False
    count: int = 0

    def add(self, path: str) -> None:
        """Count a change of ``path`` and keep it for classification, within bounds."""
        self.count += 1
        if self.relevant:
            return
        if len(self.paths) < 2 * MAX_PENDING:
            self.paths.add(path)
        else:  # events outran classification: the fingerprint check decides
            self.relevant = True
            self.paths.clear()

    def full(self) -> bool:
        """Whether enough unclassified paths piled up to classify them now."""
        return not self.relevant and len(self.paths) >= MAX_PENDING

    def __bool__(self) -> bool:
        return self.count > 0


class Watcher:
    """Watches one worktree and checkpoints it (see the module docstring).

    Args:
        repo: the worktree.
        settle_s: quiet seconds before a checkpoint.
        max_wait_s: longest wait under continuous change, in seconds.
        report: called with one line for each checkpoint taken or failed.
    """

    def __init__(self, repo: Repo, settle_s: float, max_wait_s: float, report: Callable[[str], None]) -> None:
        self.repo = repo
        self.report = report
        self.settler = Settler(settle_s, max_wait_s)
        self.pending = Pending()
        self.checkpoints = 0
        self._cond = threading.Condition()
        self._stop = False
        self._top = os.fsencode(repo.toplevel)
        self._skip = (os.path.join(self._top, b".git"), os.fsencode(repo.git_dir))

    def stop(self) -> None:
        """Ask :meth:`run` to take a last checkpoint of pending changes and return
        (safe from a signal handler: it only sets a flag under a lock)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def on_event(self, event: FileSystemEvent) -> None:
        """Record a watchdog event (called on watchdog's dispatcher thread)."""
        if event.is_directory and event.event_type == "modified":
            return  # a directory's own mtime: the file events inside it say what changed
        now = time.monotonic()
        with self._cond:
            for raw in (event.src_path, getattr(event, "dest_path", b"")):
                rel = self._relative(os.fsencode(raw))
                if rel is not None:
                    self.pending.add(rel)
                    self.settler.change(now)
            self._cond.notify_all()

    def _relative(self, path: bytes) -> str | None:
        if not path or any(path == skip or path.startswith(skip + b"/") for skip in self._skip):
            return None
        if not path.startswith(self._top + b"/"):
            return None
        return os.fsdecode(path[len(self._top) + 1:])

    def run(self) -> None:
        """Handle changes until :meth:`stop`; pending changes get a last checkpoint."""
        while True:
            with self._cond:
                while not self._stop and not self.pending:
                    self._cond.wait()
                if self.pending.full():
                    unclassified, self.pending.paths = self.pending.paths, set()
                else:
                    unclassified = None
                    wait = self.settler.wait_s(time.monotonic())
                    if wait and not self._stop:
                        self._cond.wait(wait)
                        continue
            if unclassified is not None:  # a long burst: classify now, keep memory bounded
                relevant = self._relevant(unclassified)
                with self._cond:
                    self.pending.relevant |= relevant
                continue
            with self._cond:
                batch, self.pending = self.pending, Pending()
                first = self.settler.first
                overdue = self.settler.overdue(time.monotonic())
                self.settler.done()
                stopping = self._stop
            if batch and not self._handle(batch, overdue or stopping):
                with self._cond:  # git is busy: try again after another settle period
                    for path in batch.paths:
                        self.pending.add(path)
                    self.pending.relevant |= batch.relevant
                    self.settler.change(time.monotonic())
                    if first is not None:  # the burst keeps its age: max_wait_s still bounds it
                        self.settler.first = min(first, self.settler.first or first)
            if stopping:
                return

    def _handle(self, batch: Pending, force: bool) -> bool:
        """Checkpoint a settled burst; ``False`` when it must wait for git."""
        if not batch.relevant and not self._relevant(batch.paths):
            return True
        if not force and (self.repo.git_dir / "index.lock").exists():
            return False
        try:
            sha, taken = checkpoint_if_changed(self.repo, REASON)
        except RecoverError as exc:
            self.report(f"checkpoint failed: {exc.message}")
            return True
        if taken:
            self.checkpoints += 1
            self.report(f"checkpoint {sha[:10]} ({batch.count} file events)")
        return True

    def _relevant(self, paths: set[str]) -> bool:
        """Whether any of ``paths`` is not ignored by git."""
        if not paths:
            return False
        data = b"".join(os.fsencode(p) + b"\0" for p in paths)
        env = {"GIT_DIR": str(self.repo.git_dir), "GIT_WORK_TREE": str(self.repo.toplevel)}
        found = _check_ignore(self.repo.toplevel, env, data)
        if found is None:
            return True  # git could not say: capture rather than miss a change
        return len(found) < len(paths)


def _check_ignore(toplevel: Path, env: dict[str, str], data: bytes) -> set[bytes] | None:
    """The ignored ones among the NUL-separated ``data`` paths (``git
    check-ignore --stdin -z``: exit 0 some ignored, 1 none), or ``None`` on an error."""
    result = Git(toplevel, env).run("check-ignore", "--stdin", "-z", input=data, check=False)
    if result.returncode not in (0, 1):
        return None
    return {p for p in result.stdout.split(b"\0") if p}


def watch(repo: Repo, settle_s: float, max_wait_s: float, report: Callable[[str], None],
          on_start: Callable[[Watcher], None]) -> Watcher:
    """Watch ``repo`` and block until the watcher's :meth:`Watcher.stop` is called.

    Args:
        repo: the worktree.
        settle_s, max_wait_s: see :class:`Watcher`.
        report: receives one line per checkpoint.
        on_start: called with the watcher once the kernel watches are in place
            (changes from then on are seen); the caller keeps it to stop it.

    Returns:
        The watcher, stopped, with its checkpoint count.

    Raises:
        RecoverError: the kernel refused the watches (the inotify limits).
    """
    from watchdog.events import (
        DirCreatedEvent,
        DirDeletedEvent,
        DirMovedEvent,
        FileAttribEvent,
        FileCreatedEvent,
        FileDeletedEvent,
        FileModifiedEvent,
        FileMovedEvent,
        FileSystemEventHandler,
    )
    from watchdog.observers.inotify import InotifyObserver

    # watchdog warns when a directory created and filled at once (mkdir -p, an
    # unpacked archive) gets its watch added twice; the watch is the same, the
    # warning would flood the log.
    warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"watchdog\.")
    watcher = Watcher(repo, settle_s, max_wait_s, report)

    class _Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            watcher.on_event(event)

    observer = InotifyObserver()
    kinds = [FileCreatedEvent, FileDeletedEvent, FileModifiedEvent, FileMovedEvent, FileAttribEvent,
             DirCreatedEvent, DirDeletedEvent, DirMovedEvent]
    try:
        observer.schedule(_Handler(), str(repo.toplevel), recursive=True, event_filter=kinds)
        observer.start()
    except OSError as exc:
        raise RecoverError(
            f"cannot watch {repo.toplevel}: {exc.strerror or exc} (inotify limits: "
            "sysctl fs.inotify.max_user_watches and fs.inotify.max_user_instances)"
        ) from None
    try:
        on_start(watcher)
        watcher.run()
    finally:
        observer.stop()
        observer.join(timeout=5)
    return watcher
