"""Running gates: the pass cache, built-in gates in process, and gate programs
through :func:`recovery.base.proc.run_process` (one process group per gate, a
timeout that kills the whole group, bounded output), and the degraded mode for
programs that are missing.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Sequence
from types import ModuleType

from recovery.base.errors import RecoverError
from recovery.base.proc import run_process
from recovery.gates.cache import CachedResult, ResultCache
from recovery.gates.model import Gate, GateContext, GateResult, Status
from recovery.core.git import user_env

# sh(1) exits 127 when it cannot find the command (POSIX "Command Search and Execution").
_SHELL_NOT_FOUND = 127
# The tdd gate's verdict depends on the change (base and index), not only on the
# tree, so only links results are cached.
CACHEABLE_BUILTINS = frozenset({"links"})


# Exported to every gate process: a gate that runs `git recover gates run`
# (`make check` calling itself) must not start the gates again, level after
# level, each in a new session its timeout cannot reach (hostile testing).
GATE_ENV = "GIT_RECOVER_GATE"


def run_gates(gates: Sequence[Gate], ctx: GateContext) -> list[GateResult]:
    """Run ``gates`` one after another on the worktree ``ctx`` describes.

    A gate that passed or failed before on the same tree with the same
    definition is not run again (:class:`~recovery.gates.cache.ResultCache`):
    one operation that reaches the gates at several stages runs each once.

    Returns:
        One :class:`GateResult` per gate, in order. Nothing is raised for a gate
        that fails, hangs or cannot start: that is its result.
    """
    cache = ResultCache(ctx.repo.common_dir / "recovery" / "gate-cache")
    results = []
    for gate in gates:
        cacheable = ctx.tree is not None and (gate.builtin is None or gate.builtin in CACHEABLE_BUILTINS)
        hit = cache.hit(gate, ctx.tree) if ctx.use_cache and cacheable and ctx.tree else None
        if hit is not None:
            reason = f"cached {hit.status} ({hit.duration_s:.2f} s)" + (f": {hit.reason}" if hit.status == "fail" else "")
            results.append(GateResult(gate, hit.status, 0.0, ctx.tree, reason, hit.output, cached=True))
            continue
        result = _run_one(gate, ctx)
        if result.status in ("pass", "fail") and cacheable and ctx.tree:
            cache.store(gate, ctx.tree, CachedResult("pass" if result.status == "pass" else "fail",
                                                     result.duration_s, result.reason, result.output))
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
