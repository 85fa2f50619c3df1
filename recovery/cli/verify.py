"""``git recover verify [ID]``: prove a checkpoint's objects are present and intact.

Its plain forms run without click (:mod:`recovery.cli.plain`); this command
defines the options, its help and the errors of every other form.
"""

from __future__ import annotations

import click

from recovery.cli.plain import run_verify


@click.command()
@click.argument("checkpoint_id", required=False)
@click.option("--all", "every", is_flag=True, help="Verify every checkpoint of this worktree.")
@click.option("--worktree", is_flag=True, help="Also compare the live worktree, index and HEAD with it.")
def verify(checkpoint_id: str | None, every: bool, worktree: bool) -> None:
    """Re-hash every object a checkpoint needs (default: last): its worktree
    and index trees, their blobs, and the HEAD commit's tree. Exit 2 when an
    object is missing or corrupt, or with --worktree when the live state differs."""
    run_verify(checkpoint_id, every, worktree)
