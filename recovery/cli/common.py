"""Helpers shared by the CLI commands: finding the repository, printing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from recovery.base.output import out
from recovery.core.repo import Repo


def open_repo() -> Repo:
    """The worktree around the current directory (RecoverError outside one)."""
    return Repo.discover()


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    out(json.dumps(data, indent=2, sort_keys=True, default=str))


def toplevel_paths(repo: Repo, paths: tuple[str, ...]) -> tuple[str, ...]:
    """Pathspecs given relative to the current directory, made relative to the
    top level (git's own rule for pathspecs; magic ``:``-pathspecs pass through)."""
    here = Path(os.getcwd())
    out = []
    for path in paths:
        if path.startswith(":"):
            out.append(path)
        else:
            out.append(os.path.relpath(here / path, repo.toplevel))
    return tuple(out)
