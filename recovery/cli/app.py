"""The click application: the ``git recover`` group and its lazily loaded commands.

Subcommands are imported only when they run (click's documented lazy-group
pattern), so ``git recover list`` does not pay for the imports of ``links`` or
``report``.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from pathlib import Path

import click

from recovery import __version__
from recovery.base.errors import EXIT_USAGE
from recovery.base.output import say
from recovery.base.proc import run_foreground
from recovery.cli.common import say_if_interrupted

# name -> "module:attribute"; each module holds one command or command group.
# `hook` is not here: git runs it on every commit, and main() dispatches it
# without importing click (see recovery/cli/hook.py).
COMMANDS: dict[str, str] = {
    "checkpoint": "recovery.cli.checkpoint:checkpoint",
    "list": "recovery.cli.list:list_cmd",
    "show": "recovery.cli.show:show",
    "diff": "recovery.cli.diff:diff",
    "status": "recovery.cli.status:status",
    "restore": "recovery.cli.restore:restore",
    "undo": "recovery.cli.undo:undo",
    "verify": "recovery.cli.verify:verify",
    "gc": "recovery.cli.gc:gc",
    "demo": "recovery.cli.demo:demo",
    "report": "recovery.cli.report:report",
    "drill": "recovery.cli.drill:drill",
    "gates": "recovery.cli.gates:gates",
    "install": "recovery.cli.install:install",
    "uninstall": "recovery.cli.install:uninstall",
    "run": "recovery.cli.run:run",
    "links": "recovery.cli.links:links",
    "push": "recovery.cli.push:push",
    "fetch": "recovery.cli.fetch:fetch",
    "watch": "recovery.cli.watch:watch",
    "agent": "recovery.cli.agent:agent",
    "rewind": "recovery.cli.rewind:rewind",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="git-recover")
def cli() -> None:
    """Atomic checkpoints, quality gates and verified restore for a git working tree.

    Checkpoints live under refs/recovery/; every restore is checkpointed first, so
    `git recover undo` can always bring back what a restore replaced.
    """


def run_cli(args: list[str]) -> int:
    """Run the click application on ``args``; click's own errors become exit
    codes (usage errors exit 3, as documented). RecoverError passes through.
    No arguments at all shows the help, as ``git`` itself does."""
    if not args:
        args = ["--help"]
    if args == ["--help"] and sys.stdout.isatty() and _show_man_page():
        return 0
    say_if_interrupted(args)
    try:
        result = cli.main(args=args, prog_name="git recover", standalone_mode=False)
    except click.exceptions.UsageError as exc:
        # One line, as every other error (click prints usage and a hint as well).
        command = "git recover"
        if exc.ctx is not None:
            command = exc.ctx.command_path
        elif args[0] in COMMANDS:
            # click raises an option's missing value without a context: the
            # command is still the one the user typed.
            command += f" {args[0]}"
        say(f"{exc.format_message()} (see `{command} -h`)")
        return EXIT_USAGE
    except click.exceptions.Abort:
        # click turns Ctrl-C (KeyboardInterrupt) into Abort.
        from recovery.core.intent import interruption_report

        say(interruption_report())
        return 130
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return result if isinstance(result, int) else 0


def man_page() -> Path | None:
    """The installed manual page: ``docs/git-recover.1`` beside the package (a
    checkout or an editable install), else the data file pip put under
    ``<prefix>/share/man/man1``; ``None`` when neither exists."""
    for page in (Path(__file__).resolve().parents[2] / "docs" / "git-recover.1",
                 Path(sys.prefix) / "share" / "man" / "man1" / "git-recover.1"):
        if page.is_file():
            return page
    return None


def _show_man_page() -> bool:
    """Show the manual page with ``man -l`` (so the install's man directory need
    not be on the manpath), as ``git help`` does for git's own commands; ``False``
    when there is no ``man`` or no page, and the caller shows click's help."""
    page = man_page()
    viewer = shutil.which("man")
    if page is None or viewer is None:
        return False
    return run_foreground([viewer, "-l", str(page)], Path.cwd(), os.environ) == 0
