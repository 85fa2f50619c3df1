"""``git recover show ID``: one checkpoint's metadata and changes."""

from __future__ import annotations

import click

from recovery.cli.common import echo_json, human_age, open_repo
from recovery.core.integrity import EMPTY_TREE, tree_diff
from recovery.core.refs import resolve


@click.command()
@click.argument("checkpoint_id", default="last")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(checkpoint_id: str, as_json: bool) -> None:
    """Show a checkpoint (default: last, the newest that is not a
    restore's safety checkpoint): metadata, skipped paths and the
    files that differ from its HEAD commit."""
    repo = open_repo()
    cp = resolve(repo, checkpoint_id)
    base = f"{cp.head}^{{tree}}" if cp.head else EMPTY_TREE
    changes = tree_diff(repo, base, cp.worktree_tree)
    if as_json:
        echo_json({**cp.to_json(), "changes": list(changes)})
        return
    click.echo(f"checkpoint {cp.sha}")
    click.echo(f"ref:       {cp.ref}")
    click.echo(f"time:      {cp.time:%Y-%m-%d %H:%M:%S.%f} UTC ({human_age(cp.age_s())} ago)")
    click.echo(f"reason:    {cp.reason}")
    if cp.message:
        click.echo(f"message:   {cp.message}")
    click.echo(f"HEAD:      {cp.head or '(unborn)'} on {cp.branch_name or '(detached)'}")
    click.echo(f"trees:     worktree {cp.worktree_tree}, index {cp.index_tree}")
    if cp.conflict_commit:
        click.echo(f"merge:     operation in progress captured in {cp.conflict_commit}")
    if cp.labels:
        click.echo(f"labels:    {', '.join(cp.labels)}")
    for item in cp.skipped:
        click.echo(f"skipped:   {item.path} ({item.reason}, {item.size_bytes} bytes)")
    for note in cp.notes:
        click.echo(f"note:      {note}")
    click.echo(f"changes against HEAD ({len(changes)}):")
    for line in changes:
        click.echo(f"  {line}")

