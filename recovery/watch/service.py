"""One watcher per worktree: foreground run, background start, stop and status.

A running watcher holds an exclusive ``flock(2)`` on ``<git-dir>/recovery/watch.lock``
for its whole life and describes itself in ``watch.pid`` (JSON: pid, start time,
settings, log file). The kernel releases the lock when the process dies, however
it dies, so "is a watcher running" is answered by the lock, never by a pid that
may have been reused: a ``watch.pid`` whose lock is free is the stale record of a
killed watcher, said so and removed. A background watcher writes its lines to
``<git-dir>/recovery/watch.log``.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from recovery.base.output import say
from recovery.base.errors import RecoverError
from recovery.base.fs import atomic_write
from recovery.core.lock import pid_alive
from recovery.core.repo import Repo

LOCK_FILE = "watch.lock"
PID_FILE = "watch.pid"
LOG_FILE = "watch.log"
LOG_MAX_BYTES = 1024 * 1024
START_TIMEOUT_S = 60.0  # adding the kernel watches of a 100k-file tree takes seconds
STOP_TIMEOUT_S = 60.0  # the last checkpoint of a large tree


@dataclass(frozen=True)
class WatcherInfo:
    """What ``watch.pid`` says about a watcher.

    Attributes:
        pid: its process id.
        started: when it started, ISO 8601 UTC.
        settle_s, max_wait_s: its settings, in seconds.
        log: its log file, or ``None`` in the foreground.
        running: whether it holds the lock now (``False``: a stale record).
    """

    pid: int
    started: str
    settle_s: float
    max_wait_s: float
    log: str | None
    running: bool

    def describe(self) -> str:
        """One line: pid, start time, settings and log."""
        where = f", log {self.log}" if self.log else " (in the foreground)"
        return (f"pid {self.pid}, since {self.started}, settle {self.settle_s:g} s, "
                f"at least every {self.max_wait_s:g} s{where}")


def _held(repo: Repo) -> bool:
    """Whether some process holds the watcher lock (probed without keeping it)."""
    path = repo.state_dir / LOCK_FILE
    if not path.exists():
        return False
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def read_info(repo: Repo) -> WatcherInfo | None:
    """The watcher record of ``repo``'s worktree, or ``None`` when there is none."""
    try:
        data: dict[str, Any] = json.loads((repo.state_dir / PID_FILE).read_text())
        return WatcherInfo(int(data["pid"]), str(data["started"]), float(data["settle_s"]),
                           float(data["max_wait_s"]), data.get("log"), _held(repo))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _drop_stale(repo: Repo, say: Callable[[str], None]) -> None:
    info = read_info(repo)
    if info is not None and not info.running:
        (repo.state_dir / PID_FILE).unlink(missing_ok=True)
        say(f"removed the stale record of a watcher that is no longer running (pid {info.pid}, "
            f"since {info.started})")


@contextmanager
def _exclusive(repo: Repo, settle_s: float, max_wait_s: float, log: str | None) -> Iterator[None]:
    """Hold the watcher lock and the pid record for the block.

    Raises:
        RecoverError: another watcher runs for this worktree.
    """
    repo.state_dir.mkdir(parents=True, exist_ok=True)
    handle = open(repo.state_dir / LOCK_FILE, "a")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            info = read_info(repo)
            detail = info.describe() if info else "pid unknown"
            raise RecoverError(f"a watcher is already running for this worktree ({detail}); "
                               "stop it with `git recover watch stop`") from None
        record = {"pid": os.getpid(), "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "settle_s": settle_s, "max_wait_s": max_wait_s, "log": log,
                  "toplevel": str(repo.toplevel)}
        atomic_write(repo.state_dir / PID_FILE, json.dumps(record) + "\n", durable=False)
        try:
            yield
        finally:
            (repo.state_dir / PID_FILE).unlink(missing_ok=True)
    finally:
        handle.close()  # releases the lock


