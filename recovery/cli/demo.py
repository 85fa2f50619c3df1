"""``git recover demo``: checkpoint, damage and restore a real tree, measured."""

from __future__ import annotations

from pathlib import Path

import click

from recovery.measure.demo import run_demo


@click.command()
@click.option("--source", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Directory to copy as the demo repository (default: git-recover's own package source).")
@click.option("--keep", is_flag=True, help="Keep the demo repository and print where it is.")
def demo(source: Path | None, keep: bool) -> None:
    """Copy a real tree into a temporary repository, commit it, make some
    uncommitted work, checkpoint, break the tree (delete, corrupt, commit the
    damage), restore, and prove every file byte for byte."""
    run_demo(source, keep)
