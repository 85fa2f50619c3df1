"""``git recover diff ID [ID2]``: what differs between a checkpoint and now."""

from __future__ import annotations

import sys

import click

from recovery.base.output import colour_enabled, out
from recovery.core.capture import live_worktree_tree
from recovery.cli.common import open_repo
from recovery.core.refs import resolve


@click.command()
@click.argument("checkpoint_id", default="last")
@click.argument("other_id", required=False)
@click.option("--stat", is_flag=True, help="Show a diffstat instead of the patch.")
@click.option("--name-status", is_flag=True, help="Show only names and status letters.")
def diff(checkpoint_id: str, other_id: str | None, stat: bool, name_status: bool) -> None:
    """Diff a checkpoint's worktree against the current worktree (untracked
    files included, ignored never), or against a second checkpoint."""
    repo = open_repo()
    old = resolve(repo, checkpoint_id).worktree_tree
    if other_id is not None:
        new = resolve(repo, other_id).worktree_tree
    else:
        new = live_worktree_tree(repo)
    args = ["diff", "--color=always" if colour_enabled(sys.stdout) else "--no-color"]
    if stat:
        args.append("--stat")
    if name_status:
        args.append("--name-status")
    text = repo.git.run(*args, old, new).text
    if text:  # no difference prints nothing, as `git diff` does
        out(text)
