"""What each checkpoint was, for ``git recover list``: which of them to show, the
files it changed against its HEAD commit, and that commit's subject.

Two git processes for any number of checkpoints (one per checkpoint would make
``list`` slow on a long history): one ``cat-file --batch-command`` reads every HEAD
commit (its tree and subject; a missing one says so), one ``diff-tree --stdin``
diffs every pair of trees. It replaced dulwich's in-process ``tree_changes``,
which took 5-10 times as long for 11 checkpoints of a 10k-file tree (380-1300 ms
against 70-95 ms, measured side by side), before counting dulwich's own import.
"""

from __future__ import annotations

from dataclasses import dataclass

from recovery.core.git import ObjectReader
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
    """A :class:`Description` per checkpoint id.

    Raises:
        GitCommandError: git could not read the object database at all.
    """
    heads = sorted({cp.head for cp in checkpoints if cp.head})
    commits, present = _read_objects(repo, heads, sorted({cp.worktree_tree for cp in checkpoints}))
    empty = repo.object_format.empty_tree
    pairs: dict[str, tuple[str, str] | None] = {}
    for cp in checkpoints:
        base = commits[cp.head][0] if cp.head and cp.head in commits else (None if cp.head else empty)
        known = base is not None and (base == empty or base in present) and cp.worktree_tree in present
        pairs[cp.sha] = (base, cp.worktree_tree) if base and known else None
    counts = _count_changes(repo, {pair for pair in pairs.values() if pair is not None})
    return {
        cp.sha: Description(counts.get(pair) if (pair := pairs[cp.sha]) else None,
                            commits[cp.head][1] if cp.head and cp.head in commits else None)
        for cp in checkpoints
    }


def _read_objects(repo: Repo, heads: list[str], trees: list[str]) -> tuple[dict[str, tuple[str, str]], set[str]]:
    """One ``cat-file --batch-command`` for every commit in ``heads`` and tree in ``trees``.

    Returns:
        ``({commit id: (tree id, subject)}, {ids of trees that exist})``; a
        missing object is in neither (``diff-tree --stdin`` would skip a missing
        tree in silence and count no change).
    """
    commits: dict[str, tuple[str, str]] = {}
    present: set[str] = set()
    with repo.git.object_reader() as reader:
        _read_batches(reader, heads + trees, commits, present)
        # Then the commits' own trees: a missing one would be skipped as well.
        _read_batches(reader, sorted({tree for tree, _ in commits.values()} - present), commits, present)
    return commits, present


def _read_batches(reader: ObjectReader, ids: list[str], commits: dict[str, tuple[str, str]],
                  present: set[str]) -> None:
    """Ask ``reader`` for ``ids``, recording commits and trees as :func:`_read_objects` returns them."""
    for oid, kind, body in reader.contents(ids):
        if kind == "tree":
            present.add(oid)
        elif kind == "commit":
            header, _, message = body.partition(b"\n\n")
            tree = header.split(b"\n", 1)[0].removeprefix(b"tree ").decode("ascii")
            commits[oid] = (tree, message.decode("utf-8", "replace").strip().split("\n", 1)[0])


def _count_changes(repo: Repo, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], int | None]:
    """Files that differ in each ``(old tree, new tree)`` pair (every tree known
    to exist: ``diff-tree --stdin`` skips a missing one in silence); ``None`` for
    every pair when git fails."""
    if not pairs:
        return {}
    asked = sorted(pairs)
    out = repo.trees_git.run("diff-tree", "--stdin", "-r", "--name-only", "-z", "--ignore-submodules=none",
                             input="".join(f"{a} {b}\n" for a, b in asked).encode(), check=False)
    if out.returncode != 0:  # a tree is missing: `git recover verify` says which
        return {pair: None for pair in asked}
    counts: dict[tuple[str, str], int | None] = {pair: 0 for pair in asked}
    # git echoes each input line ("<tree> <tree>" LF), also for a pair with no
    # difference, then each changed name NUL-terminated: a header follows the
    # previous pair's last NUL (or the previous header) directly.
    headers = {f"{old} {new}\n".encode(): (old, new) for old, new in asked}
    width = len(next(iter(headers)))
    data = out.stdout
    current: tuple[str, str] | None = None
    at = 0
    while at < len(data):
        pair = headers.get(data[at:at + width])
        if pair is not None:
            current = pair
            at += width
            continue
        end = data.find(b"\0", at)
        if end < 0:
            break
        if current is not None:
            counts[current] = (counts[current] or 0) + 1
        at = end + 1
    return counts
