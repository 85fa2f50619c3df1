"""``git recover install`` and ``git recover uninstall``: the native git hooks."""

from __future__ import annotations

import sys

import click

from recovery.base.output import out
from recovery.cli.common import open_repo
from recovery.hooks import HOOKS
from recovery.gates.trust import trust
from recovery.hooks.push_guard import HIDDEN_REFS, hide_checkpoint_refs
from recovery.hooks.install import install as install_hooks
from recovery.hooks.install import uninstall as uninstall_hooks

_HOOK_OPTION = click.option("--hook", "names", multiple=True, type=click.Choice(HOOKS),
                            help="Only this hook (repeatable; default: all of them).")


@click.command()
@_HOOK_OPTION
@click.option("--use-path", is_flag=True,
              help="Hooks find git-recover on PATH instead of running this Python interpreter.")
def install(names: tuple[str, ...], use_path: bool) -> None:
    """Install git-recover's hooks (checkpoint before commit, merge, rebase and push;
    validate after). Hooks already there are kept and chained. Also marks this
    repository trusted (recover.trusted), so its hooks and `git recover run` run its gates."""
    repo = open_repo()
    for line in install_hooks(repo, None if use_path else sys.executable, names or HOOKS):
        out(line)
    out(trust(repo))
    if hide_checkpoint_refs(repo):
        out(f"hidden: {HIDDEN_REFS} is not served to clones, fetches or ls-remote (transfer.hideRefs)")


@click.command()
@_HOOK_OPTION
def uninstall(names: tuple[str, ...]) -> None:
    """Remove git-recover's hooks and put back the hooks they chained."""
    for line in uninstall_hooks(open_repo(), names or HOOKS):
        out(line)
