"""``git recover gc``: apply retention to checkpoints."""

from __future__ import annotations

import click

from recovery.cli.common import human_age, open_repo
from recovery.core.gc import run_gc


@click.command()
@click.option("--keep", type=click.IntRange(min=1), help="Keep at most the newest N (git config recover.gc.keep, default 100).")
@click.option("--max-age-days", type=click.FloatRange(min=0), help="Drop older ones (recover.gc.maxAgeDays, default 30).")
@click.option("-n", "--dry-run", is_flag=True, help="Say what would be dropped.")
def gc(keep: int | None, max_age_days: float | None, dry_run: bool) -> None:
    """Drop checkpoints beyond the newest --keep or older than --max-age-days;
    never the newest, the last good one of any branch, or the safety checkpoint
    of the latest restore."""
    plan = run_gc(open_repo(), keep, max_age_days, dry_run)
    verb = "would drop" if dry_run else "dropped"
    for cp in plan.drop:
        click.echo(f"{verb} {cp.short} ({cp.reason}, {human_age(cp.age_s())} old)")
    click.echo(f"{verb} {len(plan.drop)}, kept {len(plan.keep)} checkpoint(s)")
