"""``git recover run -- <git args>`` for the operations git gives no pre-hook
(checkout/switch, reset --hard, stash, clean, restore, a fast-forward pull;
githooks(5) has nothing that runs before them) (issue #3).

The wrapped command is the user's own git command, not an internal one: it runs
attached to the terminal (pager, editor, progress), with the user's hooks, via
:func:`recovery.gates.runner.run_foreground`, not :meth:`recovery.git.Git.run`
(which captures output and disables hooks). It gets ``GIT_RECOVER_RUN=1`` so our
own hooks inside it only chain the user's hooks: the validation happens once,
here, afterwards.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from recovery.config import GitConfig
from recovery.errors import EXIT_OK, UsageError
from recovery.gates.config import load_gates
from recovery.gates.policy import Validation, say, take_checkpoint, validate
from recovery.gates.runner import run_foreground
from recovery.git import user_env
from recovery.hooks.dispatch import RUN_ENV
from recovery.repo import Repo


def _refuse_unprotected(git_args: Sequence[str]) -> None:
    """Refuse what the checkpoint taken first cannot protect (hostile testing):

    * git's global options (``-C``, ``--git-dir``, ``--work-tree``...): the
      command would run in another repository than the one checkpointed;
    * ``clean -x``/``-X``: ignored files are never in a checkpoint;
    * ``stash drop``/``stash clear``: stash entries are not in a checkpoint.
    """
    if not git_args or git_args[0].startswith("-"):
        raise UsageError("git recover run takes a git command first, not git's global options "
                         "(-C, --git-dir, ...): run it from inside the repository it should act on")
    command, rest = git_args[0], list(git_args[1:])
    flags = "".join(a[1:] for a in rest if a.startswith("-") and not a.startswith("--"))
    if command == "clean" and ("x" in flags or "X" in flags):
        raise UsageError("git clean -x/-X deletes ignored files, which no checkpoint holds; "
                         "run it without git recover run if you mean it")
    if command == "stash" and rest[:1] in (["drop"], ["clear"]):
        raise UsageError(f"git stash {rest[0]} deletes stash entries, which no checkpoint holds; "
                         "run it without git recover run if you mean it")


def run_wrapped(repo: Repo, git_args: Sequence[str]) -> int:
    """Checkpoint (reason ``pre-run``), run ``git <git_args>``, then validate stage
    ``run`` on a checkpoint of the result (reason ``post-run``).

    Returns:
        git's exit status when git fails (the gates do not run on a half-done
        operation); else the validation's (0, 2 blocked/restored, 1 restore impossible).

    Raises:
        UsageError: the gate configuration is bad, or the command would act on
            another repository or destroy what no checkpoint holds (checked
            before git runs).
    """
    _refuse_unprotected(git_args)
    gates = load_gates(repo.toplevel, GitConfig.load(repo.git))
    command = "git " + shlex.join(git_args)
    before = take_checkpoint(repo, "pre-run")
    rc = run_foreground(["git", *git_args], Path.cwd(), {**user_env(), RUN_ENV: "1"})
    if rc != EXIT_OK:
        where = f"; the state before it is checkpoint {before.short} (git recover restore {before.short})" \
            if before else ""
        say(f"`{command}` exited {rc}: gates not run{where}")
        return rc
    if not gates.for_stage("run"):
        return EXIT_OK
    spec = Validation("run", ("run",), base=before.head if before else None, interactive=sys.stderr.isatty(),
                      came_from=before.branch if before else None)
    return validate(repo, spec, gates, take_checkpoint(repo, "post-run")).exit_code
