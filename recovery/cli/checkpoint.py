"""``git recover checkpoint``: take a checkpoint now."""

from __future__ import annotations

import click

from recovery.base.output import out
from recovery.core.checkpoint import create_checkpoint
from recovery.cli.common import echo_json, open_repo


@click.command()
@click.option("-m", "--message", help="A note stored with the checkpoint.")
@click.option("--reason", default="manual", show_default=True, help="Why it is taken (hooks pass their name).")
@click.option("--json", "as_json", is_flag=True, help="Print the checkpoint as JSON.")
def checkpoint(message: str | None, reason: str, as_json: bool) -> None:
    """Capture HEAD, the index and the worktree (untracked files too, ignored
    files never) as a checkpoint under refs/recovery/."""
    cp = create_checkpoint(open_repo(), reason, message)
    if as_json:
        echo_json(cp.to_json())
        return
    skipped = f", {len(cp.skipped)} path(s) skipped" if cp.skipped else ""
    out(f"checkpoint {cp.short} ({cp.reason}, {cp.capture_s * 1000:.0f} ms{skipped})")
