"""The one place that starts user programs: gates, chained hooks, the git command
``git recover run`` wraps, the man page viewer, and the processes of a drill.

(git itself, for the tool's own plumbing, is started by
:mod:`recovery.core.git` alone.)

Three ways to start a program, for three needs:

- :func:`run_process`, for a program whose verdict we wait for (a gate): its own
  process group, a timeout that kills the whole group, bounded output. Why a
  group: a test runner forks workers, and a timeout that killed only the direct
  child would leave the grandchildren running and holding the output pipe open,
  so the run would hang past its limit. The program starts as the leader of a new
  session (``setsid(2)``, which also detaches it from the terminal so Ctrl-C
  reaches git-recover, which then kills the group); on timeout the whole group
  gets SIGTERM and, 0.3 s later, SIGKILL, and the result is reported without
  waiting for the pipe to drain, so "timed out" is printed within a second of the
  limit. When the leader exits on its own, leftovers of its group are killed too:
  a gate may not leave processes running behind a commit.
- :func:`run_foreground`, for a program the user talks to (a chained hook, the
  wrapped git command): it inherits the terminal, and its exit status is
  reported as a shell reports it (128 + N for signal N).
- :func:`spawn_detached` and :func:`start_group`/:func:`kill_group`, for a
  program that must outlive us or that a drill kills on purpose.

Callers hand in the complete environment (``recovery.core.git.user_env`` strips
git-recover's internal markers); nothing here reads the repository.
"""

from __future__ import annotations

import collections
import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO, NamedTuple

from recovery.base.errors import RecoverError
from recovery.base.output import say

# Output kept in memory per program: the first HEAD_BYTES and the last TAIL_BYTES
# (the failure summary of pytest and friends is at the end); the rest is counted.
HEAD_BYTES = 16 * 1024
TAIL_BYTES = 48 * 1024
_TERM_GRACE_S = 0.3
_DRAIN_S = 0.5
_CHUNK = 8192


class ProcessOutcome(NamedTuple):
    """How a program run by :func:`run_process` ended.

    Attributes:
        returncode: exit status (negative: killed by that signal); ``None`` when it
            timed out or could not start.
        timed_out: the timeout fired and the process group was killed.
        missing: why the program could not start ("program not found: pytest"), else ``None``.
        duration_s: wall-clock seconds from start to the verdict.
        output: stdout and stderr interleaved, bounded (see :data:`HEAD_BYTES`).
        dropped_bytes: output bytes not kept in memory.
    """

    returncode: int | None
    timed_out: bool
    missing: str | None
    duration_s: float
    output: str
    dropped_bytes: int = 0


class _BoundedSink:
    """Collects a stream's bytes, keeping only its head and tail; optionally echoes
    each chunk to ``echo`` as it arrives (interactive runs)."""

    def __init__(self, echo: BinaryIO | None) -> None:
        self.head = bytearray()
        self.tail: collections.deque[bytes] = collections.deque()
        self.tail_size = 0
        self.dropped = 0
        self.echo = echo

    def feed(self, chunk: bytes) -> None:
        if self.echo is not None:
            self.echo.write(chunk)
            self.echo.flush()
        room = HEAD_BYTES - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self.tail.append(chunk)
        self.tail_size += len(chunk)
        while self.tail_size - len(self.tail[0]) >= TAIL_BYTES:
            old = self.tail.popleft()
            self.tail_size -= len(old)
            self.dropped += len(old)

    def text(self) -> str:
        middle = f"\n[... {self.dropped} bytes of output not kept ...]\n".encode() if self.dropped else b""
        return (bytes(self.head) + middle + b"".join(self.tail)).decode("utf-8", "replace")


