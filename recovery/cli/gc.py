"""``git recover gc``: apply retention to checkpoints."""

from __future__ import annotations

import click

from recovery.base.output import human_age, out
from recovery.cli.common import open_repo
from recovery.core.gc import run_gc


@click.command()
@click.option("--keep", type=click.IntRange(min=1), help="Keep at most the newest N (git config recover.gc.keep, default 100).")
@click.option("--max-age-days", type=click.FloatRange(min=0), help="Drop older ones (recover.gc.maxAgeDays, default 30).")
@click.option("-n", "--dry-run", is_flag=True, help="Say what would be dropped.")
@click.option("--remote", help="Thin what this machine pushed to REMOTE instead, by the same rules.")
def gc(keep: int | None, max_age_days: float | None, dry_run: bool, remote: str | None) -> None:
    """Drop checkpoints beyond the newest --keep or older than --max-age-days;
    never the newest, the last good one of any branch, or the safety checkpoint
    of the latest restore."""
    if remote is not None:
        from recovery.remote.replica import gc_remote

        drop, kept = gc_remote(open_repo(), remote, keep, max_age_days, dry_run)
    else:
        plan = run_gc(open_repo(), keep, max_age_days, dry_run)
        drop, kept = list(plan.drop), list(plan.keep)
    verb = "would drop" if dry_run else "dropped"
    for cp in drop:
        out(f"{verb} {cp.short} ({cp.reason}, {human_age(cp.age_s())} old)")
    where = f" on {remote}" if remote else ""
    out(f"{verb} {len(drop)}, kept {len(kept)} checkpoint(s){where}")
