"""Entry point of ``git-recover`` (and so of ``git recover``).

Subcommands are imported only when they run (click's documented lazy-group
pattern), so ``git-recover hook pre-commit`` on every commit does not pay for the
imports of ``links`` or ``report``.
"""

from __future__ import annotations

import importlib
import sys

import click

from recovery import __version__
from recovery.errors import EXIT_ERROR, EXIT_USAGE, RecoverError

# name -> "module:attribute"; each module holds one command or command group.
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
    "hook": "recovery.cli.hook:hook",
    "run": "recovery.cli.run:run",
    "links": "recovery.cli.links:links",
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
        return getattr(importlib.import_module(module_name), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="git-recover")
def cli() -> None:
    """Atomic checkpoints, quality gates and verified restore for a git working tree.

    Checkpoints live under refs/recovery/; every restore is checkpointed first, so
    `git recover undo` can always bring back what a restore replaced.
    """


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit status.

    Expected failures (:class:`RecoverError`) become one line on stderr and their
    exit code; click usage errors exit 3 (bad arguments, as documented).
    """
    try:
        result = cli.main(args=argv, prog_name="git recover", standalone_mode=False)
    except click.exceptions.UsageError as exc:
        exc.show()
        return EXIT_USAGE
    except click.exceptions.Abort:
        click.echo("git-recover: aborted", err=True)
        return 130
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except RecoverError as exc:
        click.echo(f"git-recover: {exc.message}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("git-recover: interrupted (if a restore was running, `git recover status` says how "
                   "to finish it)", err=True)
        return 130
    except OSError as exc:
        # A state file in the way, a full disk, a permission problem: one line.
        where = f": {exc.filename}" if exc.filename else ""
        click.echo(f"git-recover: {exc.strerror or exc}{where}", err=True)
        return EXIT_ERROR
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
