"""Restoring a checkpoint: safety checkpoint, intent record, the switch, the check.

The order (docs/design.md has what a crash at each step leaves):

1. Refuse, before anything changes, what cannot be represented: a rebase, ``git
   am`` or cherry-pick sequence in progress, git's ``index.lock`` held by
   another process, or an interrupted restore that was never resolved.
2. Take a *safety checkpoint* of the current state and point the ``undo`` label
   at it: every file the restore will replace or delete is now in a ref.
3. Write the intent record (:mod:`recovery.core.intent`).
4. Take git's ``index.lock`` and hold it until step 5 has installed the new
   index, as ``git checkout`` does. Switch the worktree with a two-tree
   ``git read-tree -m -u <now> <target>``
   in the safety capture's temporary index: git touches only the paths that
   differ, refuses to overwrite untracked or ignored files, and never deletes a
   file that is not in ``<now>`` (so ignored files are never touched).
5. Build the target index in the same temporary index with a one-tree
   ``read-tree -m`` (which keeps the stat data of unchanged entries, so git does
   not rehash the tree afterwards), put the unmerged stages back, and install it
   under git's own lock protocol (write the held lock file, fsync, rename).
6. Move HEAD and the branch (compare-and-swap), write or remove the merge state
   files.
7. The timed integrity check (:func:`recovery.core.integrity.check_switch`):
   every file the switch wrote re-hashed, every other file's stat data checked,
   no extra file on disk, and the index tree, HEAD and branch compared.
8. Remove the intent record.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn

from recovery.core.capture import (
    OPERATION_NOTE,
    OPERATIONS_IN_PROGRESS,
    STATE_FILES,
    capture,
    capture_workdir,
    content_differs,
    date_back_index,
    shown_paths,
)
from recovery.core.carry import carried_state
from recovery.core.checkpoint import publish_state, take
from recovery.core.config import GitConfig
from recovery.base.errors import RecoverError, UsageError
from recovery.base.fs import atomic_write, fsync_dir
from recovery.base.output import clean, note, quote_path, summarize, warn
from recovery.core.git import Git, GitCommandError
from recovery.core.integrity import (
    IntegrityError,
    StateVerdict,
    SwitchedIndex,
    check_switch,
    checkpoint_state,
    covered_by,
    files_under,
    is_node,
    ready_switched_index,
    listed_access_problems,
    raw_tree_diff,
    state_of,
    tree_diff,
    tree_paths,
    verify_objects,
)
from recovery.core.intent import clear_intent, now_iso, read_intent, write_intent
from recovery.core.journal import record_or_warn
from recovery.core.lock import pid_alive, repo_lock
from recovery.core.model import Capture, Checkpoint, Intent, RestorePhase, TargetState
from recovery.core.refs import delete_ref, label_ref, load, read_head, resolve_commit, resolve, set_label, update_ref
from recovery.core.repo import Repo
from recovery.core.sparse import cone_excludes, skip_worktree_paths


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did.

    Attributes:
        target: the checkpoint restored (for ``--abort``, the safety checkpoint).
        safety: the checkpoint holding the state the restore replaced (``None``
            for a dry run).
        changed_paths: ``STATUS path`` lines of the worktree change.
        head_change: a sentence when HEAD or the branch moves, else ``None``.
        safety_s: seconds taken by the safety checkpoint.
        restore_s: seconds taken by the switch (worktree, index, HEAD).
        verify_s: seconds taken by the integrity check.
        dry_run: nothing was changed.
        limits: what the integrity check could not prove (:attr:`StateVerdict.limits`).
        access_given: ``(path, mode before)`` of each file or directory its
            owner could not use, given the mode a fresh checkout would.
        undo_kept: the restore changed nothing, so ``undo`` was left where the
            last restore that changed something put it (if any).
    """

    target: Checkpoint
    safety: Checkpoint | None
    changed_paths: tuple[str, ...]
    head_change: str | None
    safety_s: float = 0.0
    restore_s: float = 0.0
    verify_s: float = 0.0
    dry_run: bool = False
    limits: tuple[str, ...] = ()
    access_given: tuple[tuple[str, int], ...] = ()
    undo_kept: bool = False

    @property
    def verdict(self) -> str:
        """``byte-identical``, or what the check covered when it has limits."""
        return StateVerdict(True, limits=self.limits).summary()

    def change_lines(self) -> list[str]:
        """What changed: ``  STATUS path`` lines and the HEAD move, indented."""
        out = [f"  {line}" for line in summarize(self.changed_paths)] or ["  (no file changes)"]
        if self.access_given:
            # A mode change alone is no change of content, so no line above names it.
            given = [f"{quote_path(path)} (was {mode:03o})" for path, mode in self.access_given]
            more = f" and {len(given) - 5} more" if len(given) > 5 else ""
            out.append(f"  owner access given back: {', '.join(given[:5])}{more}")
        return out + ([f"  {self.head_change}"] if self.head_change else [])

    def lines(self) -> list[str]:
        """A human summary: what changed, the timings in ms, and the verdict."""
        verb = "would restore" if self.dry_run else "restored"
        number = f"#{self.target.number}, " if self.target.number else ""
        out = [f"{verb} checkpoint {self.target.short} ({number}{self.target.reason}, "
               f"{self.target.time:%Y-%m-%d %H:%M:%S} UTC)"]
        out += self.change_lines()
        if self.dry_run:
            return out
        safety = "- (" if self.safety is None else f"{self.safety.short} (#{self.safety.number}, " + (
            "it already held the state, " if self.safety.unchanged else "")
        out.append(
            f"safety checkpoint {safety}"
            f"{self.safety_s * 1000:.0f} ms), restore {self.restore_s * 1000:.0f} ms, "
            f"integrity check {self.verify_s * 1000:.0f} ms: OK, {self.verdict}"
        )
        out += [f"  not covered: {limit}" for limit in self.limits]
        if self.safety is not None and self.safety.reason == "restore-abort":
            # Not the state before the aborted restore: that is what this gave back.
            out.append("undo with: git recover undo (it brings back the half-restored state --abort replaced)")
        elif self.undo_kept:
            out.append("nothing to undo: `git recover undo` still goes to the state before the last restore "
                       "that changed something, if any")
        else:
            out.append("undo with: git recover undo")
        return out


def restore(
    repo: Repo,
    target: Checkpoint,
    paths: Sequence[str] = (),
    dry_run: bool = False,
    incident: str | None = None,
) -> RestoreResult:
    """Restore HEAD, the index and the worktree to ``target``, verified.

    Args:
        repo: the worktree.
        target: the checkpoint to restore.
        paths: pathspecs (relative to the top level) limiting the restore; HEAD
            and the branch are left alone then.
        dry_run: only compute what would change.
        incident: id of the failure this restore answers, for the journal.

    Returns:
        A :class:`RestoreResult` with timings in seconds.

    Raises:
        RecoverError: refused before any change (busy repository, unresolved
            interrupted restore, untracked file in the way), or a git step failed
            (the intent record then stays for ``--continue``/``--abort``).
        IntegrityError: the restored state differs from the checkpoint.
    """
    repo = _git_dies_with_us(repo)
    with repo_lock(repo), capture_workdir(repo, "restore") as workdir, _interruptible(repo):
        _refuse_if_busy(repo)
        for line in target.notes:
            if line.startswith(OPERATION_NOTE):
                warn(f"checkpoint {target.short} was {line}")
        config = GitConfig.load(repo.git)
        if dry_run:
            now = capture(repo, workdir, config)
            plan = _plan(repo, now, target, paths, workdir)
            _preflight(repo, now, plan, (target.worktree_tree, target.index_tree))
            return RestoreResult(target, None, tree_diff(repo, now.worktree_tree, plan.worktree_tree),
                                 _head_change(now, plan), dry_run=True)
        started = time.perf_counter()
        planned: list[TargetState] = []

        def refuse_early(snap: Capture) -> None:
            # A restore refused here (a path that matches nothing, a file in
            # the way) changed nothing: no safety checkpoint, no journal entry,
            # so a typo is not counted as an interrupted restore.
            planned.append(_leave_racing(repo, snap, _plan(repo, snap, target, paths, workdir), workdir))
            _preflight(repo, snap, planned[0], (target.worktree_tree, target.index_tree))

        safety, now = take(repo, "restore-safety", f"before restore of {target.short}", workdir, config=config,
                           check=refuse_early)
        safety_s = time.perf_counter() - started
        plan = planned[0]
        record_or_warn(repo, "restore", phase="start", target=target.short, incident=incident)
        # A restore that changes nothing keeps `undo` on the state before the
        # last restore that did: a second `restore last` must not lose it.
        changes = plan != state_of(now)
        intent = Intent(plan, target.sha, safety.sha, tuple(paths), now_iso(), os.getpid(), incident=incident)
        return replace(_run(repo, intent, now, target, safety, safety_s, workdir, config,
                            undo_to=safety if changes else None), undo_kept=not changes)


