"""``git recover checkpoint``: take a checkpoint now.

Its plain forms run without click (:mod:`recovery.cli.plain`); this command
defines the options, its help and the errors of every other form.
"""

from __future__ import annotations

import click

from recovery.cli.plain import take_checkpoint


@click.command()
@click.option("-m", "--message", help="A note stored with the checkpoint.")
@click.option("--reason", default="manual", show_default=True, help="Why it is taken (hooks pass their name).")
@click.option("--json", "as_json", is_flag=True, help="Print the checkpoint as JSON.")
def checkpoint(message: str | None, reason: str, as_json: bool) -> None:
    """Capture HEAD, the index and the worktree (untracked files too, ignored
    files never) as a checkpoint under refs/recovery/. When nothing changed since
    the newest checkpoint, that one is kept and named instead of a copy (unless
    -m gives it a new note)."""
    take_checkpoint(message, reason, as_json)