def run_process(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    timeout_s: float,
    echo: BinaryIO | None = None,
) -> ProcessOutcome:
    """Run ``argv`` in its own process group with a timeout.

    Args:
        argv: the program and its arguments (no shell).
        cwd: working directory (the worktree's top level).
        env: the complete environment.
        timeout_s: seconds before the whole process group is killed.
        echo: a binary stream to copy output to as it arrives (``None``: quiet).

    Returns:
        The :class:`ProcessOutcome`; a program that cannot be started is reported
        in ``missing``, never raised.
    """
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
    except FileNotFoundError:
        return ProcessOutcome(None, False, f"program not found: {argv[0]}", time.monotonic() - started, "")
    except PermissionError:
        return ProcessOutcome(None, False, f"program not executable: {argv[0]}", time.monotonic() - started, "")
    sink = _BoundedSink(echo)
    assert isinstance(proc.stdout, io.BufferedReader)
    reader = threading.Thread(target=_pump, args=(proc.stdout, sink), daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=_TERM_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
    finally:
        # Whatever happened (exit, timeout, Ctrl-C in git-recover), nothing of the
        # gate's group outlives it.
        _kill_group(proc, signal.SIGKILL)
        proc.wait()
    reader.join(timeout=_DRAIN_S)
    duration_s = time.monotonic() - started
    returncode = None if timed_out else proc.returncode
    return ProcessOutcome(returncode, timed_out, None, duration_s, sink.text(), sink.dropped)


def _pump(pipe: io.BufferedReader, sink: _BoundedSink) -> None:
    # read1 returns what is there, so interactive output is echoed as it comes.
    with pipe:
        while chunk := pipe.read1(_CHUNK):
            sink.feed(chunk)


def _kill_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    kill_group(proc.pid, sig)


def kill_group(pgid: int, sig: signal.Signals = signal.SIGKILL) -> None:
    """Send ``sig`` to every process of group ``pgid``; a group that is gone, or
    not ours to signal, is left alone."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def run_foreground(argv: Sequence[str], cwd: Path, env: Mapping[str, str], input: bytes | None = None) -> int:
    """Run a user program attached to the terminal and wait for it.

    Args:
        argv: program and arguments.
        cwd: working directory.
        env: the complete environment.
        input: bytes for its stdin (a hook's stdin, read once and handed on);
            ``None`` lets it inherit git-recover's stdin.

    Returns:
        Its exit status, as a shell reports it: 127 when the program cannot be
        started, 128 + N when it was killed by signal N (subprocess says -N,
        which as our own exit status would wrap to 256 - N).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        if input is None:
            rc = subprocess.call(list(argv), cwd=cwd, env=dict(env))
        else:
            rc = subprocess.run(list(argv), cwd=cwd, env=dict(env), input=input, check=False).returncode
    except OSError as exc:
        say(f"cannot run {argv[0]}: {exc.strerror}")
        return 127
    return 128 - rc if rc < 0 else rc


def spawn_detached(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> None:
    """Start ``argv`` in a new session and do not wait for it (a hook's follow-up
    that must outlive the hook, e.g. the validation after a rebase finishes). It
    keeps stdout and stderr, so its messages reach the same terminal.

    Raises:
        RecoverError: the program could not be started.
    """
    try:
        subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        raise RecoverError(f"cannot start {argv[0]}: {exc.strerror}") from None


def start_group(argv: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``argv`` as the leader of a new process group, output discarded, and
    return at once: for a process that a drill kills on purpose with
    :func:`kill_group`, so that its children (git) die with it as in a crash.

    Raises:
        RecoverError: the program could not be started.
    """
    try:
        return subprocess.Popen(list(argv), cwd=cwd, env=None if env is None else dict(env),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        raise RecoverError(f"cannot start {argv[0]}: {exc.strerror}") from None


def run_captured(argv: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
    """Run ``argv`` to its end with stdin closed and its output captured.

    Returns:
        ``(exit status, stdout, stderr)``, the texts decoded as UTF-8 (bad bytes
        replaced); the status as :func:`run_foreground` reports it.

    Raises:
        RecoverError: the program could not be started.
    """
    try:
        done = subprocess.run(list(argv), cwd=cwd, env=None if env is None else dict(env),
                              stdin=subprocess.DEVNULL, capture_output=True, check=False)
    except OSError as exc:
        raise RecoverError(f"cannot start {argv[0]}: {exc.strerror}") from None
    rc = done.returncode
    return (128 - rc if rc < 0 else rc, done.stdout.decode("utf-8", "replace"),
            done.stderr.decode("utf-8", "replace"))