def run_foreground(repo: Repo, settle_s: float, max_wait_s: float, out: TextIO, log: str | None = None) -> int:
    """Watch ``repo`` in this process until SIGTERM or SIGINT, then take a last
    checkpoint of pending changes and return.

    Args:
        out: where one line per checkpoint goes.
        log: the log file this process writes to, when started by :func:`start`.

    Returns:
        The number of checkpoints taken.

    Raises:
        RecoverError: another watcher runs for this worktree, or the kernel refused the watches.
    """
    from recovery.watch.watcher import Watcher, watch

    def log_line(line: str) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        print(f"{stamp} git-recover watch[{os.getpid()}]: {line}", file=out, flush=True)

    _drop_stale(repo, log_line)
    with _exclusive(repo, settle_s, max_wait_s, log):
        running: list[Watcher] = []
        stop_requested: list[int] = []

        def on_signal(signum: int, _frame: object) -> None:
            stop_requested.append(signum)
            for one in running:
                one.stop()

        def on_start(watcher: Watcher) -> None:
            running.append(watcher)
            if stop_requested:  # a signal arrived while the watches were being added
                watcher.stop()
            log_line(f"watching {repo.toplevel} (settle {settle_s:g} s, at least every {max_wait_s:g} s "
                "under continuous change)")

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            watcher = watch(repo, settle_s, max_wait_s, log_line, on_start)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        log_line(f"stopped; {watcher.checkpoints} checkpoint(s) taken")
        return watcher.checkpoints


def start(repo: Repo, settle_s: float, max_wait_s: float) -> WatcherInfo:
    """Start a background watcher for ``repo`` and wait until it watches.

    Raises:
        RecoverError: one runs already, or the new one did not come up (its log says why).
    """
    _drop_stale(repo, say)
    info = read_info(repo)
    if info is not None and info.running:
        raise RecoverError(f"a watcher is already running for this worktree ({info.describe()})")
    repo.state_dir.mkdir(parents=True, exist_ok=True)
    log = repo.state_dir / LOG_FILE
    if log.exists() and log.stat().st_size > LOG_MAX_BYTES:
        os.replace(log, log.with_name(LOG_FILE + ".1"))  # bounded: this run's log and the previous one
    argv = [sys.executable, "-P", "-m", "recovery", "watch", "--settle", str(settle_s),
            "--max-wait", str(max_wait_s), "--log", str(log)]
    with open(log, "a") as sink:
        try:
            child = subprocess.Popen(argv, cwd=repo.toplevel, stdin=subprocess.DEVNULL, stdout=sink,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise RecoverError(f"cannot start the watcher: {exc.strerror}") from None
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        info = read_info(repo)
        if info is not None and info.pid == child.pid and info.running and _watching(log, child.pid):
            return info
        if child.poll() is not None:
            raise RecoverError(f"the watcher exited at start (status {child.returncode}); see {log}")
        time.sleep(0.05)
    raise RecoverError(f"the watcher (pid {child.pid}) did not start watching within "
                       f"{START_TIMEOUT_S:.0f} s; see {log}")


def _watching(log: Path, pid: int) -> bool:
    """Whether the watcher ``pid`` logged that its kernel watches are in place."""
    try:
        with open(log, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - 65536))
            return f" git-recover watch[{pid}]: watching ".encode() in handle.read()
    except OSError:
        return False


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and has not exited (a zombie waiting for
    its parent to reap it has exited: ``/proc/<pid>/stat`` state ``Z``, proc(5))."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return pid_alive(pid)  # no /proc: the signal-0 probe
    return state not in ("Z", "X")


def stop(repo: Repo) -> WatcherInfo | None:
    """Stop the background watcher with SIGTERM and wait for its last checkpoint.

    Returns:
        The watcher that was stopped, or ``None`` when none was running.

    Raises:
        RecoverError: it did not stop within the timeout.
    """
    info = read_info(repo)
    if info is None or not info.running:
        _drop_stale(repo, say)
        return None
    try:
        os.kill(info.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _held(repo) or _running(info.pid):
        if time.monotonic() > deadline:
            raise RecoverError(f"the watcher (pid {info.pid}) did not stop within {STOP_TIMEOUT_S:.0f} s")
        time.sleep(0.05)
    return info
