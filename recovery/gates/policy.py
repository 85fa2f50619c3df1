"""What a gate run means, and acting on it.

Two parts:

* :func:`decide` is the policy, a pure function: the gates' results, the
  stage's limit, the operation to undo (if any) and whether that same result
  was undone once already go in; one :class:`Decision` comes out.
* :func:`validate` is the orchestrator: checkpoint the state under test, run
  the gates, journal and print them, decide, then act (mark good, say, undo).

**Undo the operation, not the user's work.** A ``restore`` gate that fails
after an operation undoes that operation (:class:`UndoPlan`): HEAD and its
branch go back to where they were and the files the operation changed are
reverted, while every local change the user had before it (staged, unstaged,
untracked) stays. Where a checkpoint of the state just before the operation
exists and nothing but the operation happened since (``git recover run``,
``commit --amend``) that checkpoint is restored; otherwise (checkout, merge,
pull, rebase) the state before is derived from what git reports and the local
changes are carried across (:func:`recovery.core.restore.revert_operation`).
When that would touch a local change, nothing is undone and the message
names the one command that would.

**Limits per stage** (:data:`STAGE_LIMITS`; docs/gates.md, "Policies per
stage"): where git holds ``index.lock`` (pre-commit, pre-merge-commit) a
restore cannot take the index without racing git, so ``restore`` blocks; a
push is refused, not undone; after a commit is made it stands (the pre-commit
gates decided), so post-commit only warns. Nothing ever happens after git has
returned the prompt: where the operation cannot be undone inside its hook (a
rebase still holds its state in post-rewrite), the message names the command.

**No loop.** An operation result that was undone once is kept the second
time (``keep``): pulling a red upstream again, or checking a red branch out
again, is how a user says they want it, to fix it.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from recovery.base.errors import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, RecoverError
from recovery.base.fs import recorded
from recovery.base.output import say
from recovery.gates.config import GateConfig
from recovery.gates.model import GateContext, GateResult, Policy
from recovery.gates.runner import GATE_ENV, run_gates
from recovery.core.checkpoint import checkpoint_or_warn, remember_failing
from recovery.core.journal import record_or_warn
from recovery.core.model import Checkpoint
from recovery.core.repo import Repo

Action = Literal["pass", "report", "warn", "block", "undo", "advise", "keep"]
_STRENGTH: dict[Policy, int] = {"warn": 0, "block": 1, "restore": 2}
# The strongest action each stage allows, whatever a gate's policy says.
STAGE_LIMITS: dict[str, Policy] = {
    "pre-commit": "block",
    "pre-merge-commit": "block",
    "pre-push": "block",
    "post-commit": "warn",
    "post-merge": "restore",
    "post-rewrite": "restore",
    "post-checkout": "restore",
    "run": "restore",
}
# Why a stage's limit is below the gate's policy (printed with the action).
_LIMIT_WHY = {
    "pre-commit": "git holds the index during a commit, so nothing is restored; the commit is refused instead",
    "pre-merge-commit": "git holds the index during a merge commit, so nothing is restored; the commit is refused",
    "pre-push": "a push is refused, never undone",
    "post-commit": "a commit is not undone once made; the pre-commit gates decide whether it is made",
}
# What git leaves behind when a hook blocks, where that is more than "nothing
# happened" (git-merge(1): a failing pre-merge-commit stops as --no-commit would).
_AFTER_BLOCK = {
    "pre-merge-commit": "git stopped before the merge commit (merge still in progress): "
                        "git merge --abort puts HEAD back",
}
UNDONE_FILE = "undone-results"
_UNDONE_KEEP = 200


@dataclass(frozen=True)
class UndoPlan:
    """How to undo the operation whose result is under test.

    Attributes:
        operation: what to call it in messages (``checkout``, ``merge``,
            ``rebase``, ``git reset --hard HEAD~1``).
        reason: the reason of the derived checkpoint (``before-<reason>``).
        before: HEAD before the operation (``None``: unborn branch).
        branch: the branch HEAD was on before it (``None``: detached).
        after: HEAD after it: the incoming commit, the loop guard's key.
        checkpoint: a checkpoint of the state just before the operation, restored
            as it is; ``None``: derive the state and carry the local changes.
        in_hook: the undo can happen now; ``False`` where git still holds the
            operation's state (post-rewrite inside a rebase).
    """

    operation: str
    reason: str
    before: str | None
    branch: str | None
    after: str | None
    checkpoint: Checkpoint | None = None
    in_hook: bool = True

    def command(self) -> str:
        """The one command that undoes the operation by hand, keeping local
        changes or refusing (git's own carry rules)."""
        if self.checkpoint is not None:
            return f"git recover restore {self.checkpoint.short}"
        if self.before is None:
            return "git recover restore good"
        if self.reason == "checkout":
            name = self.branch.removeprefix("refs/heads/") if self.branch else None
            return f"git checkout {name}" if name else f"git checkout --detach {self.before[:12]}"
        return f"git reset --keep {self.before[:12]}"


@dataclass(frozen=True)
class Validation:
    """What to validate and what a failure may do.

    Attributes:
        stage: the stage name journaled and printed (a hook name, ``run``, ``manual``).
        gate_stages: gates configured for any of these stages run (``None``: all gates).
        base: HEAD before the operation (the tdd gate's base).
        index_file: the index git handed the hook, if any.
        strongest: the strongest action allowed here (:data:`STAGE_LIMITS`);
            ``None`` only reports (a run by hand): failures give ``EXIT_FINDINGS``.
        mark_good: label the checkpoint ``good`` when every required gate passed.
        undo: how to undo the operation under test (``None``: there is none).
        interactive: stream gate output.
        use_cache: use the result cache.
    """

    stage: str
    gate_stages: tuple[str, ...] | None
    base: str | None = None
    index_file: Path | None = None
    strongest: Policy | None = "restore"
    mark_good: bool = True
    interactive: bool = False
    use_cache: bool = True
    undo: UndoPlan | None = None


@dataclass(frozen=True)
class Decision:
    """What :func:`decide` concluded.

    Attributes:
        action: ``pass``; ``report`` (a run by hand); ``warn`` (the operation
            stands); ``block`` (a pre-hook refuses it; after it, reported);
            ``undo``; ``advise`` (it cannot be undone here: the command is
            printed); ``keep`` (undone once already: kept, no loop).
        policy: the policy configured on the failing gates (the strongest), or
            ``None`` when nothing failed.
        why: why the action is weaker than the policy ("" when it is the policy).
    """

    action: Action
    policy: Policy | None = None
    why: str = ""


def decide(results: Sequence[GateResult], spec: Validation, undone_before: bool) -> Decision:
    """The policy: from the gates' results and the stage's limits to one action.

    Args:
        results: one per gate run.
        spec: the stage, its limit and the operation to undo.
        undone_before: this same operation result was undone once already.

    Returns:
        The :class:`Decision`. Pure: no I/O.
    """
    failed = [r for r in results if r.failed]
    if not failed:
        return Decision("pass")
    policy: Policy = max((r.gate.policy for r in failed), key=_STRENGTH.__getitem__)
    if spec.strongest is None:
        return Decision("report", policy)
    if _STRENGTH[policy] > _STRENGTH[spec.strongest]:
        return Decision("block" if spec.strongest == "block" else "warn", policy,
                        _LIMIT_WHY.get(spec.stage, f"{spec.stage} allows at most {spec.strongest}"))
    if policy != "restore":
        return Decision(policy, policy)
    if spec.undo is None:
        return Decision("block", policy, "there is no operation to undo")
    if not spec.undo.in_hook:
        return Decision("advise", policy, f"git still holds the {spec.undo.operation}'s state while {spec.stage} "
                                          "runs, and nothing may change after git returns")
    if undone_before:
        return Decision("keep", policy, f"this {spec.undo.operation} result was undone once already, so it is "
                                        "kept this time (no loop)")
    return Decision("undo", policy)


@dataclass(frozen=True)
class Outcome:
    """The result of :func:`validate`.

    Attributes:
        results: one per gate run.
        checkpoint: the checkpoint of the state under test (``None`` if it failed).
        action: the decision's action, ``restore`` for a done undo,
            ``restore-failed`` or ``conflict`` when it could not be done.
        exit_code: ``EXIT_OK`` (passed or warned), ``EXIT_FINDINGS`` (a gate
            failed and was blocked, undone or reported) or ``EXIT_ERROR`` (an undo
            was needed and failed).
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
        checkpoint = checkpoint_or_warn(repo, spec.stage)
    ctx = GateContext(repo, spec.stage, checkpoint.worktree_tree if checkpoint else None, spec.base,
                      spec.index_file, spec.interactive, spec.use_cache)
    results = tuple(run_gates(selected, ctx))
    detect_s = time.monotonic() - started
    for result in results:
        record_or_warn(repo, "gate", gate=result.gate.name, stage=spec.stage, status=result.status,
                duration_s=round(result.duration_s, 6), tree=result.tree, required=result.gate.required,
                policy=result.gate.policy, cached=result.cached)
    if spec.strongest is not None:
        # A post-hook checks again what a pre-hook of the same operation ran
        # moments before on the same tree (post-commit, post-rewrite after
        # --amend): its cached passes were that same line a second time.
        report(results, spec.interactive, cached_passes=not spec.stage.startswith("post-"))
    key = _loop_key(spec.undo, checkpoint)
    decision = decide(results, spec, key is not None and recorded(repo.state_dir / UNDONE_FILE, key))
    if decision.action == "pass":
        # Good means every required gate passed on this tree, not just this
        # stage's: a commit whose gates all run at post-merge is not good yet.
        unrun = [g for g in gates.gates if g.required and g not in selected]
        if spec.mark_good and checkpoint is not None and not unrun:
            _mark_good(repo, checkpoint)
        return Outcome(results, checkpoint, "pass", EXIT_OK)
    if decision.action == "report":
        return Outcome(results, checkpoint, "fail", EXIT_FINDINGS)
    failed = [r for r in results if r.failed]
    incident = uuid.uuid4().hex
    record_or_warn(repo, "failure", incident=incident, kind=_kind(failed), stage=spec.stage,
            gates=[r.gate.name for r in failed], action=decision.action, policy=decision.policy,
            checkpoint=checkpoint.short if checkpoint else None)
    names = ", ".join(r.gate.name for r in failed)
    where = f"checkpoint {checkpoint.short} (#{checkpoint.number})" if checkpoint else \
        "no checkpoint (the capture failed)"
    say(f"gate {names} failed ({spec.stage}, policy {decision.policy}), detected in {detect_s:.2f} s; "
        f"the failing state is {where}")
    if checkpoint is not None:
        remember_failing(repo, checkpoint)
    if decision.action == "undo":
        assert spec.undo is not None and key is not None
        return _undo(repo, spec.undo, results, checkpoint, incident, detect_s, key)
    plan = spec.undo
    if decision.action in ("advise", "keep"):
        assert plan is not None
        say(f"the {plan.operation} stands: {decision.why}; undo it with: {plan.command()}")
        if decision.action == "advise" and plan.reason == "rebase":
            say("(`git recover run -- rebase ...` undoes a failing rebase by itself)")
        return Outcome(results, checkpoint, decision.action, EXIT_FINDINGS)
    why = f" ({decision.why})" if decision.why else ""
    if decision.action == "block" and spec.stage.startswith("pre-"):
        say(f"{spec.stage} blocked by gate {names}{why}: nothing was changed")
        if spec.stage in _AFTER_BLOCK:
            say(_AFTER_BLOCK[spec.stage])
    else:
        what = f"the {plan.operation}" if plan else ("the commit" if spec.stage == "post-commit" else "this state")
        say(f"{what} stands{': ' + decision.why if decision.why else ''}; it is not marked good")
    for result in failed:
        say(f"gate {result.gate.name}: {result.gate.advice}")
    return Outcome(results, checkpoint, decision.action, EXIT_FINDINGS if decision.action == "block" else EXIT_OK)


def _undo(repo: Repo, plan: UndoPlan, results: tuple[GateResult, ...], failing: Checkpoint | None,
          incident: str, detect_s: float, key: str) -> Outcome:
    """Undo the operation (restore its checkpoint, or carry the local changes
    back to the commit before it) and say what happened and how to keep it."""
    from recovery.core.carry import CarryConflict
    from recovery.core.restore import RestoreInterrupted, restore, revert_operation

    try:
        if plan.checkpoint is not None:
            done = restore(repo, plan.checkpoint, incident=incident)
        else:
            done = revert_operation(repo, plan.before, plan.branch, plan.reason, incident)
    except RestoreInterrupted:
        raise  # its message is the state left and the two commands that resolve it
    except CarryConflict as exc:
        say(f"the {plan.operation} was NOT undone: {exc.message}, and undoing it would change them; "
            f"undo it yourself with: {plan.command()}")
        return Outcome(results, failing, "conflict", EXIT_FINDINGS)
    except RecoverError as exc:
        say(f"the {plan.operation} could not be undone: {exc.message}; undo it with: {plan.command()}")
        return Outcome(results, failing, "restore-failed", EXIT_ERROR)
    _remember_undone(repo, key)
    total_s = done.safety_s + done.restore_s
    kept = "your local changes are as they were before it" if plan.checkpoint else "your local changes are kept"
    say(f"undid the {plan.operation} in {total_s:.2f} s (detection {detect_s:.2f} s, integrity check "
        f"{done.verify_s:.2f} s): {done.head_change or 'HEAD unchanged'}; {kept}; integrity OK, {done.verdict}")
    for line in [f"  {path}" for path in done.changed_paths] + [f"  not covered: {limit}" for limit in done.limits]:
        say(line)
    say(f"keep the {plan.operation} anyway (to fix it there): git recover undo")
    return Outcome(results, failing, "restore", EXIT_FINDINGS)


def _loop_key(plan: UndoPlan | None, failing: Checkpoint | None) -> str | None:
    """What identifies an operation's result for the loop guard: the kind of
    operation and the commit it brought in, or (HEAD unmoved) the failing tree.
    A checkout of a commit a merge brought in is another decision than pulling
    it again."""
    if plan is None:
        return None
    if plan.after and plan.after != plan.before:
        return f"{plan.reason}:{plan.after}"
    return f"{plan.reason}:{failing.worktree_tree}" if failing else None


def _remember_undone(repo: Repo, key: str) -> None:
    """Record an undone result (the newest few hundred); losing the record costs
    at most one more undo, never the operation."""
    from recovery.base.fs import record_word

    path = repo.state_dir / UNDONE_FILE
    try:
        record_word(path, key, _UNDONE_KEEP)
    except OSError as exc:
        say(f"warning: could not record the undo in {path}: {exc.strerror}")


def _kind(failed: Sequence[GateResult]) -> str:
    first = failed[0].gate
    return "links" if first.builtin == "links" else f"gate:{first.name}"


def _mark_good(repo: Repo, checkpoint: Checkpoint) -> None:
    from recovery.core.refs import set_label

    try:
        set_label(repo, "good", checkpoint)
    except RecoverError as exc:
        say(f"warning: could not mark checkpoint {checkpoint.short} good: {exc.message}")


def report(results: Sequence[GateResult], interactive: bool, cached_passes: bool = True) -> None:
    """Print one line per gate to stderr, and a failed gate's kept output when it
    was not already streamed; a pass taken from the cache only when
    ``cached_passes``."""
    for result in results:
        if result.cached and result.status == "pass" and not cached_passes:
            continue
        tag = "cached" if result.cached else f"{result.duration_s:.2f} s"
        note = " (optional)" if not result.gate.required else ""
        say(f"gate {result.gate.name}{note}: {result.status} [{tag}] {result.reason}".rstrip())
        if result.warning:
            say(f"warning: optional gate {result.gate.name} is {result.status}; the run goes on without it")
        streamed = interactive and not result.gate.builtin and not result.cached
        if result.status != "pass" and result.output and not streamed:
            sys.stderr.write(result.output if result.output.endswith("\n") else result.output + "\n")


def summary_table(results: Sequence[GateResult]) -> list[str]:
    """The ``gates run`` table: gate, severity, required, status, seconds, reason."""
    rows = [("GATE", "SEVERITY", "REQUIRED", "STATUS", "TIME", "REASON")]
    for r in results:
        rows.append((r.gate.name, r.gate.severity, "yes" if r.gate.required else "no", r.status,
                     "cached" if r.cached else f"{r.duration_s:.2f}s", r.reason))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths, strict=True)) + "  " + row[5] for row in rows]

