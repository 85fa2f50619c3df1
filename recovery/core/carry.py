"""The state before an operation, derived from the state after it.

An operation (a checkout, a merge, a pull, a rebase) moved HEAD from commit
``before`` to commit ``after`` and left the user's local changes (staged,
unstaged, untracked) on top of ``after``. Undoing the operation, not the user's
work, means: HEAD back on ``before``, and the local changes carried across the
way ``git checkout`` carries them (git-checkout(1): local modifications are kept
when the files they touch are the same in both commits, else it refuses).

That is a three-way merge per file with ``after`` as the base, the current state
as one side and ``before`` as the other, done twice: once for the worktree
(tracked and untracked files as on disk) and once for the index. Only git's
trivial merges are accepted (``read-tree -m --aggressive``: one side unchanged,
or both the same); a file the operation changed that the user also changed is a
conflict, and the carry is refused before anything is touched, because resolving
it would touch the user's change.
"""

from __future__ import annotations

from pathlib import Path

from recovery.base.errors import RecoverError
from recovery.core.model import Capture, TargetState
from recovery.core.repo import Repo


class CarryConflict(RecoverError):
    """The user's local changes touch files the operation changed.

    Attributes:
        paths: the conflicting paths (relative to the top level).
    """

    def __init__(self, paths: list[str]) -> None:
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        super().__init__(f"your local changes to {shown} touch what the operation changed")
        self.paths = paths


def carried_state(repo: Repo, workdir: Path, now: Capture, before: str | None, branch: str | None) -> TargetState:
    """The state with HEAD at ``before`` (on ``branch``) and the local changes of
    ``now`` (relative to its HEAD) carried over.

    Args:
        repo: the worktree.
        workdir: a private directory for temporary index files.
        now: the capture after the operation (its ``head`` is the operation's result).
        before: HEAD before the operation (``None``: an unborn branch).
        branch: the branch (``refs/heads/...``) HEAD was on before, ``None`` when detached.

    Returns:
        The :class:`TargetState` to restore (no merge state: an operation that
        finished left none).

    Raises:
        CarryConflict: a local change touches a file that differs between the two commits.
    """
    base = _tree(repo, now.head)
    theirs = _tree(repo, before)
    worktree = _merge(repo, workdir / "carry-worktree", base, now.worktree_tree, theirs)
    index = _merge(repo, workdir / "carry-index", base, now.index_tree, theirs)
    return TargetState(before, branch, index, worktree, None)


def _tree(repo: Repo, commit: str | None) -> str:
    return repo.git.text("rev-parse", f"{commit}^{{tree}}") if commit else repo.object_format.empty_tree


def _merge(repo: Repo, index_file: Path, base: str, ours: str, theirs: str) -> str:
    """``theirs`` with the changes from ``base`` to ``ours`` applied, when every
    path merges trivially; a fresh temporary index, never the user's."""
    git = repo.git.with_index(index_file)
    git.run("read-tree", "-m", "-i", "--aggressive", base, ours, theirs)
    unmerged = git.run("ls-files", "-u", "-z").stdout  # "mode sha stage\tpath" entries
    if unmerged:
        paths = sorted({entry.partition(b"\t")[2].decode("utf-8", "surrogateescape")
                        for entry in unmerged.split(b"\0") if entry})
        raise CarryConflict(paths)
    return git.text("write-tree")
