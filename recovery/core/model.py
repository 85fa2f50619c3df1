"""The checkpoint as an object: what a checkpoint commit records and how its
metadata is written into, and read back from, the commit message.

A checkpoint is a stash-like commit (git-stash(1), "DISCUSSION"): its tree is
the worktree state, its first parent is HEAD (absent on an unborn branch), its
next parent a commit whose tree is the index, and, while a merge or pick was in
progress, a last parent whose tree holds the unmerged stages and state files.
The message's last line carries the metadata as JSON, so everything needed to
restore is in the object database, none of it in side files.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from recovery.core.capture import Skipped
from recovery.base.errors import RecoverError

METADATA_MARKER = "git-recover-metadata: "
METADATA_FORMAT = 1
SHORT_LEN = 10


@dataclass(frozen=True)
class Checkpoint:
    """One published checkpoint.

    Attributes:
        sha: the checkpoint commit; its tree is :attr:`worktree_tree`.
        ref: ``refs/recovery/<worktree>/cp/<sha>``.
        time: capture time, UTC, microseconds.
        reason: why it was taken (``manual``, ``pre-commit``, ``restore-safety``...).
        message: the user's note (``-m``), or ``None``.
        head: HEAD's commit at capture, ``None`` on an unborn branch.
        branch: ``refs/heads/<name>`` HEAD pointed to, ``None`` when detached.
        index_commit: the commit whose tree is the index.
        index_tree: the index's stage-0 entries as a tree.
        worktree_tree: tracked and untracked, not ignored, files.
        conflict_commit: unmerged stages and merge state files, or ``None``.
        skipped: untracked paths left out (size cap, nested repository).
        notes: other facts said at capture time.
        worktree: the worktree key (``main`` or ``wt-<name>``).
        version: the git-recover version that wrote it.
        capture_s: seconds the capture took.
    """

    sha: str
    ref: str
    time: datetime
    reason: str
    message: str | None
    head: str | None
    branch: str | None
    index_commit: str
    index_tree: str
    worktree_tree: str
    conflict_commit: str | None = None
    skipped: tuple[Skipped, ...] = ()
    notes: tuple[str, ...] = ()
    worktree: str = "main"
    version: str = ""
    capture_s: float = 0.0
    labels: tuple[str, ...] = field(default=(), compare=False)

    @property
    def short(self) -> str:
        """The abbreviated commit id users type (10 hex digits)."""
        return self.sha[:SHORT_LEN]

    @property
    def branch_name(self) -> str | None:
        """The branch without ``refs/heads/`` (``None`` when detached)."""
        if self.branch is None:
            return None
        return self.branch.removeprefix("refs/heads/")

    def age_s(self, now: datetime | None = None) -> float:
        """Seconds since capture (the recovery point's age)."""
        return ((now or datetime.now(timezone.utc)) - self.time).total_seconds()

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (times as ISO 8601 UTC strings)."""
        data = asdict(self)
        data["time"] = self.time.isoformat()
        data["short"] = self.short
        return data


def encode_message(subject: str, user_message: str | None, metadata: dict[str, Any]) -> str:
    """The commit message: a subject line, the user's note, the metadata line."""
    parts = [subject]
    if user_message:
        parts.append(user_message.strip())
    parts.append(METADATA_MARKER + json.dumps(metadata, sort_keys=True, separators=(",", ":")))
    return "\n\n".join(parts) + "\n"


def decode(sha: str, ref: str, message: str) -> Checkpoint:
    """Rebuild a :class:`Checkpoint` from its commit message.

    Raises:
        RecoverError: the message has no readable git-recover metadata.
    """
    _, marker, tail = message.rpartition(METADATA_MARKER)
    try:
        if not marker:
            raise ValueError("no metadata line")
        data = json.loads(tail.strip().splitlines()[0])
        _validate(data)
        return Checkpoint(
            sha=sha,
            ref=ref,
            time=datetime.fromisoformat(data["time"]),
            reason=data["reason"],
            message=data.get("message"),
            head=data.get("head"),
            branch=data.get("branch"),
            index_commit=data["index_commit"],
            index_tree=data["index_tree"],
            worktree_tree=data["worktree_tree"],
            conflict_commit=data.get("conflict_commit"),
            skipped=tuple(Skipped(**item) for item in data.get("skipped", [])),
            notes=tuple(data.get("notes", [])),
            worktree=data.get("worktree", "main"),
            version=data.get("version", ""),
            capture_s=float(data.get("capture_s", 0.0)),
        )
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise RecoverError(f"{ref} is not a git-recover checkpoint ({exc})") from None


_OID = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_BRANCH = re.compile(r"^refs/heads/[^\x00-\x20~^:?*\[\\]+$")


def _validate(data: dict[str, Any]) -> None:
    """Reject metadata that is not ours before any of it reaches git's command
    line: refs under refs/recovery/ arrive with any ``+refs/*:refs/*`` fetch, and
    a value such as ``--output=FILE`` would be an option, not an object id."""
    for key in ("index_commit", "index_tree", "worktree_tree"):
        if not _OID.match(str(data[key])):
            raise ValueError(f"{key} is not an object id")
    for key in ("head", "conflict_commit"):
        if data.get(key) is not None and not _OID.match(str(data[key])):
            raise ValueError(f"{key} is not an object id")
    branch = data.get("branch")
    if branch is not None and (not _BRANCH.match(str(branch)) or ".." in branch or branch.endswith((".lock", "/"))):
        raise ValueError("branch is not a branch ref")
    if datetime.fromisoformat(data["time"]).tzinfo is None:
        raise ValueError("time has no UTC offset")
    if not isinstance(data["reason"], str):
        raise ValueError("reason is not a string")
    for key in ("message", "worktree", "version"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ValueError(f"{key} is not a string")
    if not isinstance(data.get("notes", []), list) or not all(isinstance(n, str) for n in data.get("notes", [])):
        raise ValueError("notes is not a list of strings")
    if not isinstance(data.get("skipped", []), list) or not all(isinstance(i, dict) for i in data.get("skipped", [])):
        raise ValueError("skipped is not a list of objects")
    capture_s = data.get("capture_s", 0.0)
    if isinstance(capture_s, bool) or not isinstance(capture_s, (int, float)):
        raise ValueError("capture_s is not a number")
