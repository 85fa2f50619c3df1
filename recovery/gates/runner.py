"""Running gate programs (issue #3): one process group per gate, a timeout that
kills the whole group, bounded output, and the degraded mode for missing programs.

Why each gate gets its own process group: a test runner forks workers, and a
timeout that killed only the direct child would leave the grandchildren running
and holding the output pipe open, so the run would hang past its limit. The gate
starts as the leader of a new session (``setsid(2)``, which also detaches it from
the terminal so Ctrl-C reaches git-recover, which then kills the group); on
timeout the whole group gets SIGTERM and, 0.3 s later, SIGKILL, and the result is
reported without waiting for the pipe to drain, so "timed out" is printed within a
second of the limit. When the leader exits on its own, leftovers of its group are
killed too: a gate may not leave processes running behind a commit.

This module is also the one place that starts *user* programs in the foreground
(a chained foreign hook, the git command wrapped by ``git recover run``): they
inherit the terminal and the environment without git-recover's internal marker
(:func:`recovery.core.git.user_env`).
"""

from __future__ import annotations

import collections
import importlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import BinaryIO

from recovery.base.errors import RecoverError
from recovery.gates.cache import PassCache
from recovery.gates.model import Gate, GateContext, GateResult, Status
from recovery.core.git import user_env

# Output kept in memory per gate: the first HEAD_BYTES and the last TAIL_BYTES
# (the failure summary of pytest and friends is at the end); the rest is counted.
HEAD_BYTES = 16 * 1024
TAIL_BYTES = 48 * 1024
_TERM_GRACE_S = 0.3
_DRAIN_S = 0.5
_CHUNK = 8192
# sh(1) exits 127 when it cannot find the command (POSIX "Command Search and Execution").
_SHELL_NOT_FOUND = 127
# The tdd gate's verdict depends on the change (base and index), not only on the
# tree, so only links results are cached.
CACHEABLE_BUILTINS = frozenset({"links"})


@dataclass(frozen=True)
class ProcessOutcome:
    """How a gate program ended.

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
    try:
        os.killpg(proc.pid, sig)
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
        print(f"git-recover: cannot run {argv[0]}: {exc.strerror}", file=sys.stderr)
        return 127
    return 128 - rc if rc < 0 else rc


# Exported to every gate process: a gate that runs `git recover gates run`
# (`make check` calling itself) must not start the gates again, level after
# level, each in a new session its timeout cannot reach (hostile testing).
GATE_ENV = "GIT_RECOVER_GATE"


def run_gates(gates: Sequence[Gate], ctx: GateContext) -> list[GateResult]:
    """Run ``gates`` one after another on the worktree ``ctx`` describes.

    A gate that passed before on the same tree with the same definition is not run
    again (:class:`~recovery.gates.cache.PassCache`).

    Returns:
        One :class:`GateResult` per gate, in order. Nothing is raised for a gate
        that fails, hangs or cannot start: that is its result.
    """
    cache = PassCache(ctx.repo.common_dir / "recovery" / "gate-cache")
    results = []
    for gate in gates:
        cached_s = cache.hit(gate, ctx.tree) if ctx.use_cache and ctx.tree else None
        if cached_s is not None:
            results.append(GateResult(gate, "pass", 0.0, ctx.tree, f"cached pass ({cached_s:.2f} s)", cached=True))
            continue
        result = _run_one(gate, ctx)
        if result.status == "pass" and ctx.tree and (gate.builtin is None or gate.builtin in CACHEABLE_BUILTINS):
            cache.store(gate, ctx.tree, result.duration_s)
        results.append(result)
    return results


def _run_one(gate: Gate, ctx: GateContext) -> GateResult:
    if gate.builtin is not None:
        started = time.monotonic()
        try:
            verdict = _builtin(gate.builtin).run(gate, ctx)
        except RecoverError as exc:
            return GateResult(gate, "error", time.monotonic() - started, ctx.tree, exc.message)
        status: Status = "pass" if verdict.passed else "fail"
        return GateResult(gate, status, time.monotonic() - started, ctx.tree, verdict.reason, verdict.output)
    argv = ("/bin/sh", "-c", gate.command[0]) if gate.shell else gate.command
    echo = sys.stderr.buffer if ctx.interactive else None
    env = {**user_env(), GATE_ENV: gate.name}
    outcome = run_process(argv, ctx.repo.toplevel, env, gate.timeout_s, echo)
    if outcome.missing is not None or (gate.shell and outcome.returncode == _SHELL_NOT_FOUND):
        reason = outcome.missing or f"command not found by the shell: {gate.command[0]}"
        return GateResult(gate, "unavailable", outcome.duration_s, ctx.tree, reason, outcome.output)
    if outcome.timed_out:
        reason = f"timed out after {gate.timeout_s:g} s; its process group was killed"
        return GateResult(gate, "timeout", outcome.duration_s, ctx.tree, reason, outcome.output)
    if outcome.returncode == 0:
        return GateResult(gate, "pass", outcome.duration_s, ctx.tree, "exit 0", outcome.output)
    code = outcome.returncode
    reason = f"killed by signal {-code}" if code is not None and code < 0 else f"exit {code}"
    return GateResult(gate, "fail", outcome.duration_s, ctx.tree, reason, outcome.output)


def _builtin(name: str) -> ModuleType:
    return importlib.import_module(f"recovery.gates.builtin.{name}")


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
