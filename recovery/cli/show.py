"""``git recover show ID``: one checkpoint's metadata and changes."""

from __future__ import annotations

import click

from recovery.base.output import SUMMARY_LINES, clean, human_age, out, quote_path, summarize
from recovery.cli.common import echo_json, open_repo
from recovery.core.integrity import tree_diff
from recovery.base.errors import RecoverError
from recovery.core.git import GitCommandError
from recovery.core.refs import resolve, resolve_commit


@click.command()
@click.argument("checkpoint_id", default="last")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(checkpoint_id: str, as_json: bool) -> None:
    """Show a checkpoint (default: last, the newest that is not a
    restore's safety checkpoint): metadata, skipped paths and the
    files that differ from its HEAD commit."""
    repo = open_repo()
    cp = resolve(repo, checkpoint_id)
    base = f"{cp.head}^{{tree}}" if cp.head else repo.object_format.empty_tree
    try:
        changes = tree_diff(repo, base, cp.worktree_tree)
    except GitCommandError:
        if cp.head and resolve_commit(repo, cp.head) is None:
            raise RecoverError(f"the HEAD commit {cp.head} of checkpoint #{cp.number} is missing, so its changes "
                               f"cannot be listed (`git recover verify {cp.short}` names every missing object)") from None
        raise
    # A tracked file the checkpoint left out (its user may not read it) is
    # absent from its tree, not deleted: the "skipped" lines say what it is.
    left_out = {f"D {quote_path(item.path)}" for item in cp.skipped}
    changes = tuple(line for line in changes if line not in left_out)
    if as_json:
        echo_json({**cp.to_json(), "changes": list(changes)})
        return
    out(f"checkpoint #{cp.number} {cp.sha}")
    out(f"ref:       {cp.ref}")
    out(f"time:      {cp.time:%Y-%m-%d %H:%M:%S.%f} UTC ({human_age(cp.age_s())} ago)")
    out(f"reason:    {clean(cp.reason)}")
    if cp.message:
        out(f"message:   {clean(cp.message)}")
    out(f"HEAD:      {cp.head or '(unborn)'} on {clean(cp.branch_name or '(detached)')}")
    out(f"trees:     worktree {cp.worktree_tree}, index {cp.index_tree}")
    if cp.conflict_commit:
        out(f"merge:     operation in progress captured in {cp.conflict_commit}")
    if cp.labels:
        out(f"labels:    {clean(', '.join(cp.labels))}")
    for item in cp.skipped:
        out(f"skipped:   {quote_path(item.path)} ({item.reason}, {item.size_bytes} bytes)")
    for note in cp.notes:
        out(f"note:      {clean(note)}")
    out(f"changes against HEAD ({len(changes)}):")
    for line in summarize(changes):
        out(f"  {line}")
    if len(changes) > SUMMARY_LINES:
        out(f"  (all of them: git recover diff {cp.short} --name-status)")
