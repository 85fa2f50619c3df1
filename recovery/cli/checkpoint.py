"""``git recover checkpoint``: take a checkpoint now."""

from __future__ import annotations

import click

from recovery.base.output import human_age, out
from recovery.core.checkpoint import create_checkpoint
from recovery.cli.common import echo_json, open_repo


@click.command()
@click.option("-m", "--message", help="A note stored with the checkpoint.")
@click.option("--reason", default="manual", show_default=True, help="Why it is taken (hooks pass their name).")
@click.option("--json", "as_json", is_flag=True, help="Print the checkpoint as JSON.")
def checkpoint(message: str | None, reason: str, as_json: bool) -> None:
    """Capture HEAD, the index and the worktree (untracked files too, ignored
    files never) as a checkpoint under refs/recovery/. When nothing changed since
    the newest checkpoint, that one is kept and named instead of a copy (unless
    -m gives it a new note)."""
    cp = create_checkpoint(open_repo(), reason, message)
    if as_json:
        echo_json(cp.to_json())
        return
    if cp.unchanged:
        out(f"checkpoint {cp.short} (#{cp.number}, {cp.reason}, {human_age(cp.age_s())} old) unchanged: "
            "the state equals it, nothing new written")
        return
    skipped = f", {len(cp.skipped)} path(s) skipped" if cp.skipped else ""
    # The capture's own time: the command's start-up is not in it (README, Performance).
    out(f"checkpoint {cp.short} (#{cp.number}, {cp.reason}, capture {cp.capture_s * 1000:.0f} ms{skipped})")
