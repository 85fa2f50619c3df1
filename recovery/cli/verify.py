"""``git recover verify [ID]``: prove a checkpoint's objects are present and intact."""

from __future__ import annotations

import click

from recovery.cli.common import open_repo
from recovery.base.errors import EXIT_FINDINGS, RecoverError
from recovery.core.integrity import check_checkpoint, verify_objects
from recovery.core.refs import list_checkpoints, resolve


@click.command()
@click.argument("checkpoint_id", required=False)
@click.option("--all", "every", is_flag=True, help="Verify every checkpoint of this worktree.")
@click.option("--worktree", is_flag=True, help="Also compare the live worktree, index and HEAD with it.")
def verify(checkpoint_id: str | None, every: bool, worktree: bool) -> None:
    """Re-hash every object a checkpoint needs (default: last): its worktree
    and index trees, their blobs, and the HEAD commit's tree. Exit 2 when an
    object is missing or corrupt, or with --worktree when the live state differs."""
    repo = open_repo()
    targets = list_checkpoints(repo) if every else [resolve(repo, checkpoint_id or "last")]
    failed = False
    for cp in targets:
        roots = [cp.sha, cp.index_commit] + [sha for sha in (cp.head, cp.conflict_commit) if sha]
        report = verify_objects(repo, roots)
        if report.ok:
            click.echo(f"{cp.short}: {report.checked} objects re-hashed, all intact ({report.duration_s * 1000:.0f} ms)")
        else:
            failed = True
            click.echo(f"{cp.short}: {len(report.missing)} missing, {len(report.corrupt)} corrupt of "
                       f"{report.checked} objects: {', '.join((report.missing + report.corrupt)[:5])}")
    if worktree:
        cp = targets[0]
        verdict = check_checkpoint(repo, cp)
        if verdict.ok:
            click.echo(f"live state is identical to {cp.short} ({verdict.duration_s * 1000:.0f} ms)")
        else:
            failed = True
            click.echo(f"live state differs from {cp.short}:")
            for line in verdict.mismatches:
                click.echo(f"  {line}")
    if failed:
        raise RecoverError("verification failed", EXIT_FINDINGS)
