"""``git recover push [REMOTE]``: send this worktree's checkpoints and journal to a remote."""

from __future__ import annotations

import click

from recovery.base.output import out, quote_path, warn
from recovery.cli.common import open_repo


@click.command()
@click.argument("remote", default="origin")
@click.option("--allow-secrets", is_flag=True, help="Send files that look like secrets anyway.")
def push(remote: str, allow_secrets: bool) -> None:
    """Replicate checkpoints to REMOTE (default: origin) under
    refs/recovery/machines/<machine>/<worktree>: only what the remote lacks,
    compare-and-swap. Untracked or uncommitted files that look like secrets are
    refused unless --allow-secrets; `recover.push.exclude` paths are never sent."""
    from recovery.remote.replica import push as push_replica

    result = push_replica(open_repo(), remote, allow_secrets)
    for finding in result.secrets_allowed:
        warn(f"sent {quote_path(finding.path)} ({', '.join(finding.kinds)}): --allow-secrets")
    if result.excluded:
        names = ", ".join(quote_path(p) for p in result.excluded[:10])
        out(f"left out ({len(result.excluded)} path(s), recover.push.exclude): {names}")
    out(f"pushed {len(result.sent)} new checkpoint(s) to {remote} as {result.ref} "
               f"({result.total} there in all)")
