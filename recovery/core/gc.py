"""Retention: which checkpoints to drop, and dropping them.

A checkpoint is dropped when it is beyond the newest ``recover.gc.keep``
(default 100; so at most that many are kept) *or* older than
``recover.gc.maxAgeDays`` (default 30), except the newest checkpoint, the last
good checkpoint of every branch and the one labelled ``undo``, which are always
kept: they are the recovery point, the automatic restore targets and the way
back from the latest restore. Refs are deleted with
compare-and-swap; the objects go when git's own ``gc`` prunes them.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from recovery.core.capture import workdir_parent
from recovery.core.config import GitConfig
from recovery.core.lock import pid_alive, repo_lock
from recovery.core.model import Checkpoint
from recovery.core.refs import delete_ref, good_by_branch, list_checkpoints
from recovery.core.repo import Repo

KEEP_KEY = "recover.gc.keep"
MAX_AGE_KEY = "recover.gc.maxAgeDays"
DEFAULT_KEEP = 100
DEFAULT_MAX_AGE_DAYS = 30
# Keeps `git log --decorate` free of our refs (git-config(1), log.excludeDecoration).
EXCLUDE_DECORATION = "refs/recovery/"


@dataclass(frozen=True)
class GcPlan:
    """What retention decided.

    Attributes:
        drop: checkpoints to delete, oldest last.
        keep: checkpoints kept.
    """

    drop: tuple[Checkpoint, ...]
    keep: tuple[Checkpoint, ...]


def plan_gc(checkpoints: list[Checkpoint], keep: int, max_age_days: float,
            now: datetime | None = None, protected: set[str] | None = None) -> GcPlan:
    """Decide retention for ``checkpoints`` (newest first).

    Args:
        checkpoints: as :func:`recovery.core.refs.list_checkpoints` returns them.
        keep: keep at most this many of the newest.
        max_age_days: drop checkpoints older than this many days.
        now: the reference time (UTC), for tests.
        protected: ids always kept besides the newest, ``good`` and ``undo``
            (the last good checkpoint of every branch).
    """
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=max_age_days)
    drop, kept = [], []
    for position, cp in enumerate(checkpoints):
        kept_anyway = position == 0 or "good" in cp.labels or "undo" in cp.labels or cp.sha in (protected or set())
        if not kept_anyway and (position >= keep or cp.time < cutoff):
            drop.append(cp)
        else:
            kept.append(cp)
    return GcPlan(tuple(drop), tuple(kept))


def run_gc(repo: Repo, keep: int | None = None, max_age_days: float | None = None,
           dry_run: bool = False) -> GcPlan:
    """Apply retention to ``repo``'s checkpoints; also removes temporary work
    directories left by killed processes and sets ``log.excludeDecoration``.

    Args:
        keep: overrides ``recover.gc.keep``.
        max_age_days: overrides ``recover.gc.maxAgeDays``.
        dry_run: decide, delete nothing.

    Raises:
        RecoverError: a ref moved while being deleted, or the lock is busy.
    """
    with repo_lock(repo):
        config = GitConfig.load(repo.git)
        keep = keep if keep is not None else config.get_int(KEEP_KEY, DEFAULT_KEEP)
        max_age = max_age_days if max_age_days is not None else config.get_int(MAX_AGE_KEY, DEFAULT_MAX_AGE_DAYS)
        checkpoints = list_checkpoints(repo)
        good = {cp.sha for cp in good_by_branch(repo, checkpoints).values()}
        plan = plan_gc(checkpoints, keep, max_age, protected=good)
        if dry_run:
            return plan
        for cp in plan.drop:
            delete_ref(repo, cp.ref, cp.sha)
        _remove_stale_workdirs(repo)
        exclude_decoration(repo)
        return plan


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

