"""``git recover list``: the checkpoints of this worktree, newest first."""

from __future__ import annotations

import click

from recovery.base.errors import UsageError
from recovery.base.output import clean, human_age, out
from recovery.cli.common import echo_json, open_repo
from recovery.core.describe import describe, select
from recovery.core.refs import list_checkpoints, shown
from recovery.core.repo import Repo

_SUBJECT_WIDTH = 50


@click.command("list")
@click.option("-n", "--max-count", type=click.IntRange(min=1), help="Show at most this many.")
@click.option("--manual", "named_only", is_flag=True, help="Only checkpoints you took or named (-m).")
@click.option("--reason", help="Only this reason (manual, pre-commit, post-merge, pre-run, restore-safety...).")
@click.option("--branch", help="Only checkpoints taken on this branch.")
@click.option("-a", "--all", "include_safety", is_flag=True,
              help="Also restores' safety checkpoints (hidden by default; `undo` names the latest).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per checkpoint).")
@click.option("--remote", help="The checkpoints pushed to this remote (fetched first), by machine.")
@click.option("--machine", help="With --remote: only this machine's.")
@click.option("--session", "session", is_flag=False, flag_value="", default=None, metavar="[ID]",
              help="An agent session's checkpoints by prompt, with each tool call (default: the latest session).")
def list_cmd(max_count: int | None, named_only: bool, reason: str | None, branch: str | None,
             include_safety: bool, as_json: bool, remote: str | None, machine: str | None,
             session: str | None) -> None:
    """List checkpoints, newest first: number (#N, never reused or shifted), id,
    age, reason (the command or hook that took it), branch, files changed against
    its HEAD commit, labels (good, undo), and what it was: your note (-m) and the
    subject of its HEAD commit. With --session, an agent session's prompts, each
    with the checkpoint before it and its tool calls."""
    repo = open_repo()
    if remote is not None:
        _list_remote(repo, remote, machine, max_count, as_json)
        return
    if machine is not None:
        raise UsageError("--machine goes with --remote")
    if session is not None:
        _list_session(repo, session or None, as_json)
        return
    every = list_checkpoints(repo)
    positions = {cp.sha: i for i, cp in enumerate(shown(every))}
    checkpoints = select(every, named_only=named_only, reason=reason, branch=branch,
                         include_safety=include_safety)[:max_count]
    described = describe(repo, checkpoints)
    if as_json:
        echo_json([{**cp.to_json(), "position": positions.get(cp.sha),
                    "changed_files": described[cp.sha].changed_files,
                    "head_subject": described[cp.sha].head_subject} for cp in checkpoints])
        return
    if not checkpoints:
        out("no checkpoints match (`git recover list --all` shows every one)" if every else
            "no checkpoints yet (take one with `git recover checkpoint`)")
        return
    out(f"{'#':>4}  {'id':<10}  {'age':>5}  {'reason':<16} {'branch':<14} {'changed':>7}  {'labels':<9} what")
    for cp in checkpoints:
        about = described[cp.sha]
        changed = "?" if about.changed_files is None else str(about.changed_files)
        # Notes, subjects and branch names come from the repository: printed escaped, one line each.
        note = f'"{clean(cp.message.strip())}" ' if cp.message and not cp.is_safety else ""
        subject = clean(about.head_subject or ("(unborn branch)" if cp.head is None else "?"))
        if len(subject) > _SUBJECT_WIDTH:
            subject = subject[:_SUBJECT_WIDTH - 3] + "..."
        out(
            f"{cp.number:>4}  {cp.short:<10}  {human_age(cp.age_s()):>5}  {clean(cp.reason)[:16]:<16} "
            f"{clean(cp.branch_name or '(detached)')[:14]:<14} {changed:>7}  {','.join(cp.labels):<9} "
            f"{note}on: {subject}"
        )


def _list_remote(repo: Repo, remote: str, machine: str | None, max_count: int | None, as_json: bool) -> None:
    from recovery.remote.replica import fetch

    replicas = fetch(repo, remote, machine)
    if as_json:
        echo_json([{"machine": r.machine, "worktree": r.worktree, "replica": r.commit,
                    "checkpoints": [cp.to_json() for cp in r.checkpoints[:max_count]]} for r in replicas])
        return
    if not replicas:
        out(f"no checkpoints on {remote}" + (f" for machine {machine}" if machine else ""))
        return
    for r in replicas:
        out(f"{r.machine}/{r.worktree} ({len(r.checkpoints)} checkpoint(s)):")
        out(f"  {'id':<10}  {'age':>5}  {'reason':<18} {'branch':<16} note")
        for cp in r.checkpoints[:max_count]:
            out(f"  {cp.short:<10}  {human_age(cp.age_s()):>5}  {cp.reason[:18]:<18} "
                       f"{clean(cp.branch_name or '(detached)')[:16]:<16} {cp.message or ''}")
    out(f"restore one with: git recover restore {remote}:ID")


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