def revert_operation(repo: Repo, before: str | None, branch: str | None, operation: str,
                     incident: str | None = None) -> RestoreResult:
    """Undo an operation git gives no pre-hook for (a checkout, a fast-forward
    merge or pull) or whose pre-hook state is not the state before it (a merge
    commit, a rebase): HEAD and its branch back to ``before``, the files the
    operation changed reverted, the user's local changes carried across as
    ``git checkout`` carries them (:mod:`recovery.core.carry`). The derived
    state is published as a checkpoint (reason ``before-<operation>``) and
    restored like any other: safety checkpoint (label ``undo``), intent record,
    switch, integrity check.

    Args:
        before: HEAD before the operation (``None``: an unborn branch).
        branch: the branch HEAD was on before it (``None``: detached).
        operation: ``checkout``, ``merge``, ``rebase``... (the checkpoint's reason).
        incident: the failure this answers, for the journal.

    Raises:
        CarryConflict: a local change touches a file the operation changed;
            nothing was changed and no checkpoint written.
        RecoverError: as :func:`restore`.
    """
    repo = _git_dies_with_us(repo)
    with repo_lock(repo), capture_workdir(repo, "restore") as workdir, _interruptible(repo):
        _refuse_if_busy(repo)
        config = GitConfig.load(repo.git)
        started = time.perf_counter()
        carried: list[TargetState] = []

        def derive(snap: Capture) -> None:
            carried.append(carried_state(repo, workdir, snap, before, branch))
            carried[0] = _leave_racing(repo, snap, _safe_head(repo, snap, carried[0]), workdir)
            _preflight(repo, snap, carried[0])

        safety, now = take(repo, "restore-safety", f"before undoing the {operation}", workdir, check=derive)
        safety_s = time.perf_counter() - started
        plan = carried[0]
        where = branch.removeprefix("refs/heads/") if branch else "a detached HEAD"
        target = publish_state(repo, before, branch, plan.index_tree, plan.worktree_tree, f"before-{operation}",
                               f"derived: {where} before the {operation}, local changes carried")
        record_or_warn(repo, "restore", phase="start", target=target.short, incident=incident)
        intent = Intent(plan, target.sha, safety.sha, (), now_iso(), os.getpid(), incident=incident)
        return _run(repo, intent, now, target, safety, safety_s, workdir, config, undo_to=safety)


