"""``git recover watch [start|stop|status]``: continuous checkpoints between git operations."""

from __future__ import annotations

import sys

import click

from recovery.base.output import out
from recovery.cli.common import open_repo
from recovery.watch.watcher import DEFAULT_MAX_WAIT_S, DEFAULT_SETTLE_S

_SETTLE = click.option("--settle", "settle_s", type=click.FloatRange(min=0.05), default=DEFAULT_SETTLE_S,
                       show_default=True, help="Seconds of quiet before a checkpoint.")
_MAX_WAIT = click.option("--max-wait", "max_wait_s", type=click.FloatRange(min=0.1), default=DEFAULT_MAX_WAIT_S,
                         show_default=True, help="A checkpoint at least this often (seconds) while changes keep coming.")


@click.group(invoke_without_command=True)
@_SETTLE
@_MAX_WAIT
@click.option("--log", hidden=True, help="The log file (set by `watch start` for the background watcher).")
@click.pass_context
def watch(ctx: click.Context, settle_s: float, max_wait_s: float, log: str | None) -> None:
    """Checkpoint the worktree whenever changes settle (in the foreground until
    Ctrl-C or SIGTERM; `start` runs it in the background). One watcher per worktree."""
    if ctx.invoked_subcommand is not None:
        return
    from recovery.watch.service import run_foreground

    run_foreground(open_repo(), settle_s, max_wait_s, sys.stdout, log)


@watch.command("start")
@_SETTLE
@_MAX_WAIT
def start_cmd(settle_s: float, max_wait_s: float) -> None:
    """Start a background watcher for this worktree."""
    from recovery.watch.service import start

    info = start(open_repo(), settle_s, max_wait_s)
    out(f"watcher started: {info.describe()}")
    out("stop it with: git recover watch stop")


@watch.command("stop")
def stop_cmd() -> None:
    """Stop this worktree's background watcher (it checkpoints pending changes first)."""
    from recovery.watch.service import stop

    info = stop(open_repo())
    out(f"watcher stopped (pid {info.pid})" if info else "no watcher is running for this worktree")


@watch.command("status")
def status_cmd() -> None:
    """Say whether a watcher runs for this worktree, and since when."""
    from recovery.watch.service import read_info

    info = read_info(open_repo())
    if info is None:
        out("no watcher is running for this worktree")
    elif info.running:
        out(f"watcher running: {info.describe()}")
    else:
        out(f"no watcher is running; a stale record of a killed one remains (pid {info.pid}); "
                   "`git recover watch start` removes it")
