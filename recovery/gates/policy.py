"""Deciding what a gate run means, and acting on it.

One validation, in order:

1. Checkpoint the state under test (unless the caller already has), so the
   failing state is never lost and the gates' cache key is the exact tree.
2. Run the stage's gates (:func:`recovery.gates.runner.run_gates`).
3. Every required gate passed: the checkpoint becomes *good* (label ``good``),
   when the stage marks good.
4. A required gate failed: its policy decides; the strongest wins
   (``restore`` > ``block`` > ``warn``). ``restore`` restores the ``good``
   checkpoint with the core's verified restore, whose safety checkpoint (label
   ``undo``) holds the failing state, and prints how long detection, restore and
   the integrity check took and the one command that brings the failing state
   back (``git recover undo``).

Where git holds ``index.lock`` (pre-commit, pre-merge-commit, githooks(5)) a
restore cannot take the index without racing git, and inside pre-commit's stash
window the framework's patch re-apply would undo it; there ``restore`` acts as
``block``: the operation is refused, nothing is half-done, and the message names
``git recover restore good``. docs/gates.md explains the decision.

Every step is journaled (``gate``, ``failure``; the core journals ``restore``).
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recovery.base.errors import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, RecoverError
from recovery.base.output import say
from recovery.gates.config import GateConfig
from recovery.gates.model import GateContext, GateResult, Policy
from recovery.gates.runner import GATE_ENV, run_gates
from recovery.core.journal import record_or_warn
from recovery.core.model import Checkpoint
from recovery.core.repo import Repo

_STRENGTH: dict[Policy, int] = {"warn": 0, "block": 1, "restore": 2}
# What git leaves behind when a hook blocks, where that is more than "nothing
# happened" (git-merge(1): a failing pre-merge-commit stops as --no-commit would).
_AFTER_BLOCK = {
    "pre-merge-commit": "git stopped before the merge commit (merge still in progress): "
                        "git merge --abort puts HEAD back",
}


@dataclass(frozen=True)
class Validation:
    """What to validate and what a failure may do.

    Attributes:
        stage: the stage name journaled and printed (a hook name, ``run``, ``manual``).
        gate_stages: gates configured for any of these stages run (``None``: all gates).
        base: HEAD before the operation (the tdd gate's base).
        index_file: the index git handed the hook, if any.
        strongest: the strongest action allowed here (``block`` where git holds the
            index lock, ``warn`` where git cannot be stopped any more and a restore
            would not be wanted, e.g. post-commit); ``None`` only reports (a run by
            hand): failures give ``EXIT_FINDINGS`` and nothing else.
        mark_good: label the checkpoint ``good`` when every required gate passed.
        came_from: the branch (``refs/heads/...``) an operation moved HEAD off,
            e.g. a checkout; a restore goes back to that branch's last good
            state rather than to the last good state of the branch checked out.
        interactive: stream gate output.
        use_cache: use the pass cache.
    """

    stage: str
    gate_stages: tuple[str, ...] | None
    base: str | None = None
    index_file: Path | None = None
    strongest: Policy | None = "restore"
    mark_good: bool = True
    interactive: bool = False
    use_cache: bool = True
    came_from: str | None = None


@dataclass(frozen=True)
class Outcome:
    """The result of :func:`validate`.

    Attributes:
        results: one per gate run.
        checkpoint: the checkpoint of the state under test (``None`` if it failed).
        action: ``pass``, ``fail`` (reported only), ``warn``, ``block``, ``restore``
            (done) or ``restore-failed``.
        exit_code: ``EXIT_OK``, ``EXIT_FINDINGS`` (blocked or restored) or
            ``EXIT_ERROR`` (a restore was needed and could not be done).
    """

    results: tuple[GateResult, ...]
    checkpoint: Checkpoint | None
    action: str
    exit_code: int


def validate(repo: Repo, spec: Validation, gates: GateConfig,
             checkpoint: Checkpoint | None = None) -> Outcome:
    """Checkpoint, run the gates, then mark good or act on the failure.

    Args:
        repo: the worktree.
        spec: the stage and its limits.
        gates: the effective gate configuration.
        checkpoint: the state under test when the caller has just taken it.

    Returns:
        The :class:`Outcome`. Expected failures are printed and returned, not raised.
    """
    inside = os.environ.get(GATE_ENV)
    if inside:
        say(f"gates not run: this runs inside gate {inside}, which is running them already")
        return Outcome((), checkpoint, "pass", EXIT_OK)
    started = time.monotonic()
    selected = [g for g in gates.gates
                if spec.gate_stages is None or any(s in g.stages for s in spec.gate_stages)]
    if checkpoint is None:
        checkpoint = take_checkpoint(repo, spec.stage)
    ctx = GateContext(repo, spec.stage, checkpoint.worktree_tree if checkpoint else None, spec.base,
                      spec.index_file, spec.interactive, spec.use_cache)
    results = tuple(run_gates(selected, ctx))
    detect_s = time.monotonic() - started
    for result in results:
        record_or_warn(repo, "gate", gate=result.gate.name, stage=spec.stage, status=result.status,
                duration_s=round(result.duration_s, 6), tree=result.tree, required=result.gate.required,
                policy=result.gate.policy, cached=result.cached)
    if spec.strongest is not None:
        report(results, spec.interactive)
    failed = [r for r in results if r.failed]
    if not failed:
        # Good means every required gate passed on this tree, not just this
        # stage's: a commit whose gates all run at post-merge is not good yet.
        unrun = [g for g in gates.gates if g.required and g not in selected]
        if spec.mark_good and checkpoint is not None and not unrun:
            _mark_good(repo, checkpoint)
        return Outcome(results, checkpoint, "pass", EXIT_OK)
    if spec.strongest is None:
        return Outcome(results, checkpoint, "fail", EXIT_FINDINGS)
    action: Policy = max((r.gate.policy for r in failed), key=_STRENGTH.__getitem__)
    if _STRENGTH[action] > _STRENGTH[spec.strongest]:
        action = spec.strongest
    incident = uuid.uuid4().hex
    _journal_failure(repo, incident, failed, spec.stage, checkpoint)
    names = ", ".join(r.gate.name for r in failed)
    where = f"checkpoint {checkpoint.short}" if checkpoint else "no checkpoint (the capture failed)"
    say(f"gate {names} failed ({spec.stage}), detected in {detect_s:.2f} s; the failing state is {where}")
    if action == "warn":
        say(f"{spec.stage} goes on (policy warn); this state is not marked good")
        return Outcome(results, checkpoint, "warn", EXIT_OK)
    if action == "block":
        from recovery.core.refs import last_good

        back = ("to go back to the last good state: git recover restore good" if last_good(repo, spec.came_from)
                else "no good checkpoint yet to go back to")
        say(f"{spec.stage} blocked by gate {names}; {back}")
        if spec.stage in _AFTER_BLOCK:
            say(_AFTER_BLOCK[spec.stage])
        return Outcome(results, checkpoint, "block", EXIT_FINDINGS)
    return _restore_good(repo, results, checkpoint, incident, detect_s, spec.came_from)


def take_checkpoint(repo: Repo, reason: str, patch: Path | None = None) -> Checkpoint | None:
    """Checkpoint ``repo``; on failure print why and return ``None``. A checkpoint
    failure never blocks the user's git operation (docs/gates.md).

    Args:
        patch: worktree changes set aside from the disk, for the checkpoint
            (:func:`recovery.core.checkpoint.create_checkpoint`).

    Raises:
        PatchNotApplied: the checkpoint was written without ``patch``; the
            caller decides how loudly to say so.
    """
    from recovery.core.checkpoint import PatchNotApplied, create_checkpoint

    try:
        return create_checkpoint(repo, reason, patch=patch)
    except PatchNotApplied:
        raise
    except RecoverError as exc:
        say(f"warning: no {reason} checkpoint: {exc.message} (the operation goes on)")
        record_or_warn(repo, "error", stage=reason, error=exc.message)
        return None


def _restore_good(repo: Repo, results: tuple[GateResult, ...], failing: Checkpoint | None,
                  incident: str, detect_s: float, came_from: str | None) -> Outcome:
    from recovery.core.refs import last_good
    from recovery.core.restore import restore

    good = last_good(repo, came_from)
    if good is None:
        say("no good checkpoint yet (one is marked when every required gate passes); nothing restored")
        return Outcome(results, failing, "restore-failed", EXIT_ERROR)
    try:
        done = restore(repo, good, incident=incident)
    except RecoverError as exc:
        say(f"restore of the last good checkpoint {good.short} failed: {exc.message}")
        return Outcome(results, failing, "restore-failed", EXIT_ERROR)
    total_s = done.safety_s + done.restore_s
    say(f"restored the last good checkpoint {good.short} ({good.reason}) in {total_s:.2f} s "
        f"(detection {detect_s:.2f} s, integrity check {done.verify_s:.2f} s): integrity OK, {done.verdict}")
    for line in done.change_lines() + [f"  not covered: {limit}" for limit in done.limits]:
        say(line)
    say("bring the failing state back with: git recover undo")
    return Outcome(results, failing, "restore", EXIT_FINDINGS)


def _mark_good(repo: Repo, checkpoint: Checkpoint) -> None:
    from recovery.core.refs import set_label

    try:
        set_label(repo, "good", checkpoint)
    except RecoverError as exc:
        say(f"warning: could not mark checkpoint {checkpoint.short} good: {exc.message}")


def _journal_failure(repo: Repo, incident: str, failed: Sequence[GateResult], stage: str,
                     failing: Checkpoint | None) -> None:
    """The ``failure`` event: what failed, and the RPO (newest earlier checkpoint,
    its age and the files changed since) for the metrics."""
    from recovery.core.refs import list_checkpoints

    first = failed[0].gate
    kind = "links" if first.builtin == "links" else f"gate:{first.name}"
    fields: dict[str, Any] = {"incident": incident, "kind": kind, "stage": stage,
                              "gates": [r.gate.name for r in failed]}
    try:
        earlier = [cp for cp in list_checkpoints(repo) if failing is None or cp.sha != failing.sha]
    except RecoverError:
        earlier = []
    if earlier:
        previous = earlier[0]
        fields["checkpoint"] = previous.short
        fields["rpo_s"] = round(previous.age_s(failing.time if failing else None), 6)
        if failing is not None:
            changed = repo.git.run("diff-tree", "-r", "--name-only", "-z", previous.worktree_tree,
                                   failing.worktree_tree).stdout
            fields["rpo_files"] = sum(1 for name in changed.split(b"\0") if name)
    record_or_warn(repo, "failure", **fields)


def report(results: Sequence[GateResult], interactive: bool) -> None:
    """Print one line per gate to stderr, and a failed gate's kept output when it
    was not already streamed."""
    for result in results:
        tag = "cached" if result.cached else f"{result.duration_s:.2f} s"
        note = " (optional)" if not result.gate.required else ""
        say(f"gate {result.gate.name}{note}: {result.status} [{tag}] {result.reason}".rstrip())
        if result.warning:
            say(f"warning: optional gate {result.gate.name} is {result.status}; the run goes on without it")
        if result.status != "pass" and result.output and (not interactive or result.gate.builtin):
            sys.stderr.write(result.output if result.output.endswith("\n") else result.output + "\n")


def summary_table(results: Sequence[GateResult]) -> list[str]:
    """The ``gates run`` table: gate, severity, required, status, seconds, reason."""
    rows = [("GATE", "SEVERITY", "REQUIRED", "STATUS", "TIME", "REASON")]
    for r in results:
        rows.append((r.gate.name, r.gate.severity, "yes" if r.gate.required else "no", r.status,
                     "cached" if r.cached else f"{r.duration_s:.2f}s", r.reason))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths, strict=True)) + "  " + row[5] for row in rows]

