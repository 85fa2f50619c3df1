"""What each checkpoint was, for ``git recover list``: which of them to show, the
files it changed against its HEAD commit, and that commit's subject.

dulwich reads the objects in-process: one git process per checkpoint would make
``list`` slow on a long history of checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass

from recovery.core.model import Checkpoint
from recovery.core.repo import Repo


@dataclass(frozen=True)
class Description:
    """What a checkpoint was, beyond its metadata.

    Attributes:
        changed_files: files that differ between its worktree and its HEAD commit
            (``None`` when an object is missing: ``git recover verify`` says which).
        head_subject: the first line of its HEAD commit's message (``None`` on an
            unborn branch or when the commit is missing).
    """

    changed_files: int | None
    head_subject: str | None


def select(checkpoints: list[Checkpoint], *, named_only: bool = False, reason: str | None = None,
           branch: str | None = None, include_safety: bool = False) -> list[Checkpoint]:
    """Filter ``checkpoints`` (order kept).

    Args:
        named_only: only those a user asked for or named (:func:`recovery.core.gc.is_named`).
        reason: only this reason (``manual``, ``pre-commit``, ``restore-safety``...).
        branch: only those taken on this branch (``main`` or ``refs/heads/main``).
        include_safety: also restores' safety checkpoints (hidden by default: they are
            the state a restore replaced, reachable as ``undo``).
    """
    from recovery.core.gc import is_named

    ref = None if branch is None else (branch if branch.startswith("refs/heads/") else f"refs/heads/{branch}")
    return [
        cp for cp in checkpoints
        if (include_safety or not cp.is_safety or reason is not None)
        and (not named_only or is_named(cp))
        and (reason is None or cp.reason == reason)
        and (ref is None or cp.branch == ref)
    ]


def describe(repo: Repo, checkpoints: list[Checkpoint]) -> dict[str, Description]:
    """A :class:`Description` per checkpoint id."""
    from dulwich.diff_tree import tree_changes
    from dulwich.objects import Commit, ObjectID
    from dulwich.repo import Repo as DulwichRepo

    store = DulwichRepo(str(repo.common_dir)).object_store
    found: dict[str, Description] = {}
    for cp in checkpoints:
        head = None
        try:
            head = store[ObjectID(cp.head.encode())] if cp.head else None
        except KeyError:
            pass
        commit = head if isinstance(head, Commit) else None
        subject = commit.message.decode("utf-8", "replace").strip().split("\n", 1)[0] if commit else None
        try:
            changed: int | None = len(list(tree_changes(store, commit.tree if commit else None,
                                                        ObjectID(cp.worktree_tree.encode()))))
        except KeyError:
            changed = None
        if cp.head and commit is None:
            changed = None
        found[cp.sha] = Description(changed, subject)
    return found
