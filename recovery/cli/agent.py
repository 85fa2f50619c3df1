"""``git recover agent install|uninstall [--local]``: Claude Code hooks for this project."""

from __future__ import annotations

import click

from recovery.base.output import out
from recovery.cli.common import open_repo

_LOCAL = click.option("--local", is_flag=True,
                      help="Use .claude/settings.local.json (personal, not committed) instead of .claude/settings.json.")


@click.group()
def agent() -> None:
    """Checkpoint before every prompt and every file-changing tool call of a
    Claude Code agent (project hooks), so `git recover rewind N` can undo a prompt."""


@agent.command("install")
@_LOCAL
def install_cmd(local: bool) -> None:
    """Add git-recover's hooks to the project's Claude Code settings, keeping every other hook."""
    from recovery.agent.settings import install

    for line in install(open_repo().toplevel, local):
        out(line)


@agent.command("uninstall")
@_LOCAL
def uninstall_cmd(local: bool) -> None:
    """Remove git-recover's hooks (only those) from the project's Claude Code settings."""
    from recovery.agent.settings import uninstall

    for line in uninstall(open_repo().toplevel, local):
        out(line)
