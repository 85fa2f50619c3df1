"""``git recover restore [ID] [-- PATHS]``: restore a checkpoint, verified."""

from __future__ import annotations

import click

from recovery.base.output import out, progress
from recovery.cli.common import open_repo, toplevel_paths
from recovery.base.errors import UsageError
from recovery.core.model import Checkpoint
from recovery.core.refs import resolve
from recovery.core.repo import Repo
from recovery.core.restore import abort_restore, continue_restore
from recovery.core.restore import restore as restore_checkpoint


class _PathsAfterDashDash(click.Command):
    """Splits ``-- PATHS`` off before click parses, because click drops ``--``
    and would take the first path for the checkpoint id."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta["paths"] = tuple(args[cut + 1:])
            args = args[:cut]
        return super().parse_args(ctx, args)


@click.command(cls=_PathsAfterDashDash)
@click.argument("checkpoint_id", default="last")
@click.option("-n", "--dry-run", is_flag=True, help="List what would change; change nothing.")
@click.option("--continue", "resume", is_flag=True, help="Finish an interrupted restore.")
@click.option("--abort", is_flag=True, help="Undo an interrupted restore (back to its safety checkpoint).")
def restore(checkpoint_id: str, dry_run: bool, resume: bool, abort: bool) -> None:
    """Restore HEAD, the index and the worktree to a checkpoint (default: last,
    the newest that is not a restore's safety checkpoint), after checkpointing the current state; then prove the result is
    byte-identical. With `-- PATHS`, restore only those paths (HEAD stays).
    `REMOTE:ID` restores a checkpoint pushed to REMOTE from any machine;
    `prompt:N` is the state just before prompt N of the latest agent session.

    Usage: git recover restore [ID] [-- PATHS...]
    """
    given: tuple[str, ...] | None = click.get_current_context().meta.get("paths")
    if given is not None and (not given or not all(given)):
        # `restore last -- $FILES` or `-- "$FILES"` with an empty variable: an
        # empty path is the top level, and a whole-tree restore removes every
        # file created since.
        raise UsageError("`--` is followed by no path or an empty one; leave it out to restore the whole tree")
    paths = given or ()
    repo = open_repo()
    if resume and abort:
        raise UsageError("--continue and --abort exclude each other")
    if resume or abort:
        if paths or checkpoint_id != "last" or dry_run:
            raise UsageError("--continue/--abort take no checkpoint, paths or --dry-run")
        with progress("finishing the interrupted restore"):
            result = abort_restore(repo) if abort else continue_restore(repo)
    else:
        target = _resolve(repo, checkpoint_id)
        with progress(f"restoring {target.short}"):
            result = restore_checkpoint(repo, target, toplevel_paths(repo, paths), dry_run=dry_run)
    for line in result.lines():
        out(line)


def _resolve(repo: Repo, name: str) -> Checkpoint:
    """A local checkpoint name, ``REMOTE:ID`` for one pushed to a remote
    (fetched first, so it is restorable in any clone), or ``prompt:N``, the
    state just before prompt N of the latest agent session."""
    remote, colon, rest = name.partition(":")
    if colon:
        from recovery.remote.replica import fetch, find, is_remote

        if is_remote(repo, remote):
            fetch(repo, remote)
            return find(repo, remote, rest)[1]
        if remote == "prompt":
            from recovery.agent.rewind import prompt_checkpoint

            return prompt_checkpoint(repo, rest)
        raise UsageError(f"{remote!r} is not a remote of this repository (see `git remote`), "
                         f"and no checkpoint is named {name!r}")
    return resolve(repo, name)
