"""``git recover verify [ID]``: prove a checkpoint's objects are present and intact."""

from __future__ import annotations

import click

from recovery.base.output import colour, out, progress, summarize
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
    # A checkpoint whose own commit is missing or corrupt is listed by nobody:
    # verify names it (the check found a problem) whichever checkpoint it is asked about.
    broken: list[str] = []
    listed = list_checkpoints(repo, broken)
    targets = listed if every else [resolve(repo, checkpoint_id or "last")]
    failed = bool(broken)
    differs = False
    for ref in broken:
        out(f"{ref}: {colour('commit missing or corrupt', 'red')}; the checkpoint cannot be restored "
            f"(remove the ref with `git update-ref -d {ref}`)")
    with progress(f"verifying {len(targets)} checkpoint(s)", total=len(targets)) as bar:
        for cp in targets:
            roots = [cp.sha, cp.index_commit] + [sha for sha in (cp.head, cp.conflict_commit) if sha]
            report = verify_objects(repo, roots)
            bar.advance()
            if report.ok:
                out(f"{cp.short}: {report.checked} objects re-hashed, {colour('all intact', 'green')} "
                    f"({report.duration_s * 1000:.0f} ms)")
            else:
                failed = True
                bad = report.missing + report.corrupt
                out(f"{cp.short}: {colour(f'{len(report.missing)} missing, {len(report.corrupt)} corrupt', 'red')} "
                    f"of {report.checked} objects: {', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}")
    if worktree:
        cp = targets[0]
        with progress(f"comparing the live state with {cp.short}"):
            verdict = check_checkpoint(repo, cp)
        if verdict.ok:
            same = "identical" if not verdict.limits else "identical as far as checked"
            out(f"live state is {colour(same, 'green')} to {cp.short} ({verdict.duration_s * 1000:.0f} ms)")
            for limit in verdict.limits:
                out(f"  not covered: {limit}")
        else:
            differs = True
            out(f"live state {colour('differs', 'red')} from {cp.short}:")
            for line in summarize(verdict.mismatches):
                out(f"  {line}")
    # Two findings, said apart: a user read "verification failed" after an
    # intact checkpoint and a live state that had moved on as damage.
    if failed:
        raise RecoverError("verification failed: objects are missing or corrupt" + (
            "; the live state differs too" if differs else ""), EXIT_FINDINGS)
    if differs:
        raise RecoverError("the checkpoint is intact; the live state differs from it (listed above)", EXIT_FINDINGS)
