"""``git recover undo``: bring back what the latest restore replaced."""

from __future__ import annotations

import click

from recovery.base.output import out
from recovery.cli.common import open_repo
from recovery.core.restore import undo as undo_restore


@click.command()
def undo() -> None:
    """Restore the safety checkpoint taken by the latest restore. Undo is a
    restore too, so running it again returns to where you were."""
    for line in undo_restore(open_repo()).lines():
        out(line)
