"""``git recover list``: the checkpoints of this worktree, newest first."""

from __future__ import annotations

import click

from recovery.base.errors import UsageError
from recovery.base.output import human_age, out
from recovery.cli.common import echo_json, open_repo
from recovery.core.model import Checkpoint
from recovery.core.refs import list_checkpoints
from recovery.core.repo import Repo


@click.command("list")
@click.option("-n", "--max-count", type=click.IntRange(min=1), help="Show at most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per checkpoint).")
@click.option("--remote", help="The checkpoints pushed to this remote (fetched first), by machine.")
@click.option("--machine", help="With --remote: only this machine's.")
@click.option("--session", "session", is_flag=False, flag_value="", default=None, metavar="[ID]",
              help="An agent session's checkpoints by prompt, with each tool call (default: the latest session).")
def list_cmd(max_count: int | None, as_json: bool, remote: str | None, machine: str | None,
             session: str | None) -> None:
    """List checkpoints: position, id, age, reason, branch, files changed
    against HEAD, and labels (good, undo). With --session, an agent session's
    prompts, each with the checkpoint before it and its tool calls."""
    repo = open_repo()
    if remote is not None:
        _list_remote(repo, remote, machine, max_count, as_json)
        return
    if machine is not None:
        raise UsageError("--machine goes with --remote")
    if session is not None:
        _list_session(repo, session or None, as_json)
        return
    checkpoints = list_checkpoints(repo)[:max_count]
    changed = changed_counts(repo, checkpoints)
    if as_json:
        echo_json([{**cp.to_json(), "position": i, "changed_files": changed[cp.sha]}
                   for i, cp in enumerate(checkpoints)])
        return
    if not checkpoints:
        click.echo("no checkpoints yet (take one with `git recover checkpoint`)")
        return
    click.echo(f"{'#':>3}  {'id':<10}  {'age':>5}  {'reason':<18} {'branch':<16} {'changed':>7}  labels")
    for i, cp in enumerate(checkpoints):
        click.echo(
            f"{i:>3}  {cp.short:<10}  {human_age(cp.age_s()):>5}  {cp.reason[:18]:<18} "
            f"{(cp.branch_name or '(detached)')[:16]:<16} {'?' if changed[cp.sha] is None else changed[cp.sha]:>7}  {','.join(cp.labels)}"
        )


def _list_remote(repo: Repo, remote: str, machine: str | None, max_count: int | None, as_json: bool) -> None:
    from recovery.remote.replica import fetch

    replicas = fetch(repo, remote, machine)
    if as_json:
        echo_json([{"machine": r.machine, "worktree": r.worktree, "replica": r.commit,
                    "checkpoints": [cp.to_json() for cp in r.checkpoints[:max_count]]} for r in replicas])
        return
    if not replicas:
        click.echo(f"no checkpoints on {remote}" + (f" for machine {machine}" if machine else ""))
        return
    for r in replicas:
        click.echo(f"{r.machine}/{r.worktree} ({len(r.checkpoints)} checkpoint(s)):")
        click.echo(f"  {'id':<10}  {'age':>5}  {'reason':<18} {'branch':<16} note")
        for cp in r.checkpoints[:max_count]:
            click.echo(f"  {cp.short:<10}  {human_age(cp.age_s()):>5}  {cp.reason[:18]:<18} "
                       f"{(cp.branch_name or '(detached)')[:16]:<16} {cp.message or ''}")
    click.echo(f"restore one with: git recover restore {remote}:ID")


def changed_counts(repo: Repo, checkpoints: list[Checkpoint]) -> dict[str, int | None]:
    """Files that differ between each checkpoint's worktree and its HEAD commit
    (``None`` when an object is missing).

    dulwich diffs the trees in-process: one git process per checkpoint would
    make ``list`` slow on a long history of checkpoints.
    """
    from dulwich.diff_tree import tree_changes
    from dulwich.objects import Commit, ObjectID
    from dulwich.repo import Repo as DulwichRepo

    store = DulwichRepo(str(repo.common_dir)).object_store
    counts: dict[str, int | None] = {}
    for cp in checkpoints:
        try:
            head = store[ObjectID(cp.head.encode())] if cp.head else None
            head_tree = head.tree if isinstance(head, Commit) else None
            counts[cp.sha] = len(list(tree_changes(store, head_tree, ObjectID(cp.worktree_tree.encode()))))
        except KeyError:
            counts[cp.sha] = None  # an object is missing: `git recover verify` says which
    return counts


def _list_session(repo: Repo, session: str | None, as_json: bool) -> None:
    from recovery.agent.rewind import age_s, session_json, session_listing

    sid, found = session_listing(repo, session)
    if as_json:
        echo_json(session_json(sid, found))
        return
    out(f"session {sid}: {len(found)} prompt(s); rewind with `git recover rewind N`")
    for p in found:
        cp = p.checkpoint[:10] if p.checkpoint else "-"
        line = p.line if p.line is not None else "(prompt not seen)"
        out(f"prompt {p.number:<3} {cp:<10}  {human_age(age_s(p.time)):>5}  {line[:60]}")
        for t in p.tools:
            outcome = f"failed: {t.error}" if t.outcome == "failed" and t.error else t.outcome
            out(f"    {t.tool:<12} {t.checkpoint[:10]:<10}  {human_age(age_s(t.time)):>5}  "
                       f"{t.target[:50]:<50}  {outcome}")
