"""``git recover fetch [REMOTE]``: bring replicated checkpoints back from a remote."""

from __future__ import annotations

import click

from recovery.base.output import out
from recovery.cli.common import open_repo


@click.command()
@click.argument("remote", default="origin")
@click.option("--machine", help="Only this machine's checkpoints.")
def fetch(remote: str, machine: str | None) -> None:
    """Fetch the checkpoints every machine (or --machine) pushed to REMOTE
    (default: origin); list them with `git recover list --remote REMOTE` and
    restore one with `git recover restore REMOTE:ID`."""
    from recovery.remote.replica import fetch as fetch_replicas

    replicas = fetch_replicas(open_repo(), remote, machine)
    for replica in replicas:
        out(f"{replica.machine}/{replica.worktree}: {len(replica.checkpoints)} checkpoint(s)")
    if not replicas:
        out(f"no checkpoints on {remote}")
