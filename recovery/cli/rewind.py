"""``git recover rewind [N] [--session ID]``: back to the state just before prompt N of an agent session."""

from __future__ import annotations

import click

from recovery.base.output import out
from recovery.cli.common import open_repo


@click.command()
@click.argument("number", required=False, type=click.IntRange(min=1))
@click.option("--session", "session", metavar="ID", help="The session (a unique prefix; default: the latest).")
@click.option("-n", "--dry-run", is_flag=True, help="List what would change; change nothing.")
def rewind(number: int | None, session: str | None, dry_run: bool) -> None:
    """Restore the state just before prompt NUMBER (default: the latest prompt)
    of an agent session, everything its tools and shell commands changed
    included; verified, and undone with `git recover undo`. `git recover list
    --session` shows the prompts."""
    from recovery.agent.rewind import rewind as rewind_prompt

    target, result = rewind_prompt(open_repo(), session, number, dry_run)
    line = target.prompt.line if target.prompt.line is not None else "(prompt text not recorded)"
    where = "just before" if target.exact else "before the first file-changing tool call of"
    out(f"rewinding to {where} prompt {target.prompt.number} of session {target.session}: {line}")
    for text in result.lines():
        out(text)
