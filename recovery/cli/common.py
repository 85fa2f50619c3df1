"""Helpers shared by the CLI commands: finding the repository, printing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from recovery.base.errors import UsageError
from recovery.base.output import out
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
