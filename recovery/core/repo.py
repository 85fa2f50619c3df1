"""Finding the repository and worktree git-recover works on.

A :class:`Repo` pins every path absolutely once, so later git calls do not depend
on the caller's working directory or on variables git sets for hooks: inside
``git commit -a`` git exports ``GIT_INDEX_FILE=.git/index.lock`` (githooks(5)),
and a checkpoint taken there must still read the user's real index.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from recovery.base.errors import RecoverError
from recovery.core.git import Git
from recovery.core.model import ObjectFormat


# The name of the index file :attr:`Repo.trees_git` points git at; never created.
ABSENT_INDEX = "absent-index"


class Repo(NamedTuple):
    """One worktree of a git repository.

    Attributes:
        toplevel: the worktree's top-level directory.
        git_dir: the worktree's own git directory (``.git`` or ``.git/worktrees/<name>``).
        common_dir: the directory shared by all worktrees (objects, refs, config, hooks).
        index_file: the worktree's real index, ``<git_dir>/index``.
        worktree_key: ``main`` for the main worktree, ``wt-<name>`` for a linked one;
            checkpoints of each worktree live under ``refs/recovery/<worktree_key>/``.
        git: a runner bound to this worktree and its real index.
        object_format: SHA-1 or SHA-256 (``extensions.objectFormat``).
    """

    toplevel: Path
    git_dir: Path
    common_dir: Path
    index_file: Path
    worktree_key: str
    git: Git
    object_format: ObjectFormat = ObjectFormat.SHA1

    @property
    def state_dir(self) -> Path:
        """Per-worktree directory for git-recover's own files (lock, intent record, journal)."""
        return self.git_dir / "recovery"

    @property
    def trees_git(self) -> Git:
        """A runner for commands that compare trees and read nothing else
        (``diff-tree``): its index is a file that does not exist.

        Why: git 2.39's ``diff-tree`` reads the whole index before it compares
        two trees, and raw output uses nothing from it; at 80k files that read
        was 8-10 ms of every call (a restore makes four). A missing index file
        reads as an empty one. Nothing creates this file; were one put there,
        a damaged one would fail the command loudly, and a valid one would
        change nothing the raw output shows. ``core.fsmonitor=false``: git
        asks the fsmonitor hook about any index it reads without a token,
        this empty one included (a process, 30 ms with git's watchman hook).
        """
        return self.git.with_index(self.state_dir / ABSENT_INDEX).with_config("core.fsmonitor", "false")

    @property
    def ref_prefix(self) -> str:
        """This worktree's namespace under ``refs/recovery/`` (with trailing slash)."""
        return f"refs/recovery/{self.worktree_key}/"

    @classmethod
    def discover(cls, cwd: Path | None = None) -> Repo:
        """Find the worktree containing ``cwd`` (default: the current directory).

        Raises:
            RecoverError: not inside a git worktree, or the repository is bare.
        """
        start = Path(cwd or os.getcwd())
        probe = Git(start)
        # One process on the hot path; a failure is diagnosed by a second one.
        found = probe.run("rev-parse", "--is-bare-repository", "--absolute-git-dir", "--git-common-dir",
                          "--show-toplevel", "--show-object-format", check=False)
        if found.returncode != 0:
            bare = probe.run("rev-parse", "--is-bare-repository", check=False)
            if bare.returncode != 0:
                raise RecoverError(f"not a git repository: {start}")
            if bare.text == "true":
                raise RecoverError("git-recover needs a work tree; this repository is bare")
            raise RecoverError("git-recover must run inside the work tree, not the .git directory")
        out = found.text.splitlines()
        top = out[3]
        git_dir = Path(out[1])
        common = Path(out[2])
        common = (common if common.is_absolute() else start / common).resolve()
        key = "main" if git_dir.resolve() == common else f"wt-{git_dir.name}"
        toplevel = Path(top)
        env = {
            "GIT_DIR": str(git_dir),
            "GIT_WORK_TREE": str(toplevel),
            "GIT_INDEX_FILE": str(git_dir / "index"),
        }
        return cls(toplevel, git_dir, common, git_dir / "index", key, Git(toplevel, env), ObjectFormat(out[4]))
