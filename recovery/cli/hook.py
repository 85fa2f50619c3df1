"""``git recover hook <name>``: what the installed hook scripts (and the
pre-commit framework's hook ids) run (issue #3). Hidden from ``--help``."""

from __future__ import annotations

from pathlib import Path

import click

from recovery.hooks import HOOKS
from recovery.hooks.dispatch import dispatch


@click.command(hidden=True, context_settings={"ignore_unknown_options": True,
                                              "allow_interspersed_args": False})
@click.option("--chain", type=click.Path(path_type=Path), help="The foreign hook ours chains.")
@click.argument("name", type=click.Choice(HOOKS))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def hook(chain: Path | None, name: str, args: tuple[str, ...]) -> int:
    """Run hook NAME with git's arguments ARGS."""
    return dispatch(name, args, chain)