class RestoreInterrupted(RecoverError):
    """Ctrl-C (SIGINT) reached a restore; the message says what state the
    worktree is in and what to run (exit status 130, as a shell reports SIGINT)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 130)


# What an interrupted restore has done, by the phase its intent record names.
_PHASE_STATE = {
    "worktree": "some or all files on disk are switched; the index may or may not be, HEAD and its branch are "
                "as before",
    "head": "the files and the index are switched; HEAD and its branch may not have moved yet",
}


@contextmanager
def _interruptible(repo: Repo) -> Iterator[None]:
    """Turn Ctrl-C inside a restore into a precise account of the state left:
    nothing changed (no intent record yet), or half-way, with the two commands
    that finish or abandon it. "aborted" alone would suggest a roll-back that
    did not happen."""
    try:
        yield
    except KeyboardInterrupt:
        try:
            intent = read_intent(repo)
        except RecoverError:
            intent = None
        if intent is None:
            raise RestoreInterrupted("restore interrupted before it changed anything: HEAD, the index and "
                                     "every file are as they were") from None
        try:
            number = f", #{load(repo, intent.safety).number}"
        except RecoverError:
            number = ""  # the message matters more than the number
        raise RestoreInterrupted(
            f"restore interrupted half-way: {_PHASE_STATE.get(intent.phase, 'the worktree is partly restored')}; "
            f"run `git recover restore --continue` to finish it, or `git recover restore --abort` to go back "
            f"to the state before it (checkpoint {intent.safety[:10]}{number})") from None


def undo(repo: Repo) -> RestoreResult:
    """Restore the safety checkpoint of the latest restore (label ``undo``).

    Undo is itself a restore, so it moves ``undo`` to a new safety checkpoint:
    running it twice returns to where the first undo started.

    Raises:
        RecoverError: no restore has happened yet; or as :func:`restore`.
    """
    return restore(repo, resolve(repo, "undo"))


def continue_restore(repo: Repo) -> RestoreResult:
    """Finish an interrupted restore: drive the worktree to its target again.

    The partial state found is checkpointed first (nothing is lost, even edits
    made after the crash, which are named with that checkpoint); ``undo`` keeps
    pointing at the original safety checkpoint.

    Raises:
        UsageError: there is no interrupted restore.
        RecoverError: as :func:`restore`.
    """
    return _resume(repo, abort=False)


def abort_restore(repo: Repo) -> RestoreResult:
    """Abandon an interrupted restore: go back to its safety checkpoint's state.

    The state found is checkpointed first and ``undo`` points at it: undoing the
    abort brings the half-switched state back, never a no-op.

    Raises:
        UsageError: there is no interrupted restore.
        RecoverError: as :func:`restore`.
    """
    return _resume(repo, abort=True)


def _resume(repo: Repo, abort: bool) -> RestoreResult:
    repo = _git_dies_with_us(repo)
    with repo_lock(repo), capture_workdir(repo, "restore") as workdir, _interruptible(repo):
        try:
            intent = read_intent(repo)
        except RecoverError:
            if not abort:
                raise
            intent = _intent_from_undo_label(repo)
        if intent is None:
            # Like `git rebase --continue` with no rebase: the option does not
            # apply here, a usage error, not a failure of the repository.
            raise UsageError("no interrupted restore to resume (`git recover status` shows the state)")
        _release_stale_locks(repo, intent)
        _refuse_if_busy(repo, resuming=True)
        config = GitConfig.load(repo.git)
        original_safety = load(repo, intent.safety)
        target = original_safety if abort else load(repo, intent.checkpoint or intent.safety)
        plan = checkpoint_state(repo, original_safety) if abort else intent.target
        started = time.perf_counter()
        word = "abort" if abort else "continue"
        safety, now = take(repo, f"restore-{word}", f"state found by restore --{word}", workdir)
        safety_s = time.perf_counter() - started
        plan = _leave_racing(repo, now, plan, workdir)
        # What the restore's own safety capture or its target left out stays as
        # it is now: this capture may hold it (the size cap raised, the file made
        # readable after the kill), and the switch deleted it with no checkpoint
        # that `undo` reaches holding it.
        left_alone_from = tuple({cp.sha: cp for cp in (target, original_safety)}.values())
        for left in left_alone_from:
            plan = _leave_skipped(repo, now, left, plan, workdir)
        _preflight(repo, now, plan)
        if not abort:
            _name_work_made_since(repo, original_safety, now, plan, safety)
        reported = original_safety
        ours = {(original_safety.head, original_safety.branch), (intent.target.head, intent.target.branch)}
        if not abort and (now.head, now.branch) not in ours:
            # HEAD is neither where the restore began nor where it was going: a
            # commit was made meanwhile, and only this new safety checkpoint
            # holds it, so `undo` points at it.
            set_label(repo, "undo", safety)
            reported = safety
            note(f"HEAD moved since the restore began; `git recover undo` now brings back "
                 f"checkpoint {safety.short}, which holds it")
        resumed = Intent(plan, target.sha, reported.sha, intent.paths, intent.started, os.getpid(),
                         incident=intent.incident)
        record_or_warn(repo, "restore", phase="resume", action=word, target=target.short, incident=intent.incident)
        # --abort is a restore back to the state before the aborted one: once it
        # is done, `undo` brings back what it replaced (the half-switched state,
        # with any edit made since the crash), never the state it returned to.
        # Not before: a killed --abort must still find the original safety
        # checkpoint in the intent record.
        return _run(repo, resumed, now, target, safety, safety_s, workdir, config,
                    safety if abort else reported, resuming=True, undo_after=safety if abort else None,
                    left_alone_from=left_alone_from)


def _name_work_made_since(repo: Repo, original: Checkpoint, now: Capture, plan: TargetState,
                          safety: Checkpoint) -> None:
    """Warn about the files ``--continue`` is about to replace that hold
    neither the state before the restore (``original``, where ``undo`` points)
    nor its target (``plan``), which only ``safety`` (the state ``--continue``
    found) holds. A new user wrote a file meanwhile, and nothing said where it
    had gone.

    A file the interrupted switch was to write may also be one it left
    half-written (a new user found an empty file named as edited, and putting
    it back would have broken a good one): those are named apart, as either.
    """
    since = _raw_paths(raw_tree_diff(repo, original.worktree_tree, now.worktree_tree))
    made = since & _raw_paths(raw_tree_diff(repo, now.worktree_tree, plan.worktree_tree))
    switched = _raw_paths(raw_tree_diff(repo, original.worktree_tree, plan.worktree_tree))
    kept = (f"checkpoint {safety.short} keeps them (`git recover restore {safety.short} -- PATHS` brings them "
            "back; `undo` goes to the state before the restore)")
    edited = sorted(made - switched)
    if edited:
        warn(f"{shown_paths(edited)}: changed while the restore was interrupted; --continue replaces them, and {kept}")
    either = sorted(made & switched)
    if either:
        warn(f"{shown_paths(either)}: neither as before the restore nor as its target: changed while it was "
             f"interrupted, or left half-written by the interrupted switch; --continue writes the target's, and "
             f"{kept}")


def _raw_paths(raw: bytes) -> set[str]:
    """The paths of a :func:`~recovery.core.integrity.raw_tree_diff` (as ``os.fsdecode`` gives them)."""
    fields = raw.split(b"\0")
    return {os.fsdecode(path) for path in fields[1::2]}


def _git_dies_with_us(repo: Repo) -> Repo:
    """``repo`` with a runner whose git children die with this process: a
    restore killed alone must not leave a ``git read-tree`` writing files that
    the first ``--continue`` then trips over."""
    return repo._replace(git=repo.git.dying_with_parent())


# The copy of the capture's index taken right after the switch (in the work directory).
_SWITCHED = "switched-index"


# What git's read-tree -m -u says when it refuses the switch in its checks, which
# run before it writes any file (unpack_trees: merge, then update).
_REFUSED_BEFORE_WRITING = ("Cannot merge", "would be overwritten", "would lose untracked files")


class _NothingChanged(RecoverError):
    """git refused the worktree switch before writing anything."""


def _stopped(repo: Repo, target: Checkpoint, intent: Intent, exc: RecoverError) -> NoReturn:
    """Journal a restore that stopped half-way and say how to go on."""
    record_or_warn(repo, "restore", phase="end", verdict="error", target=target.short,
             incident=intent.incident, error=exc.message)
    raise RecoverError(
        f"restore stopped: {exc.message}; run `git recover restore --continue` to finish it "
        "or `git recover restore --abort` to go back"
    ) from None


def _intent_from_undo_label(repo: Repo) -> Intent:
    """Stand-in for a damaged intent record on ``--abort``: every restore points
    ``undo`` at its safety checkpoint before it writes the record."""
    safety = resolve(repo, "undo")
    return Intent(checkpoint_state(repo, safety), None, safety.sha, (), now_iso(), os.getpid())


def _run(
    repo: Repo,
    intent: Intent,
    now: Capture,
    target: Checkpoint,
    safety: Checkpoint,
    safety_s: float,
    workdir: Path,
    config: GitConfig,
    reported_safety: Checkpoint | None = None,
    resuming: bool = False,
    undo_after: Checkpoint | None = None,
    left_alone_from: tuple[Checkpoint, ...] = (),
    undo_to: Checkpoint | None = None,
) -> RestoreResult:
    """Steps 3-8: intent, switch, check, clear.

    ``resuming``: a ``--continue``/``--abort``, whose worktree may be half-switched
    already; if git refuses its switch, the intent record must stay so that
    ``status`` still reports the interrupted restore. ``undo_after``: where
    ``undo`` points once the switch is done (``--abort``). ``left_alone_from``:
    the checkpoints whose skipped paths the plan left as they were (default
    ``target``), named in the result as not covered. ``undo_to``: where
    ``undo`` points from before the first file changes (the safety
    checkpoint); it points back where it was when git refuses the switch
    before writing anything.
    """
    plan = intent.target
    changes = tree_diff(repo, now.worktree_tree, plan.worktree_tree)
    head_change = _head_change(now, plan)
    undo_before = _point_undo(repo, undo_to) if undo_to is not None else None
    write_intent(repo, intent)
    started = time.perf_counter()
    try:
        access, switched = _switch_worktree_and_index(repo, now, plan, config, intent.paths)
    except _NothingChanged as exc:
        record_or_warn(repo, "restore", phase="end", verdict="error", target=target.short,
                 incident=intent.incident, error=exc.message)
        if resuming:
            # The tree is still as the interrupted restore left it: keep the record.
            raise RecoverError(f"{exc.message}; nothing more was changed and the interrupted restore is still "
                               "pending: run `git recover restore --continue` or `--abort` again") from None
        clear_intent(repo)
        if undo_to is not None:
            _point_undo_back(repo, undo_to, undo_before)
        raise RecoverError(f"{exc.message}; nothing was changed: run the restore again") from None
    except RecoverError as exc:
        _stopped(repo, target, intent, exc)
    try:
        write_intent(repo, intent._replace(phase=RestorePhase.HEAD))
        _move_head(repo, plan, target, now)
        _write_state_files(repo, plan.conflict_tree)
        access_given = access.problems()
        repaired = _repair_owner_access(repo.toplevel, access_given)
    except RecoverError as exc:
        _stopped(repo, target, intent, exc)
    restore_s = time.perf_counter() - started
    check_dir = workdir / "check"
    check_dir.mkdir()
    verdict = check_switch(repo, plan, now, switched, check_dir, config,
                           access_checked=repaired)
    shown_safety = reported_safety or safety
    # The recovery point actually restored (docs/metrics.md, RPO): how old the
    # target was when the replaced state was saved, and the files that differ
    # between the two, i.e. what the user does not keep on disk (the safety
    # checkpoint, label `undo`, still holds it).
    rpo = {"rpo_s": round(max(0.0, (safety.time - target.time).total_seconds()), 6),
           "rpo_files": len(changes)} if intent.incident else {}
    record_or_warn(repo, "restore", phase="end", target=target.short, safety=shown_safety.short,
             incident=intent.incident, duration_s=round(restore_s + safety_s, 6),
             verify_s=round(verdict.duration_s, 6), verdict="ok" if verdict.ok else "mismatch",
             changed_files=len(changes), **rpo)
    clear_intent(repo)
    if undo_after is not None:
        set_label(repo, "undo", undo_after)
    if not verdict.ok:
        listed = "; ".join(verdict.mismatches[:10])
        raise IntegrityError(
            f"integrity check FAILED after restoring {target.short}: {listed} "
            f"(the state before the restore is checkpoint {shown_safety.short}: `git recover undo`)"
        )
    left_alone = sorted({path for cp in left_alone_from or (target,) for path in _left_out_of(repo, cp)})
    limits = verdict.limits + ((f"{shown_paths(left_alone)}: left as they were (checkpoint {target.short} "
                                "did not capture them)",) if left_alone else ())
    unrestored = _not_restored(repo, intent, target, left_alone)
    limits += ((f"{shown_paths(unrestored)}: kept changing when the restore began: left as they were, "
                "not restored",) if unrestored else ())
    return RestoreResult(target, shown_safety, changes, head_change, safety_s, restore_s, verdict.duration_s,
                         limits=limits, access_given=tuple(access_given))


def _point_undo(repo: Repo, safety: Checkpoint) -> str | None:
    """Point ``undo`` at ``safety``; returns the commit it pointed at before
    (``None``: unset), for :func:`_point_undo_back`."""
    before = resolve_commit(repo, label_ref(repo, "undo"))
    set_label(repo, "undo", safety)
    return before


def _point_undo_back(repo: Repo, safety: Checkpoint, before: str | None) -> None:
    """Point ``undo`` back from ``safety`` to ``before`` (unset it when ``None``):
    a restore that changed nothing must not take away the state before the
    last one that did.

    Raises:
        RecoverError: ``undo`` moved meanwhile (it is left as it is then).
    """
    ref = label_ref(repo, "undo")
    if before is None:
        delete_ref(repo, ref, safety.sha)
    else:
        update_ref(repo, ref, before, safety.sha, "recover: undo back (the restore changed nothing)")


def _not_restored(repo: Repo, intent: Intent, target: Checkpoint, left_alone: Sequence[str]) -> list[str]:
    """The files a whole-tree restore left as they were because they kept
    changing (:func:`_leave_racing`), beyond the checkpoint's own skipped
    ``left_alone`` paths: where the plan differs from the checkpoint.

    Why: the integrity check compares the worktree with the plan, so such a
    file passes it; a ``--continue`` whose plan was made while a program was
    rewriting a file called the result "byte-identical" to the checkpoint.
    """
    if intent.paths or intent.target.worktree_tree == target.worktree_tree:
        return []
    fields = raw_tree_diff(repo, target.worktree_tree, intent.target.worktree_tree).split(b"\0")
    return [path for path in (os.fsdecode(raw) for raw in fields[1::2]) if not covered_by(path, left_alone)]


def _plan(repo: Repo, now: Capture, target: Checkpoint, paths: Sequence[str], workdir: Path) -> TargetState:
    """The state to reach: the checkpoint's, or for a path-limited restore the
    current state with the named paths taken from the checkpoint; either way
    with what the checkpoint left out as it is now (:func:`_leave_skipped`)."""
    return _leave_skipped(repo, now, target, _planned(repo, now, target, paths, workdir), workdir)


# Why a checkpoint left a path out when the path's absence from its tree says
# nothing about the file: an untracked file or directory, or a tracked file its
# user may not read ("unreadable-file"). A FIFO at a tracked path keeps its
# index entry, and is handled where the switch writes it.
_LEFT_OUT = frozenset({"size", "unreadable", "unreadable-file", "nested-repo-without-commits"})


def _leave_skipped(repo: Repo, now: Capture, target: Checkpoint, plan: TargetState, workdir: Path) -> TargetState:
    """The plan with every path the checkpoint left out (over the size cap,
    unreadable, a nested repository without commits) as it is now. Its
    absence from the checkpoint's tree means "not captured", not "absent": a
    restore deleted such a file once it was readable again, and called the
    result byte-identical. Said on stderr."""
    left_out = _left_out_of(repo, target)
    if not left_out:
        return plan
    note(f"{shown_paths(left_out)} not captured by checkpoint {target.short} (skipped when it was taken): "
         "left as they are")
    literal = [f":(literal){path}" for path in left_out]
    return plan._replace(worktree_tree=_mix(repo, workdir, "skipped", plan.worktree_tree, now.worktree_tree,
                                            literal))


def _left_out_of(repo: Repo, target: Checkpoint) -> list[str]:
    """The paths ``target`` skipped (see :data:`_LEFT_OUT`), except
    any its worktree tree holds, or holds files under: a skipped record that
    names a path the checkpoint has is wrong (once, a directory named
    ``src': old`` was recorded as ``src``), and must not keep the checkpoint's
    own files from being restored."""
    left_out = [item.path for item in target.skipped if item.reason in _LEFT_OUT]
    if not left_out:
        return []
    held = repo.git.run("ls-tree", "-r", "-z", "--name-only", target.worktree_tree, "--",
                        *[f":(literal){path}" for path in left_out]).stdout.split(b"\0")
    held_paths = [os.fsdecode(path) for path in held if path]
    return [path for path in left_out if not any(covered_by(other, [path]) for other in held_paths)]


def _planned(repo: Repo, now: Capture, target: Checkpoint, paths: Sequence[str], workdir: Path) -> TargetState:
    """:func:`_plan` before the checkpoint's skipped paths are left alone."""
    if not paths:
        return _safe_head(repo, now, checkpoint_state(repo, target))
    worktree_tree = _mix(repo, workdir, "worktree", now.worktree_tree, target.worktree_tree, paths)
    # A path that was unmerged in the checkpoint has no stage-0 entry there;
    # it keeps its current index entry rather than being dropped from the index.
    unmerged: set[bytes] = set()
    if target.conflict_commit:
        listing = repo.git.run("ls-tree", "-r", "-z", "--name-only", f"{target.conflict_commit}^{{tree}}").stdout
        unmerged = {p.partition(b"/")[2] for p in listing.split(b"\0") if p.startswith(b"stage")}
    index_tree = _mix(repo, workdir, "index", now.index_tree, target.index_tree, paths, keep=unmerged)
    current = state_of(now)
    return TargetState(current.head, current.branch, index_tree, worktree_tree, current.conflict_tree)


def _leave_racing(repo: Repo, now: Capture, plan: TargetState, workdir: Path) -> TargetState:
    """The plan with every file that kept changing during the safety capture
    left as it is on disk: a log a program keeps appending to would make git
    refuse the switch every time ("not uptodate"), and overwriting it would
    drop what was written after the safety checkpoint read it. Said on stderr."""
    if not now.racing:
        return plan
    note(f"{shown_paths(list(now.racing))} kept changing (a program is writing to them): left as they are, "
         "not restored")
    literal = [f":(literal){path}" for path in now.racing]
    return plan._replace(worktree_tree=_mix(repo, workdir, "racing", plan.worktree_tree, now.worktree_tree, literal))


def _safe_head(repo: Repo, now: Capture, plan: TargetState) -> TargetState:
    """Keep a restore from taking commits away from a branch it cannot account for.

    Rewinding the *current* branch is safe: its tip is the first parent of the
    safety checkpoint (an undo after `commit --amend` needs it; git-branchless #392). Another branch that has moved
    since the checkpoint, or is checked out in another worktree, is left alone
    and HEAD is detached at the recorded commit instead: moving it would leave
    its newer commits reachable from no branch and no checkpoint.

    A branch that was unborn at the checkpoint and has commits now is never
    deleted (its commits would then live only in a safety checkpoint that ``gc``
    may drop): on the current branch, HEAD stays at its tip and only the index
    and the worktree are restored.

    Raises:
        RecoverError: the checkpoint was taken on an unborn branch that now has
            commits and is not the current branch (nothing to detach to).
    """
    if plan.branch is None:
        return plan
    if plan.branch == now.branch:
        if plan.head is None and now.head is not None:
            name = plan.branch.removeprefix("refs/heads/")
            note(f"the checkpoint was taken before the first commit on {name}; {name} keeps its commits "
                 f"and HEAD stays at {now.head[:10]}: only the index and the files are restored")
            return plan._replace(head=now.head)
        return plan
    value = resolve_commit(repo, plan.branch)
    elsewhere = _checked_out_elsewhere(repo, plan.branch)
    if value in (None, plan.head) and not elsewhere:
        return plan
    name = plan.branch.removeprefix("refs/heads/")
    if plan.head is None:
        raise RecoverError(f"the checkpoint was taken on the unborn branch {name}, which has commits now; "
                           f"switch to {name} first if you mean to empty it")
    why = f"is checked out in {elsewhere}" if elsewhere else "has moved since the checkpoint"
    note(f"branch {name} {why}; leaving it alone and detaching HEAD at {plan.head[:10]}")
    return plan._replace(branch=None)


def _checked_out_elsewhere(repo: Repo, branch: str) -> str | None:
    """The path of another worktree that has ``branch`` checked out, if any."""
    listing = repo.git.run("worktree", "list", "--porcelain", "-z").stdout.decode("utf-8", "surrogateescape")
    path = None
    for field in listing.split("\0"):
        if field.startswith("worktree "):
            path = field.removeprefix("worktree ")
        elif field == f"branch {branch}" and path is not None and Path(path) != repo.toplevel:
            return path
    return None


def _mix(repo: Repo, workdir: Path, name: str, base: str, source: str, paths: Sequence[str],
         keep: set[bytes] | None = None) -> str:
    """``base`` with every entry matching ``paths`` replaced by ``source``'s
    (entries in ``keep`` that ``source`` lacks stay as in ``base``).

    Raises:
        RecoverError: the pathspecs match nothing in either tree.
    """
    source_git = repo.git.with_index(workdir / f"{name}-source")
    source_git.run("read-tree", source)
    picked = source_git.run("ls-files", "-s", "-z", "--", *paths).stdout
    mixed_git = repo.git.with_index(workdir / f"{name}-mixed")
    mixed_git.run("read-tree", base)
    present = mixed_git.run("ls-files", "-z", "--", *paths).stdout
    if not picked and not present and name == "worktree":
        raise UsageError(f"no file matches {' '.join(paths)} in the checkpoint or the worktree")
    removals = b"".join(b"0 %s\t%s\0" % (repo.object_format.null_id.encode(), p) for p in present.split(b"\0")
                        if p and p not in (keep or set()))
    if removals or picked:
        mixed_git.run("update-index", "-z", "--index-info", input=removals + picked)
    return mixed_git.text("write-tree")


def _switch_worktree_and_index(repo: Repo, now: Capture, plan: TargetState, config: GitConfig,
                               paths: Sequence[str]) -> tuple[_AccessWalk, SwitchedIndex]:
    """Steps 5-6 under git's ``index.lock``, held from before the first file
    changes until the new index is in place, as ``git checkout`` and ``reset
    --hard`` hold it: a ``git commit -a`` started meanwhile fails at once instead
    of committing a half-switched tree (hostile testing). Returns the owner-access
    walk of the switched worktree, still running, and the switched index being
    readied for the integrity check.

    Raises:
        _NothingChanged: the lock is taken or git refused before writing a file.
        GitCommandError: a git step failed part-way (the intent record stays).
    """
    lock = _lock_index(repo)
    try:
        git = repo.git.with_index(now.index_file)
        _refuse_if_changed_since_capture(repo, now, plan)
        sparse = _keep_sparse(repo, now, plan, config)
        _remove_special_nodes(repo, now, plan)
        # The paths the switch leaves in place, listed from the target tree
        # while git still reads the index.
        listing = repo.trees_git.start("ls-tree", "-r", "-z", "--name-only", "--full-tree", plan.worktree_tree)
        # --no-sparse-checkout: switch exactly the paths that differ; applying
        # the sparse patterns here would delete a file present outside the
        # cone, which the checkpoint holds and git status shows (hostile testing).
        switching = git.start("read-tree", "--no-sparse-checkout", "-m", "-u", now.worktree_tree,
                              plan.worktree_tree)
        try:
            access = _AccessWalk(repo.toplevel, listing.wait().stdout, _written(repo, now, plan))
        finally:
            switching.wait(check=False)  # whatever happened, git is done writing files
        try:
            switching.wait()  # the same result, checked
        except GitCommandError as exc:
            # git checks every path before it writes one (unpack_trees: merge,
            # then update); these refusals mean nothing on disk changed.
            if any(said in exc.stderr for said in _REFUSED_BEFORE_WRITING):
                raise _NothingChanged(f"a file changed while the restore ran ({exc.message})") from None
            raise
        access.written(_replace_special_files(repo, now, paths))
        # What the switch wrote, with its stat data, for the integrity check.
        shutil.copy2(now.index_file, now.index_file.parent / _SWITCHED)
        switched = ready_switched_index(repo, plan, now, now.index_file.parent / _SWITCHED)
        _stage_index_tree(repo, git, plan, sparse)
        if plan.conflict_tree:
            _put_back_stages(repo, now.index_file, plan.conflict_tree)
        _install_index(repo, now.index_file, lock, now.hashed_after_ns)
    except BaseException:
        # Like git on an error: the lock goes, the files written stay (the
        # intent record says how to finish). A SIGKILL leaves the lock, which
        # `--continue` removes once this process is gone.
        lock.unlink(missing_ok=True)
        raise
    return access, switched


def _refuse_if_changed_since_capture(repo: Repo, now: Capture, plan: TargetState) -> None:
    """Refuse the switch when a file it replaces or deletes changed after the
    safety capture began (its change time is at or after the capture's hash
    marker): the checkpoint may not hold what is on disk now.

    Why: git decides that a file is unchanged from its stat data, in whole
    seconds. A file rewritten at its size within the second the capture read
    it, its mtime then set back (``cp -p``, ``touch -r``, an unpacker), kept
    matching stat data; ``read-tree -m -u`` overwrote it, and no checkpoint
    held its bytes (hostile testing). Its change time cannot be set back.

    Raises:
        _NothingChanged: naming the files; nothing was written.
    """
    if now.hashed_after_ns is None:
        return
    changed: list[str] = []
    same_tick: list[tuple[str, str]] = []
    fields = raw_tree_diff(repo, now.worktree_tree, plan.worktree_tree).split(b"\0")
    for meta, raw in zip(fields[::2], fields[1::2]):
        old_mode, _, old_blob, _, _ = meta.lstrip(b":").decode().split(" ")
        path = os.fsdecode(raw)
        if old_mode == "000000":
            continue  # not in the checkpoint: the preflight refused any file in the way
        try:
            info = os.lstat(repo.toplevel / path)
        except OSError:
            continue  # gone: git removes nothing that is not there, and writes what the target holds
        if info.st_ctime_ns > now.hashed_after_ns:
            changed.append(path)
        elif info.st_ctime_ns == now.hashed_after_ns:
            if old_mode in ("100644", "100755") and "\n" not in path:
                # The marker's own clock tick: possibly written just before the
                # capture began; the content decides, as in the capture's race check.
                same_tick.append((path, old_blob))
            else:
                changed.append(path)
    changed += content_differs(repo.git, same_tick)
    if changed:
        raise _NothingChanged(f"{shown_paths(changed)} changed after the safety checkpoint read them")


def _written(repo: Repo, now: Capture, plan: TargetState) -> list[bytes]:
    """The raw paths the switch writes a file at (new content or mode)."""
    fields = raw_tree_diff(repo, now.worktree_tree, plan.worktree_tree).split(b"\0")
    return [path for meta, path in zip(fields[::2], fields[1::2])
            if meta.split(b" ")[1] not in (b"000000", b"160000")]


def _stage_index_tree(repo: Repo, git: Git, plan: TargetState, sparse: bool) -> None:
    """Turn the switched temporary index (``git``'s; it holds the target's
    worktree tree, with the stat data of the switch) into the target's index
    tree, keeping the stat data of every entry the two trees share.

    The entries where the two trees differ (the target's unstaged changes
    and the untracked files it held) are set or removed through one
    ``update-index --index-info``: at 80k files 25-30 ms, where ``read-tree -m -i``
    of the index tree took 85-100 ms walking all 80k entries. With skip-worktree
    entries (``sparse``) that merge stays: it carries the bit over to a changed
    entry, where ``--index-info`` would drop it and git would take the file
    for deleted. Either way the integrity check compares the installed index
    with the target's index tree.
    """
    if sparse:
        # -i: this merge writes no file, so git must not check the disk (a
        # file a program keeps writing is "not uptodate" for ever).
        git.run("read-tree", "-m", "-i", plan.index_tree)
        return
    fields = raw_tree_diff(repo, plan.worktree_tree, plan.index_tree).split(b"\0")
    entries: list[bytes] = []
    for meta, path in zip(fields[::2], fields[1::2]):
        _, mode, _, oid, _ = meta.split(b" ")  # ":old_mode new_mode old_id new_id status"
        if mode == b"000000":  # not in the index tree: mode 0 drops the entry
            mode, oid = b"0", repo.object_format.null_id.encode()
        entries.append(b"%s %s\t%s" % (mode, oid, path))
    if entries:
        git.run("update-index", "-z", "--index-info", input=b"\0".join(entries) + b"\0")


def _keep_sparse(repo: Repo, now: Capture, plan: TargetState, config: GitConfig) -> bool:
    """Give the entries the switch must not write to disk their target content
    in the temporary index first, with the skip-worktree bit, so ``read-tree -m
    -u`` finds them already switched and leaves the disk alone. Returns whether
    the switched index holds entries with the bit.

    Those are the paths whose entry has the skip-worktree bit now, and the paths
    the restore adds outside a cone-mode sparse checkout: ``git checkout`` writes
    neither (hostile testing: 20-53 files of git/git materialised outside
    ``sparse-checkout set Documentation t/helper``, their bits cleared). A path
    whose staged and unstaged content differ in the target is written anyway:
    the disk is the only place its unstaged content can live.
    """
    skipped = skip_worktree_paths(repo.git, now.index_file)
    cone = cone_excludes(repo, config)
    if not skipped and cone is None:
        return False
    fields = raw_tree_diff(repo, now.worktree_tree, plan.worktree_tree).split(b"\0")
    entries: dict[bytes, bytes] = {}
    for meta, path in zip(fields[::2], fields[1::2]):
        _, new_mode, _, new_sha, status = meta.lstrip(b":").split(b" ")
        if new_mode in (b"000000", b"160000"):
            continue  # a deletion touches no file that is not there; gitlinks have no content
        outside = status == b"A" and cone is not None and not cone.includes(path.decode("utf-8", "surrogateescape"))
        if path in skipped or outside:
            entries[path] = b"%s %s 0\t%s" % (new_mode, new_sha, path)
    if not entries:
        return bool(skipped)
    staged_differs = repo.trees_git.run("diff-tree", "-r", "-z", "--no-renames", "--name-only",
                                        "--ignore-submodules=none",
                                  plan.index_tree, plan.worktree_tree).stdout.split(b"\0")
    for path in staged_differs:
        entries.pop(path, None)
    if entries:
        git = repo.git.with_index(now.index_file)
        git.run("update-index", "--add", "-z", "--index-info", input=b"\0".join(entries.values()) + b"\0")
        git.run("update-index", "--skip-worktree", "-z", "--stdin", input=b"\0".join(entries) + b"\0")
    return bool(skipped or entries)


def _remove_special_nodes(repo: Repo, now: Capture, plan: TargetState) -> None:
    """Remove the FIFOs, sockets and device nodes that stand at tracked paths
    whose file the restore changes or deletes, just before the switch.

    Why: ``read-tree -m -u`` checks that a file it must replace or delete is up
    to date, and a node never matches its entry's stat data, so the switch
    refused ("not uptodate") every restore that changed such a path, whatever
    the node held: nothing, git cannot store one. With the node gone git finds
    nothing to protect there and writes the target's file, or nothing where the
    target has none (:func:`_replace_special_files` does the same where the
    restore leaves the path's content as it is). Only a path that is still a
    node is removed.
    """
    special = {os.fsencode(item.path) for item in now.skipped if item.reason == "special-file"}
    if not special:
        return
    fields = raw_tree_diff(repo, now.worktree_tree, plan.worktree_tree).split(b"\0")
    for path in set(fields[1::2]) & special:
        _remove_node(repo.toplevel / os.fsdecode(path))


def _remove_node(path: Path) -> None:
    """Unlink ``path`` if it is a FIFO, socket or device node (nothing else)."""
    if is_node(path):
        path.unlink(missing_ok=True)


def _replace_special_files(repo: Repo, now: Capture, paths: Sequence[str]) -> list[bytes]:
    """Write the target's file where a FIFO, socket or device node stands at a
    tracked path: git cannot store one, so the safety capture kept the index's
    content for it and ``read-tree`` saw nothing to change. Such a node holds no
    data, so replacing it loses nothing. A restore limited to ``paths``
    (pathspecs; empty: the whole tree) replaces only the nodes among them:
    every other path is left as it is. Returns the raw paths written."""
    special = [item.path for item in now.skipped if item.reason == "special-file"]
    if not special:
        return []
    git = repo.git.with_index(now.index_file)
    literal = [f":(literal){path}" for path in special]
    tracked = [p for p in git.run("ls-files", "-z", "--", *literal).stdout.split(b"\0") if p]
    if paths and tracked:
        within = set(git.run("ls-files", "-z", "--", *paths).stdout.split(b"\0"))
        tracked = [p for p in tracked if p in within]
    for raw in tracked:
        _remove_node(repo.toplevel / raw.decode("utf-8", "surrogateescape"))
    if tracked:
        git.run("checkout-index", "-u", "-f", "-z", "--stdin", input=b"\0".join(tracked) + b"\0")
    return tracked


def _lock_index(repo: Repo) -> Path:
    """Take git's ``index.lock`` (created exclusively, as git does).

    Raises:
        _NothingChanged: another process holds it.
    """
    lock = Path(str(repo.index_file) + ".lock")
    try:
        os.close(os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except FileExistsError:
        raise _NothingChanged(f"{lock} exists: another git process is using the index") from None
    return lock


class _AccessWalk:
    """The owner-access walk of a switched worktree
    (:func:`recovery.core.integrity.listed_access_problems`), run in a thread
    while git switches the files and the steps after the switch (the index
    build, the HEAD move) run: at 80k files its ``lstat`` calls cost about
    150-200 ms, which those steps hide.

    A file the switch leaves in place keeps its mode through it, so the walk
    need not wait for it. The paths the switch writes are looked at again
    once it is done (:meth:`problems`): the walk may have seen the file being
    replaced, or not yet there.
    """

    def __init__(self, toplevel: Path, listed: bytes, written: list[bytes]) -> None:
        """Start walking the paths in ``listed`` (NUL-separated: every path of
        the target's worktree tree); ``written``: the raw paths the switch writes. The
        listing is taken by the caller: a git child started from the thread
        would be killed when the thread ends (``PR_SET_PDEATHSIG`` follows the
        thread that forked)."""
        self._toplevel = toplevel
        self._written = written
        self._problems: list[tuple[str, int]] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._walk, args=(listed,), daemon=True)
        self._thread.start()

    def _walk(self, listed: bytes) -> None:
        try:
            self._problems = listed_access_problems(self._toplevel, listed)
        except BaseException as exc:  # handed to problems(), in the restoring thread
            self._error = exc

    def written(self, paths: list[bytes]) -> None:
        """Add ``paths``, written after the switch, to those looked at again."""
        self._written += paths

    def problems(self) -> list[tuple[str, int]]:
        """Wait for the walk: ``(path, mode)`` of what its owner cannot use,
        the paths the switch wrote (and the directories on their way) as they
        are now. Call once the switch is done.

        Raises:
            OSError: the walk could not open the top level.
        """
        self._thread.join()
        if self._error is not None:
            raise self._error
        after = listed_access_problems(self._toplevel, b"\0".join(self._written))
        redone = {path.decode("utf-8", "surrogateescape") for path in self._written} | {path for path, _ in after}
        return [item for item in self._problems if item[0] not in redone] + after


def _repair_owner_access(toplevel: Path, problems: list[tuple[str, int]]) -> list[str]:
    """Give a restored file (or directory) that its owner cannot use the mode a
    fresh checkout would: git leaves a file whose content already matches alone,
    mode 000 included, and records no permission bits but the executable one.
    Files the owner can use keep their mode, deliberate 0600 included.

    Returns:
        The paths of ``problems`` (the integrity check re-checks just those).
    """
    umask = os.umask(0)
    os.umask(umask)
    top = os.open(toplevel, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for path, mode in problems:
            try:
                _give_access(top, path, mode, umask)
            except OSError:
                pass  # not ours to change, or no longer what the walk found: the integrity check names it
    finally:
        os.close(top)
    return [path for path, _ in problems]


def _give_access(top: int, path: str, mode: int, umask: int) -> None:
    """chmod ``path`` (relative to the directory ``top``) to what a checkout
    gives it, following no symbolic link on the way: the walk that found it ran
    while other programs could replace a directory with a link to one outside
    the worktree, which a chmod by path would change (hostile testing: run as
    root, 2 of 15 restores raced into a directory in /tmp).

    Raises:
        OSError: a component is missing or a symbolic link, or the chmod failed.
    """
    # O_PATH (Linux) opens without read access: an owner may chmod a file it cannot read.
    o_path = getattr(os, "O_PATH", os.O_RDONLY | os.O_NONBLOCK)
    *directories, name = path.split("/")
    fd = os.dup(top)
    try:
        for part in directories:
            parent, fd = fd, os.open(part, o_path | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(parent)
        leaf = os.open(name, o_path | os.O_NOFOLLOW, dir_fd=fd)
        try:
            kind = os.fstat(leaf).st_mode
            is_dir = stat.S_ISDIR(kind)
            if not (is_dir or stat.S_ISREG(kind)):
                raise OSError(errno.ELOOP, "not a file or directory any more", path)
            if is_dir:
                wanted = 0o777 & ~umask | 0o700
            else:
                wanted = (0o777 if mode & 0o100 else 0o666) & ~umask | 0o600
            if hasattr(os, "O_PATH"):
                # fchmod refuses an O_PATH descriptor; its /proc link names the same inode.
                os.chmod(f"/proc/self/fd/{leaf}", wanted)
            else:
                os.fchmod(leaf, wanted)
        finally:
            os.close(leaf)
    finally:
        os.close(fd)


def _put_back_stages(repo: Repo, index_file: Path, conflict_tree: str) -> None:
    """Re-create the unmerged entries (stages 1-3) a checkpoint recorded."""
    listing = repo.git.run("ls-tree", "-r", "-z", conflict_tree).stdout
    removals: list[bytes] = []
    stages: list[bytes] = []
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        head, sep, rest = path.partition(b"/")
        if not sep or not head.startswith(b"stage"):
            continue  # a state file such as MERGE_HEAD
        mode, _, sha = meta.split(b" ")
        removals.append(b"0 %s\t%s" % (repo.object_format.null_id.encode(), rest))
        stages.append(b"%s %s %s\t%s" % (mode, sha, head[-1:], rest))
    if stages:
        lines = sorted(set(removals)) + stages
        repo.git.with_index(index_file).run("update-index", "-z", "--index-info", input=b"\0".join(lines) + b"\0")


def _install_index(repo: Repo, new_index: Path, lock: Path, hashed_after_ns: int | None) -> None:
    """Replace the real index with ``new_index`` through ``lock`` (our
    ``index.lock``): fill it, fsync it, rename it over ``index``
    (gitformat-index(5) users such as git-commit rely on exactly this).
    ``hashed_after_ns``: the safety capture's, for :func:`date_back_index`."""
    with open(lock, "wb") as out, open(new_index, "rb") as src:
        shutil.copyfileobj(src, out)
        out.flush()
        os.fsync(out.fileno())
    # Keep the racy-git reference time of the index git wrote (see capture.py),
    # or an earlier one: stat data recorded since the capture began is not trusted.
    stamp = new_index.stat()
    os.utime(lock, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    date_back_index(lock, hashed_after_ns)
    os.replace(lock, repo.index_file)
    fsync_dir(repo.index_file.parent)


def _move_head(repo: Repo, plan: TargetState, target: Checkpoint, before: Capture) -> None:
    """Point HEAD (and its branch) where the plan says, compare-and-swap against
    the HEAD the safety checkpoint recorded: a commit made while the restore
    ran is in no checkpoint, so its branch must not be moved under it.

    Raises:
        RecoverError: the branch or HEAD moved since the safety checkpoint.
    """
    message = f"recover: restore {target.short}"
    try:
        if plan.branch:
            if plan.branch == before.branch:
                # Its tip is the first parent of the safety checkpoint.
                # A branch with commits is never deleted (see _safe_head).
                if plan.head and plan.head != before.head:
                    repo.git.run("update-ref", "-m", message, plan.branch, plan.head, before.head or repo.object_format.null_id)
            elif plan.head and resolve_commit(repo, plan.branch) is None:
                repo.git.run("update-ref", "-m", message, plan.branch, plan.head, repo.object_format.null_id)
            if before.branch != plan.branch:
                repo.git.run("symbolic-ref", "-m", message, "HEAD", plan.branch)
        elif plan.head:
            repo.git.run("update-ref", "--no-deref", "-m", message, "HEAD", plan.head, before.head or repo.object_format.null_id)
    except GitCommandError as exc:
        if read_head(repo.git) != (before.head, before.branch):
            raise RecoverError(
                "HEAD or its branch moved while the restore ran (a commit was made?); it was left alone"
            ) from None
        raise RecoverError(f"could not move HEAD: {exc.message}") from None


def _write_state_files(repo: Repo, conflict_tree: str | None) -> None:
    """Make MERGE_HEAD and friends exactly what the checkpoint recorded."""
    wanted: dict[str, str] = {}
    if conflict_tree:
        listing = repo.git.run("ls-tree", "-z", conflict_tree).stdout
        for entry in listing.split(b"\0"):
            meta, _, raw_name = entry.partition(b"\t")
            if entry and meta.split(b" ")[1] == b"blob":
                wanted[raw_name.decode()] = meta.split(b" ")[2].decode()
    for name in STATE_FILES:
        path = repo.git_dir / name
        if name in wanted:
            atomic_write(path, repo.git.run("cat-file", "blob", wanted[name]).stdout)
        else:
            path.unlink(missing_ok=True)


def _refuse_if_busy(repo: Repo, resuming: bool = False) -> None:
    """Raise before any change when the repository is in a state a restore
    cannot represent or must not race."""
    if not resuming and read_intent(repo) is not None:
        raise RecoverError(
            "an earlier restore was interrupted; run `git recover restore --continue` "
            "or `git recover restore --abort` first"
        )
    for name, what in OPERATIONS_IN_PROGRESS.items():
        if (repo.git_dir / name).exists():
            raise RecoverError(f"{what} is in progress; finish or abort it before restoring")
    for lock, what in ((Path(str(repo.index_file) + ".lock"), "the index"), (repo.git_dir / "HEAD.lock", "HEAD")):
        if lock.exists():
            raise RecoverError(f"{lock} exists: another git process is using {what}; try again when it is done")


def _preflight(repo: Repo, now: Capture, plan: TargetState, sources: Sequence[str] = ()) -> None:
    """Refuse, before anything changes, a restore that would lose what no
    checkpoint holds or could not finish.

    * A file on disk that is not in the safety checkpoint would be overwritten:
      an ignored file (git 2.39's ``read-tree -m -u`` overwrites ignored files
      silently), an untracked one over the size cap or unreadable, or whatever
      a directory the user cannot open holds.
    * A path the switch writes, replaces or deletes is in a directory the user
      may not write: git would stop half-way (:func:`_writable_parent`).
    * A nested repository (a gitlink now) would be replaced or removed: the
      checkpoint holds only its commit id, not its files or history.
    * An object the switch needs is missing or damaged: a half-done switch
      could never be finished by ``--continue``.
    * An object the safety checkpoint holds for a file or index entry the
      switch replaces is damaged: git does not write an object it already has,
      so a damaged copy in the object store stands in the safety checkpoint for
      the file about to be overwritten, and ``undo`` could not bring it back
      (hostile testing).

    Every tree on either side of the switch and every blob it writes or
    replaces is re-hashed (:func:`recovery.core.integrity.verify_objects`, one
    ``cat-file`` process a side): a tree holding another tree's bytes would
    otherwise make a path-limited restore write the wrong files and find them
    "byte-identical" to a plan built from them (hostile testing). ``sources``:
    the trees the plan was built from (a path-limited restore's checkpoint),
    checked with the target's.

    * A branch the restore moves or leaves is locked (``<branch>.lock``):
      git would refuse to move HEAD after the files were switched, as it
      refuses when ``HEAD.lock`` or ``index.lock`` exists (hostile testing: a
      restore stopped half-way on a branch lock).

    Raises:
        RecoverError: naming the paths or objects.
    """
    if _head_change(now, plan) is not None:
        for branch in sorted({name for name in (now.branch, plan.branch) if name}):
            lock = repo.common_dir / f"{branch}.lock"
            if os.path.lexists(lock):
                raise RecoverError(f"{lock} exists: another git process is updating "
                                   f"{clean(branch.removeprefix('refs/heads/'))}; try again when it is done "
                                   "(nothing was changed)")
    try:
        raw = raw_tree_diff(repo, now.worktree_tree, plan.worktree_tree)
        index_raw = raw_tree_diff(repo, now.index_tree, plan.index_tree)
    except GitCommandError as exc:
        raise RecoverError(f"the checkpoint is damaged ({exc.message}; see `git recover verify`); "
                           "nothing was changed") from None
    in_now: set[str] | None = None
    blocked: list[str] = []
    unwritable: list[str] = []
    nested: list[str] = []
    needed: set[str] = set()  # blobs the switch and the new index read
    replaced: dict[str, str] = {}  # blob the safety checkpoint holds -> a path the switch replaces
    for diff, on_disk in ((index_raw, False), (raw, True)):
        fields = diff.split(b"\0")
        for meta, raw_path in zip(fields[::2], fields[1::2]):
            old_mode, new_mode, old_sha, new_sha, status = meta.lstrip(b":").decode().split(" ")
            path = raw_path.decode("utf-8", "surrogateescape")
            if new_mode not in ("000000", "160000"):
                needed.add(new_sha)
            if old_mode not in ("000000", "160000"):
                replaced[old_sha] = path
            if not on_disk:
                continue  # the index alone changes: no file is written
            if not _writable_parent(repo.toplevel, path):
                unwritable.append(path)
            if old_mode == "160000" and new_mode != "160000" and _has_files(repo.toplevel / path):
                nested.append(path)
            if status == "A":
                if in_now is None:
                    in_now = tree_paths(repo, now.worktree_tree)
                blocked += _in_the_way(repo, path, in_now)
    if nested:
        raise RecoverError(
            f"the restore would replace nested repositories the checkpoint holds only as a commit id: "
            f"{', '.join(quote_path(p) for p in nested[:5])}; move them away (or restore other paths with `-- PATHS`)"
        )
    if unwritable:
        raise RecoverError(
            f"the restore would write, replace or delete files in directories you may not change: "
            f"{', '.join(quote_path(p) for p in sorted(unwritable)[:5])}; git would stop half-way, so nothing "
            "was changed (give the directories' owner write access, or restore other paths with `-- PATHS`)"
        )
    if blocked:
        shown = ", ".join(quote_path(p) for p in sorted(set(blocked))[:5])
        raise RecoverError(
            f"the restore would overwrite file(s) that no checkpoint holds (ignored, over the size cap, or "
            f"unreadable): {shown}; move them away and run the restore again"
        )
    # The current side first: its objects are what `undo` needs.
    checked: set[str] = set()
    current = verify_objects(repo, sorted(replaced) + [now.worktree_tree, now.index_tree], trees_only=True,
                             seen=checked)
    damaged = list(current.missing + current.corrupt)
    if damaged:
        shown = ", ".join(sha[:10] + (f" ({quote_path(replaced[sha])})" if sha in replaced else "")
                          for sha in damaged[:3])
        raise RecoverError(f"the object store holds a damaged copy of what the restore would replace: {shown}; "
                           "a safety checkpoint could not bring it back, so nothing was changed (`git fsck` "
                           "names the damage; once the damaged object file is removed, git writes it again from "
                           "your files)")
    roots = [sha for sha in (plan.worktree_tree, plan.index_tree, plan.head, plan.conflict_tree, *sources) if sha]
    target = verify_objects(repo, sorted(needed) + roots, trees_only=True, seen=checked)
    for sha_list, what in ((target.missing, "missing"), (target.corrupt, "corrupt")):
        if sha_list:
            raise RecoverError(f"the checkpoint is damaged: object(s) {', '.join(sha_list[:3])} {what} "
                               "(see `git recover verify`); nothing was changed")


def _in_the_way(repo: Repo, path: str, in_now: set[str]) -> list[str]:
    """Paths on disk, not in the current capture, that writing ``path`` would replace."""
    full = repo.toplevel / path
    # Parents first: a file reached through a symlinked directory (one leading
    # outside the worktree included) is not in the way; the link is, unless
    # the safety checkpoint holds it, and git replaces the link, never writes
    # through it.
    parts = path.split("/")
    for depth in range(1, len(parts)):
        prefix = "/".join(parts[:depth])
        parent = repo.toplevel / prefix
        if os.path.lexists(parent) and (parent.is_symlink() or not parent.is_dir()):
            return [] if prefix in in_now else [prefix]
    if full.is_dir() and not full.is_symlink():
        # A directory where the target has a file: fine if git removes all of
        # it (every file in it is captured), blocked if anything would stay.
        return [p for p in files_under(full, repo.toplevel) if p not in in_now][:1]
    if os.path.lexists(full):
        return [path]
    return []


def _writable_parent(toplevel: Path, path: str) -> bool:
    """Whether git may create, replace or remove ``path``: its nearest existing
    parent directory (a real one: git replaces a symbolic link, it never writes
    through it) must be writable and searchable by us, since git unlinks a
    file it replaces; in a sticky directory (``/tmp``'s mode) a file that is
    there must be ours or the directory's. Checked before the switch: git
    stopped half-way, leaving an interrupted restore that ``--continue`` could
    not finish either."""
    parent = os.path.dirname(path)
    while parent and not (os.path.isdir(toplevel / parent) and not os.path.islink(toplevel / parent)):
        parent = os.path.dirname(parent)
    directory = toplevel / parent
    if not os.access(directory, os.W_OK | os.X_OK):
        return False
    try:
        there = os.lstat(toplevel / path)
        sticky = os.stat(directory)
    except OSError:
        return True  # nothing there to unlink (or git says why itself)
    uid = os.geteuid()
    return not sticky.st_mode & stat.S_ISVTX or uid in (0, there.st_uid, sticky.st_uid)


def _has_files(directory: Path) -> bool:
    return directory.is_dir() and not directory.is_symlink() and any(directory.iterdir())


def _release_stale_locks(repo: Repo, intent: Intent) -> None:
    """Remove the lock files *our* crashed restore can have left: ``index.lock``
    (phase ``worktree``), ``HEAD.lock`` and the branch's ref lock (phase ``head``:
    git locks HEAD too when it moves the branch HEAD points to, for HEAD's
    reflog). Only when the restoring process is gone; a lock held by a live
    process is never touched."""
    if pid_alive(intent.pid):
        return
    locks: list[Path] = []
    if intent.phase is RestorePhase.WORKTREE:
        locks.append(Path(str(repo.index_file) + ".lock"))
    elif intent.phase is RestorePhase.HEAD:
        locks.append(repo.git_dir / "HEAD.lock")
        if intent.target.branch:
            locks.append(repo.common_dir / (intent.target.branch + ".lock"))
    for lock in locks:
        lock.unlink(missing_ok=True)


def _head_change(now: Capture, plan: TargetState) -> str | None:
    if now.head == plan.head and now.branch == plan.branch:
        return None
    # clean: a branch name may hold control characters and bytes that are
    # not UTF-8 (git allows both), and a forged checkpoint names any.
    where = clean(plan.branch.removeprefix("refs/heads/")) if plan.branch else "detached HEAD"
    commit = plan.head[:10] if plan.head else "an unborn branch"
    return f"HEAD -> {where} at {commit}"

