"""Retention: which checkpoints to keep, dropping the rest, by hand or by itself.

Automatic checkpoints (hooks, ``run``, restore safety checkpoints) are thinned
as they age, the way backup tools do it: every one of the last hour, the newest
of each hour (UTC) for a day, the newest of each day for ``recover.gc.maxAgeDays``
(default 30), none after that. Named and manual checkpoints (``checkpoint``,
``checkpoint -m``) are not thinned and live ``recover.gc.manualMaxAgeDays``
(default 365). On top, at most ``recover.gc.keep`` (default 100) are kept,
chosen named/manual first, then the states agent prompts began from, then the
other automatic ones, then restore safety checkpoints,
newest first within each, so a cap never drops a user's named checkpoint to keep
a safety one.

Always kept, whatever the rules say: the newest checkpoint (the recovery point,
and the highest number, so numbers are never given twice), the one labelled
``undo`` (the way back from the latest restore), ``good`` and the last good
checkpoint of every branch (the automatic restore targets), and the only holder
of a commit that no branch or tag reaches: its HEAD (a checkpoint taken on a
detached HEAD, or before a ``reset --hard``) or the other side of a merge in
progress (``MERGE_HEAD``, whose branch may be deleted since); dropping it would
let ``git gc`` delete those commits.

Refs are deleted in one ``update-ref --stdin`` transaction, each compare-and-swap
against the value read; loose refs are packed (``git pack-refs``) once there are
many, so the ref store stays small. The objects go when git's own ``gc`` prunes them.

:func:`auto_gc` runs the same retention after a new checkpoint when it is due:
at most once per ``recover.gc.autoInterval`` seconds (default 3600) or after
``recover.gc.autoEvery`` new checkpoints (default 50), whichever comes first;
``recover.gc.auto=false`` turns it off. Its cost is a few git processes, once in
a while, never on a checkpoint that changed nothing.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from recovery.base.output import say, warn
from recovery.base.errors import RecoverError
from recovery.core.capture import workdir_parent
from recovery.core.config import GitConfig
from recovery.core.fingerprint import AGENT_PROMPT_REASON
from recovery.core.git import GitCommandError
from recovery.core.lock import pid_alive, repo_lock
from recovery.core.model import Checkpoint
from recovery.core.refs import good_by_branch, list_checkpoints, record_legacy_numbers, run_ref_update
from recovery.core.repo import Repo

KEEP_KEY = "recover.gc.keep"
MAX_AGE_KEY = "recover.gc.maxAgeDays"
MANUAL_MAX_AGE_KEY = "recover.gc.manualMaxAgeDays"
AUTO_KEY = "recover.gc.auto"
AUTO_INTERVAL_KEY = "recover.gc.autoInterval"
AUTO_EVERY_KEY = "recover.gc.autoEvery"
DEFAULT_KEEP = 100
DEFAULT_MAX_AGE_DAYS = 30
DEFAULT_MANUAL_MAX_AGE_DAYS = 365
DEFAULT_AUTO_INTERVAL_S = 3600
DEFAULT_AUTO_EVERY = 50
# Loose ref files under refs/recovery/ before they are packed.
PACK_LOOSE_REFS = 64
AUTO_STAMP = "gc-auto"
# Keeps `git log --decorate` free of our refs (git-config(1), log.excludeDecoration).
EXCLUDE_DECORATION = "refs/recovery/"


class Retention(NamedTuple):
    """The rules :func:`plan_gc` applies.

    Attributes:
        keep: at most this many checkpoints, counting the newest; the other
            always-kept ones (labelled, the only holders of commits) come on top.
        max_age_days: automatic checkpoints older than this are dropped.
        manual_max_age_days: named and manual checkpoints older than this are dropped.
    """

    keep: int = DEFAULT_KEEP
    max_age_days: float = DEFAULT_MAX_AGE_DAYS
    manual_max_age_days: float = DEFAULT_MANUAL_MAX_AGE_DAYS

    @classmethod
    def from_config(cls, config: GitConfig, keep: int | None = None,
                    max_age_days: float | None = None) -> Retention:
        """The git config's rules, with the command line's ``keep``/``max_age_days`` on top.

        Raises:
            UsageError: a value in git config is not a whole number, or too small.
        """
        return cls(
            keep if keep is not None else config.get_int(KEEP_KEY, DEFAULT_KEEP, minimum=1),
            max_age_days if max_age_days is not None else config.get_int(MAX_AGE_KEY, DEFAULT_MAX_AGE_DAYS, minimum=0),
            config.get_int(MANUAL_MAX_AGE_KEY, DEFAULT_MANUAL_MAX_AGE_DAYS, minimum=0),
        )


class GcPlan(NamedTuple):
    """What retention decided.

    Attributes:
        drop: checkpoints to delete, newest first.
        keep: checkpoints kept, newest first.
        rescued: kept only because they alone hold commits no branch or tag
            reaches (HEAD, or a merge in progress's other side), with those commits.
    """

    drop: tuple[Checkpoint, ...]
    keep: tuple[Checkpoint, ...]
    rescued: tuple[tuple[Checkpoint, tuple[str, ...]], ...] = ()


# Reasons whose checkpoints carry a note git-recover wrote itself: a restore's
# safety checkpoint, the state derived before an undone operation, the agent
# hooks' prompt and tool lines, the watcher, the command `git recover run` ran.
# Nobody named those.
_OWN_NOTES = ("restore-", "before-", "agent-", "watch", "pre-run")


def is_named(cp: Checkpoint) -> bool:
    """A checkpoint a user asked for (``manual``) or named (``-m``, with any
    ``--reason``). Notes git-recover writes itself do not make a checkpoint
    named: a new user's ``gc --keep 3`` once kept three undo-derived
    checkpoints and dropped the two the user had named."""
    return cp.reason == "manual" or (bool(cp.message) and not cp.reason.startswith(_OWN_NOTES))


def plan_gc(checkpoints: list[Checkpoint], rules: Retention, now: datetime | None = None,
            protected: set[str] | None = None) -> GcPlan:
    """Decide retention for ``checkpoints`` (newest first), without looking at
    commit reachability (:func:`run_gc` adds that).

    Args:
        checkpoints: as :func:`recovery.core.refs.list_checkpoints` returns them.
        rules: the limits.
        now: the reference time (UTC), for tests.
        protected: ids always kept besides the newest and the labelled ones (the
            last good checkpoint of every branch).
    """
    now = now or datetime.now(timezone.utc)
    always = {cp.sha for cp in checkpoints[:1]} | set(protected or ()) | {
        cp.sha for cp in checkpoints if "good" in cp.labels or "undo" in cp.labels}
    candidates = [cp for cp in checkpoints if _within_schedule(cp, checkpoints, rules, now)]
    ranked = sorted(candidates, key=lambda cp: (_rank(cp), -cp.time.timestamp()))
    chosen = always | {cp.sha for cp in ranked[:rules.keep]}
    keep = tuple(cp for cp in checkpoints if cp.sha in chosen)
    drop = tuple(cp for cp in checkpoints if cp.sha not in chosen)
    return GcPlan(drop, keep)


def _rank(cp: Checkpoint) -> int:
    """Which checkpoints a cap keeps first: named/manual, the states agent
    prompts began from, other automatic ones, safety.

    Why the prompts: they are what ``rewind N`` and ``restore prompt:N`` go back
    to, and an agent's tool calls each leave a checkpoint. 130 tool calls that
    changed something dropped a session's first prompt within seconds under
    the default cap of 100 (new-user trial); a session has far fewer prompts.
    """
    if is_named(cp):
        return 0
    if cp.reason == AGENT_PROMPT_REASON:
        return 1
    return 3 if cp.is_safety else 2


def _within_schedule(cp: Checkpoint, checkpoints: list[Checkpoint], rules: Retention, now: datetime) -> bool:
    """The age rules: named ones until their maximum age; automatic ones all for an
    hour, then the newest of each UTC hour for a day, then of each UTC day."""
    age = now - cp.time
    if is_named(cp):
        return age <= timedelta(days=rules.manual_max_age_days)
    if age <= timedelta(hours=1):
        return True
    if age > timedelta(days=rules.max_age_days):
        return False
    size = 3600 if age <= timedelta(days=1) else 86400
    bucket = int(cp.time.timestamp()) // size
    newest_in_bucket = next(other for other in checkpoints
                            if not is_named(other) and int(other.time.timestamp()) // size == bucket)
    return newest_in_bucket.sha == cp.sha


def run_gc(repo: Repo, keep: int | None = None, max_age_days: float | None = None,
           dry_run: bool = False) -> GcPlan:
    """Apply retention to ``repo``'s checkpoints; also removes temporary work
    directories left by killed processes, packs loose refs when there are many,
    and sets ``log.excludeDecoration``.

    Args:
        keep: overrides ``recover.gc.keep``.
        max_age_days: overrides ``recover.gc.maxAgeDays``.
        dry_run: decide, delete nothing.

    Raises:
        RecoverError: a ref moved while being deleted, or the lock is busy.
    """
    with repo_lock(repo):
        config = GitConfig.load(repo.git)
        rules = Retention.from_config(config, keep, max_age_days)
        checkpoints = list_checkpoints(repo)
        good = {cp.sha for cp in good_by_branch(repo, checkpoints).values()}
        plan = _rescue_unreachable(repo, plan_gc(checkpoints, rules, protected=good))
        if dry_run:
            return plan
        if plan.drop:
            # Dropping an old checkpoint must not renumber those written before numbers existed.
            record_legacy_numbers(repo, checkpoints)
            _delete_refs(repo, plan.drop)
        _pack_refs_when_many(repo)
        _remove_stale_workdirs(repo)
        exclude_decoration(repo)
        _stamp(repo, checkpoints[0].number if checkpoints else 0)
        return plan


def auto_gc(repo: Repo, newest: Checkpoint, config: GitConfig) -> GcPlan | None:
    """Run :func:`run_gc` when it is due (see the module doc); say what it dropped
    on stderr. Called by :func:`recovery.core.checkpoint.create_checkpoint` after
    publishing ``newest``, with the lock held. When it is not due this costs one
    small file read and no git process. A failure is a warning: retention must
    never cost the user the checkpoint just taken or the git operation around it.

    Args:
        newest: the checkpoint just published.
        config: the ``recover.*`` git config already read for the capture.

    Returns:
        The plan applied, or ``None`` when it was not due or failed.
    """
    try:
        if not config.get_bool(AUTO_KEY, True) or not _due(repo, config, newest.number):
            return None
        started = time.monotonic()
        plan = run_gc(repo)
    except RecoverError as exc:
        warn(f"automatic gc skipped: {exc.message}")
        return None
    if plan.drop:
        say(f"gc: dropped {len(plan.drop)} old checkpoint(s), kept {len(plan.keep)} "
            f"({(time.monotonic() - started) * 1000:.0f} ms; recover.gc.auto=false turns this off)")
    return plan


def _due(repo: Repo, config: GitConfig, newest_number: int) -> bool:
    """Whether the last gc is older than the interval or was that many checkpoints
    ago (the stamp file holds the newest number at that time; its mtime the time)."""
    stamp = repo.state_dir / AUTO_STAMP
    try:
        last_number = int(stamp.read_text().strip() or 0)
        age_s = time.time() - stamp.stat().st_mtime
    except (OSError, ValueError):
        return True
    return (age_s >= config.get_int(AUTO_INTERVAL_KEY, DEFAULT_AUTO_INTERVAL_S, minimum=0)
            or newest_number - last_number >= config.get_int(AUTO_EVERY_KEY, DEFAULT_AUTO_EVERY, minimum=1))


def _stamp(repo: Repo, number: int) -> None:
    try:
        repo.state_dir.mkdir(parents=True, exist_ok=True)
        (repo.state_dir / AUTO_STAMP).write_text(f"{number}\n")
    except OSError:
        pass  # the next checkpoint just tries again


def _rescue_unreachable(repo: Repo, plan: GcPlan) -> GcPlan:
    """Move back into ``keep`` the dropped checkpoints that alone hold commits no
    branch, tag or kept checkpoint reaches (one per independent tip).

    A checkpoint holds its HEAD commit and, when it captured a merge in progress,
    the commits ``MERGE_HEAD`` named (its conflict commit's parents): the other
    side of an interrupted merge, whose branch may be deleted since.
    """
    held = _held_commits(repo, [*plan.drop, *plan.keep])
    heads = sorted({sha for cp in plan.drop for sha in held.get(cp.sha, ())})
    if not heads:
        return plan
    kept_heads = sorted({sha for cp in plan.keep for sha in held.get(cp.sha, ())})
    lost = set(repo.git.text("rev-list", *heads, "--not", "--branches", "--tags", *kept_heads).split())
    orphaned = [head for head in heads if head in lost]
    if not orphaned:
        return plan
    tips = set(repo.git.text("merge-base", "--independent", *orphaned).split()) if len(orphaned) > 1 else set(orphaned)
    rescued: list[tuple[Checkpoint, tuple[str, ...]]] = []
    for cp in plan.drop:  # newest first: the newest holder of each tip
        mine = tuple(sha for sha in held.get(cp.sha, ()) if sha in tips)
        if mine:
            tips.difference_update(mine)
            rescued.append((cp, mine))
    chosen = {cp.sha for cp in plan.keep} | {cp.sha for cp, _ in rescued}
    every = sorted((*plan.keep, *plan.drop), key=lambda cp: (cp.time, cp.sha), reverse=True)
    return GcPlan(tuple(cp for cp in every if cp.sha not in chosen),
                  tuple(cp for cp in every if cp.sha in chosen), tuple(rescued))


def _held_commits(repo: Repo, checkpoints: list[Checkpoint]) -> dict[str, tuple[str, ...]]:
    """``{checkpoint id: commits it holds}``; one git process for all the
    conflict commits' parents."""
    held: dict[str, tuple[str, ...]] = {cp.sha: (cp.head,) if cp.head else () for cp in checkpoints}
    conflicts = {cp.conflict_commit: cp.sha for cp in checkpoints if cp.conflict_commit}
    if conflicts:
        listing = repo.git.text("rev-list", "--no-walk=unsorted", "--parents", *conflicts)
        for line in listing.splitlines():
            commit, *parents = line.split()
            owner = conflicts.get(commit)
            if owner is not None:
                held[owner] = tuple(dict.fromkeys((*held[owner], *parents)))
    return held


def _delete_refs(repo: Repo, drop: tuple[Checkpoint, ...]) -> None:
    """One transaction: every ref deleted only if it still points where it did."""
    commands = "".join(f"delete {cp.ref} {cp.sha}\n" for cp in drop)
    try:
        run_ref_update(repo, [cp.ref for cp in drop], "--stdin", input=commands.encode())
    except GitCommandError as exc:
        raise RecoverError(f"could not delete checkpoint refs: {exc.message}") from None


def _pack_refs_when_many(repo: Repo) -> None:
    """``git pack-refs --all`` once refs/recovery/ holds many loose ref files (git
    2.39 has no ``--include``; packing the user's refs too is what ``git gc`` does)."""
    base = repo.common_dir / "refs" / "recovery" / repo.worktree_key
    loose = sum(len(files) for _, _, files in os.walk(base))
    if loose >= PACK_LOOSE_REFS:
        repo.git.run("pack-refs", "--all")


def exclude_decoration(repo: Repo) -> None:
    """Add ``refs/recovery/`` to the repository's ``log.excludeDecoration`` once."""
    current = repo.git.run("config", "--local", "--get-all", "log.excludeDecoration", check=False).text
    if EXCLUDE_DECORATION not in current.splitlines():
        repo.git.run("config", "--local", "--add", "log.excludeDecoration", EXCLUDE_DECORATION)


def _remove_stale_workdirs(repo: Repo) -> None:
    """Temporary index directories whose process is gone (named ``<purpose>-<pid>-<ns>``)."""
    base = workdir_parent(repo)
    if not base.is_dir():
        return
    for entry in base.iterdir():
        parts = entry.name.rsplit("-", 2)
        if len(parts) == 3 and parts[1].isdigit() and not pid_alive(int(parts[1])):
            shutil.rmtree(entry, ignore_errors=True)
