"""``git recover gc``: apply retention to checkpoints."""

from __future__ import annotations

import click

from recovery.base.output import human_age, out
from recovery.cli.common import open_repo
from recovery.core.gc import run_gc
from recovery.core.model import Checkpoint


@click.command()
@click.option("--keep", type=click.IntRange(min=1), help="Keep at most N, named ones first (git config recover.gc.keep, default 100).")
@click.option("--max-age-days", type=click.FloatRange(min=0), help="Drop automatic ones older than this (recover.gc.maxAgeDays, default 30).")
@click.option("-n", "--dry-run", is_flag=True, help="Say what would be dropped.")
@click.option("--remote", help="Thin what this machine pushed to REMOTE instead, by the same rules.")
def gc(keep: int | None, max_age_days: float | None, dry_run: bool, remote: str | None) -> None:
    """Thin out old checkpoints: automatic ones all for an hour, then one per hour
    for a day, one per day up to --max-age-days; named and manual ones for
    recover.gc.manualMaxAgeDays; at most --keep in all, named ones first. Never
    the newest, `undo`, the last good one of any branch, or the only holder of a
    commit no branch or tag reaches (its HEAD, or a merge's other side). Also
    runs by itself after checkpoints."""
    rescued: list[tuple[Checkpoint, tuple[str, ...]]] = []
    if remote is not None:
        from recovery.remote.replica import gc_remote

        drop, kept = gc_remote(open_repo(), remote, keep, max_age_days, dry_run)
    else:
        plan = run_gc(open_repo(), keep, max_age_days, dry_run)
        drop, kept, rescued = list(plan.drop), list(plan.keep), list(plan.rescued)
    verb = "would drop" if dry_run else "dropped"
    for cp in drop:
        number = f"#{cp.number}, " if cp.number else ""
        out(f"{verb} {cp.short} ({number}{cp.reason}, {human_age(cp.age_s())} old)")
    for cp, commits in rescued:
        out(f"kept {cp.short} (#{cp.number}): the only holder of commit {', '.join(c[:10] for c in commits)}, "
            "which no branch or tag reaches")
    where = f" on {remote}" if remote else ""
    out(f"{verb} {len(drop)}, kept {len(kept)} checkpoint(s){where}")
