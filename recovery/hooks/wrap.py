"""``git recover run -- <git args>`` for the operations git gives no pre-hook
(checkout/switch, reset --hard, stash, clean, restore, a fast-forward pull;
githooks(5) has nothing that runs before them).

The wrapped command is the user's own git command, not an internal one: it runs
attached to the terminal (pager, editor, progress), with the user's hooks, via
:func:`recovery.base.proc.run_foreground`, not :meth:`recovery.core.git.Git.run`
(which captures output and disables hooks). It gets ``GIT_RECOVER_RUN=1`` so our
own hooks inside it only chain the user's hooks: the validation happens once,
here, afterwards.

Commands that only read (``status``, ``log``, ``diff``, ``show``...) run as they
are: nothing to checkpoint, nothing to validate.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from recovery.base.output import quote_path, say, unquote_c_style
from recovery.core.config import GitConfig
from recovery.base.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from recovery.gates.config import load_gates
from recovery.core.checkpoint import checkpoint_or_warn
from recovery.gates.policy import STAGE_LIMITS, UndoPlan, Validation, validate
from recovery.base.proc import run_foreground
from recovery.gates.trust import allowed_gates
from recovery.core.git import Git, user_env
from recovery.hooks.dispatch import RUN_ENV
from recovery.core.integrity import files_under, tree_paths
from recovery.core.intent import intent_path
from recovery.core.model import Checkpoint
from recovery.core.repo import Repo


# git commands that never change HEAD, the index, the worktree or a ref
# (git(1), "interrogation commands" and their porcelain): run as they are.
READ_ONLY = frozenset({
    "status", "log", "diff", "show", "blame", "annotate", "grep", "shortlog", "describe", "whatchanged",
    "ls-files", "ls-tree", "ls-remote", "cat-file", "rev-parse", "rev-list", "show-ref", "for-each-ref",
    "diff-tree", "diff-files", "diff-index", "name-rev", "count-objects", "check-ignore", "check-attr",
    "merge-base", "cherry", "range-diff", "var", "help", "version",
})


def _refuse_unprotected(repo: Repo, git_args: Sequence[str]) -> list[str]:
    """Refuse what the checkpoint taken first cannot protect (hostile testing),
    and return the command with one level of git alias expanded.

    * git's global options (``-C``, ``--git-dir``, ``--work-tree``...): the
      command would run in another repository than the one checkpointed;
    * a shell alias (``!...``): what it runs cannot be checked;
    * ``stash drop``/``stash clear``: stash entries are not in a checkpoint;
    * ``worktree remove --force``: another worktree's changes are not in it;
    * ``branch -D`` (``-d --force``) and ``tag -d`` of a ref whose commits no
      other branch, tag, remote-tracking branch or HEAD reaches: the checkpoint
      reaches HEAD's history only, so those commits would be lost to ``git gc``
      (:func:`_refuse_ref_losses`).

    ``clean`` is checked against the checkpoint itself (:func:`_refuse_clean_losses`).
    """
    if not git_args or git_args[0].startswith("-"):
        raise UsageError("git recover run takes a git command first, not git's global options "
                         "(-C, --git-dir, ...): run it from inside the repository it should act on")
    args = list(git_args)
    alias = repo.git.run("config", "--get", f"alias.{args[0]}", check=False).text
    if alias:
        if alias.startswith("!"):
            raise UsageError(f"`{args[0]}` is a shell alias; run the git commands it runs through "
                             "git recover run one by one")
        args = shlex.split(alias) + args[1:]
        if not args or args[0].startswith("-"):
            raise UsageError(f"alias `{git_args[0]}` starts with git's global options; git recover run refuses them")
    command, rest = args[0], args[1:]
    if command == "stash" and rest[:1] in (["drop"], ["clear"]):
        raise UsageError(f"git stash {rest[0]} deletes stash entries, which checkpoints do not keep (only one "
                         "taken before the stash holds its changes); run it without git recover run if you mean it")
    if command == "worktree" and rest[:1] == ["remove"] and ("--force" in rest or "-f" in rest):
        raise UsageError("git worktree remove --force deletes another worktree's changes, which no checkpoint "
                         "of this one holds; run it without git recover run if you mean it")
    _refuse_ref_losses(repo, command, rest)
    return args


def _refuse_ref_losses(repo: Repo, command: str, rest: Sequence[str]) -> None:
    """Refuse ``branch -D`` / ``branch -d --force`` / ``tag -d`` when a deleted
    ref is the only one reaching some commit (as ``stash drop`` is refused).

    ``branch -d`` without force is left to git, which refuses to delete an
    unmerged branch by itself.

    Raises:
        UsageError: naming the refs and the commit only they reach.
    """
    flags = [a for a in rest if a.startswith("-")]
    names = [a for a in rest if not a.startswith("-")]
    if command == "branch":
        short = "".join(f[1:] for f in flags if not f.startswith("--"))
        forced = "D" in short or (("d" in short or "--delete" in flags) and ("f" in short or "--force" in flags))
        prefix = "refs/heads/"
    elif command == "tag":
        forced = "--delete" in flags or "d" in "".join(f[1:] for f in flags if not f.startswith("--"))
        prefix = "refs/tags/"
    else:
        return
    if not forced or not names:
        return
    deleted = {prefix + name for name in names}
    lost: list[str] = []
    for ref in sorted(deleted):
        tip = repo.git.run("rev-parse", "-q", "--verify", f"{ref}^{{commit}}", check=False).text
        if not tip:
            continue  # not there, or not a commit: git says so itself
        reaching = repo.git.run("for-each-ref", "--format=%(refname)", f"--contains={tip}",
                                "refs/heads/", "refs/tags/", "refs/remotes/").text.split()
        in_head = repo.git.run("merge-base", "--is-ancestor", tip, "HEAD", check=False).returncode == 0
        if not in_head and not set(reaching) - deleted:
            lost.append(f"{ref.removeprefix(prefix)} ({tip[:10]})")
    if lost:
        what = "branch" if command == "branch" else "tag"
        raise UsageError(f"git {command} would delete {what}(es) whose commits no other branch, tag or HEAD "
                         f"reaches: {', '.join(lost)}; no checkpoint holds them, so run it without "
                         "git recover run if you mean it")


def _refuse_clean_losses(repo: Repo, args: Sequence[str], before: Checkpoint | None) -> None:
    """Dry-run a ``git clean`` and refuse it if it would delete anything the
    ``pre-run`` checkpoint does not hold: ignored files (``-x``), nested
    repositories (``-ff``), untracked files over the size cap."""
    if not args or args[0] != "clean":
        return
    if before is None:
        raise UsageError("no pre-run checkpoint could be taken, so git clean is not run")
    cwd = Path.cwd()
    dry = Git(cwd, repo.git.env).run("-c", "core.quotePath=false", "clean", "--dry-run",
                                     *[a for a in args[1:] if a not in ("-i", "--interactive")], check=False)
    held = tree_paths(repo, before.worktree_tree)
    lost: list[str] = []
    for raw in dry.stdout.split(b"\n"):
        if not raw.startswith(b"Would remove "):
            continue
        # Never resolve(): an untracked symlink to / is removed by git clean as
        # a link; following it would walk the whole filesystem.
        target = os.path.normpath(os.path.join(cwd, unquote_c_style(raw.removeprefix(b"Would remove "))))
        lost += [rel for rel in _files_to_remove(target, repo.toplevel) if rel not in held]
    if lost:
        raise UsageError(f"git clean would delete what no checkpoint holds "
                         f"({', '.join(quote_path(p) for p in sorted(lost)[:5])}"
                         f"{' and more' if len(lost) > 5 else ''}): ignored files, nested repositories or "
                         "files over the size cap; run it without git recover run if you mean it")


def _files_to_remove(target: str, toplevel: Path) -> list[str]:
    """The files and symlinks ``git clean`` removes for one ``Would remove``
    line, relative to ``toplevel``: the path itself, or everything under a
    real directory (symlinks below it are removed as links, never followed)."""
    if os.path.islink(target) or not os.path.isdir(target):
        return [os.path.relpath(target, toplevel)]
    return files_under(target, toplevel)


def run_wrapped(repo: Repo, git_args: Sequence[str]) -> int:
    """Checkpoint (reason ``pre-run``), run ``git <git_args>``, then validate stage
    ``run`` on a checkpoint of the result (reason ``post-run``); a failing
    ``restore`` gate restores the ``pre-run`` checkpoint before this returns
    (the operation is undone, the state before it comes back as it was).

    Returns:
        git's exit status when git fails (the gates do not run on a half-done
        operation) or the command only reads; else the validation's (0, 2
        blocked/undone, 1 undo impossible).

    Raises:
        UsageError: the gate configuration is bad, or the command would act on
            another repository or destroy what no checkpoint holds (checked
            before git runs).
    """
    expanded = _refuse_unprotected(repo, git_args)
    if expanded[0] in READ_ONLY:
        return run_foreground(["git", *git_args], Path.cwd(), {**user_env(), RUN_ENV: "1"})
    if intent_path(repo).exists():
        say(f"`git {shlex.join(git_args)}` refused: a restore was interrupted and the worktree is half-restored; "
            "run `git recover restore --continue` to finish it or `git recover restore --abort` to go back")
        return EXIT_FINDINGS
    config = GitConfig.load(repo.git)
    gates = allowed_gates(repo, config, load_gates(repo.toplevel, config))
    command = "git " + shlex.join(git_args)
    # The command as its note: several `run`s in a row left checkpoints that
    # `list` told apart by nothing but their time.
    before = checkpoint_or_warn(repo, "pre-run", message=f"before {command}")
    _refuse_clean_losses(repo, expanded, before)
    rc = run_foreground(["git", *git_args], Path.cwd(), {**user_env(), RUN_ENV: "1"})
    if rc != EXIT_OK:
        where = (f"; the state before it is checkpoint {before.short} (#{before.number}; "
                 f"git recover restore {before.short})") if before else ""
        say(f"`{command}` exited {rc}: gates not run{where}")
        return rc
    if not gates.for_stage("run"):
        _say_way_back(command, before)
        return EXIT_OK
    after = checkpoint_or_warn(repo, "post-run")
    plan = UndoPlan(f"`{command}`", "run", before.head, before.branch, after.head if after else None,
                    checkpoint=before) if before and not _same_state(before, after) else None
    spec = Validation("run", ("run",), base=before.head if before else None, interactive=sys.stderr.isatty(),
                      strongest=STAGE_LIMITS["run"], undo=plan)
    code = validate(repo, spec, gates, after).exit_code
    if code == EXIT_OK:
        _say_way_back(command, before)
    return code


def _say_way_back(command: str, before: Checkpoint | None) -> None:
    """Name the command that brings back the state before a completed ``run``.

    Why: ``undo`` belongs to restores. After ``run -- reset --hard`` a user who
    typed ``undo`` went back to an older restore's state, which could lie
    commits behind, instead of to the state the reset replaced.
    """
    if before is not None:
        say(f"`{command}` done; the state before it is checkpoint {before.short} (#{before.number}): "
            f"git recover restore {before.short} brings it back (undo is for restores)")


def _same_state(before: Checkpoint, after: Checkpoint | None) -> bool:
    """The command changed nothing a checkpoint holds: there is nothing to undo
    (a failure was there before it)."""
    return after is not None and (before.head, before.branch, before.index_tree, before.worktree_tree) == (
        after.head, after.branch, after.index_tree, after.worktree_tree)
