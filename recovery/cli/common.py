"""Helpers shared by the CLI commands: finding the repository, printing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from recovery.base.errors import RecoverError, UsageError
from recovery.base.output import out, say
from recovery.core.repo import Repo


_found: dict[str, Repo] = {}


def open_repo() -> Repo:
    """The worktree around the current directory (RecoverError outside one),
    found once per directory and process: every command asks, and so does the
    check for an interrupted restore that runs before it (one git process each)."""
    here = os.getcwd()
    if here not in _found:
        _found[here] = Repo.discover()
    return _found[here]


def say_if_interrupted(args: list[str]) -> None:
    """Every command says so while a restore is interrupted: the worktree is
    half-restored, and whatever the user meant to do, that comes first. A
    restore still running (its process holds the lock) is said to be in
    progress: telling the user to --continue or --abort it would be wrong. The
    commands that resolve it (``restore --continue``/``--abort``) and help do not."""
    if args[0].startswith("-") or (args[0] == "restore" and ("--continue" in args or "--abort" in args)):
        return
    from recovery.core.intent import in_progress, intent_path, read_intent

    try:
        repo = open_repo()
    except RecoverError:
        return  # outside a repository: the command itself says so
    if not intent_path(repo).exists():
        return
    try:
        intent = read_intent(repo)
    except RecoverError:
        intent = None  # a damaged record: interrupted (status names the damage)
    if intent is not None and in_progress(repo, intent):
        say(f"a restore is in progress (pid {intent.pid}): the worktree changes until it finishes")
    else:
        say("a restore was interrupted and the worktree is half-restored: run "
            "`git recover restore --continue` to finish it or `git recover restore --abort` to go back")


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    out(json.dumps(data, indent=2, sort_keys=True, default=str))


def toplevel_paths(repo: Repo, paths: tuple[str, ...]) -> tuple[str, ...]:
    """Pathspecs given relative to the current directory, made relative to the
    top level (git's own rule for pathspecs; magic ``:``-pathspecs pass through).

    Raises:
        UsageError: a path lies outside the worktree (git would stop with a
            fatal error half-way through the command).
    """
    here = Path(os.getcwd())
    out = []
    for path in paths:
        if path.startswith(":"):
            out.append(path)
            continue
        relative = os.path.relpath(here / path, repo.toplevel)
        if relative == ".." or relative.startswith("../"):
            raise UsageError(f"{path}: outside the worktree {repo.toplevel}")
        out.append(relative)
    return tuple(out)
