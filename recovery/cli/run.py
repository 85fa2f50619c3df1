"""``git recover run -- <git args>``: checkpoint, run git, validate."""

from __future__ import annotations

import click

from recovery.cli.common import open_repo
from recovery.hooks.wrap import run_wrapped


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("git_args", nargs=-1, type=click.UNPROCESSED, required=True)
def run(git_args: tuple[str, ...]) -> int:
    """Checkpoint, run `git GIT_ARGS`, run the gates of stage `run`, and restore
    the last good checkpoint when one fails (by policy). For the operations git
    gives no pre-hook: checkout/switch, reset --hard, stash, clean, restore, pull.

    Exit status: git's own when it fails; else 0, or 2 when a gate failed.
    """
    return run_wrapped(open_repo(), git_args)
