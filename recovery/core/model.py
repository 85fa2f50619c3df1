"""The core's types, and the checkpoint's encoding in its commit message.

Every module of the core (and every layer above) speaks in these values; none of
them runs git or touches a file, so any module may import this one without a loop:

- :class:`ObjectFormat`: SHA-1 or SHA-256 (``extensions.objectFormat``), with its
  id length, null id and empty tree.
- :class:`Skipped`, :class:`ConflictState`, :class:`Capture`: what a capture of
  the live worktree found (nothing published yet).
- :class:`Checkpoint`: a published checkpoint, read back from its commit.
- :class:`TargetState`: what HEAD, the index and the worktree must be after a restore.
- :class:`RestorePhase`, :class:`Intent`: the record of a restore in progress.

A checkpoint is a stash-like commit (git-stash(1), "DISCUSSION"): its tree is
the worktree state, its first parent is HEAD (absent on an unborn branch), its
next parent a commit whose tree is the index, and, while a merge or pick was in
progress, a last parent whose tree holds the unmerged stages and state files.
The message's last line carries the metadata as JSON, so everything needed to
restore is in the object database, none of it in side files.

The value types are :class:`typing.NamedTuple`, not dataclasses: every hook
and checkpoint process imports them, and ``dataclasses`` (with the
``inspect`` it imports) and the code it generates per class cost 13-15 ms of
a 31-35 ms import, NamedTuple 3-4 ms (benchmarks/bench_core.py). Their
``_replace`` and ``_asdict`` are ``dataclasses.replace`` and ``asdict``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, NamedTuple

from recovery.base.errors import RecoverError
from recovery.base.output import clean

METADATA_MARKER = "git-recover-metadata: "
METADATA_FORMAT = 1
SHORT_LEN = 10
# How far ahead of this machine's clock a recorded capture time may be (clocks
# of machines sharing a repository drift; NTP keeps them within seconds).
CLOCK_SKEW = timedelta(minutes=5)
# The order of a checkpoint claiming a later time: the oldest of all.
UNTRUSTED_TIME = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Checkpoint commits carry a fixed identity, so a repository without user.email
# can still be checkpointed and nobody mistakes them for their own commits.
IDENTITY = {
    "GIT_AUTHOR_NAME": "git-recover",
    "GIT_AUTHOR_EMAIL": "git-recover@localhost",
    "GIT_COMMITTER_NAME": "git-recover",
    "GIT_COMMITTER_EMAIL": "git-recover@localhost",
}


class ObjectFormat(Enum):
    """The hash a repository names its objects with (gitrepository-layout(5),
    ``extensions.objectFormat``); ``git rev-parse --show-object-format`` says which.

    Ids are hex strings throughout git-recover, as git prints them; this type knows
    how long they are and which special ids each format has.
    """

    SHA1 = "sha1"
    SHA256 = "sha256"

    @property
    def hex_len(self) -> int:
        """Hex digits in an object id: 40 (SHA-1) or 64 (SHA-256)."""
        return 40 if self is ObjectFormat.SHA1 else 64

    @property
    def null_id(self) -> str:
        """The all-zero id git uses for "no object" (``update-ref``'s old value
        of a ref that must not exist yet, the index's "remove this path")."""
        return "0" * self.hex_len

    @property
    def empty_tree(self) -> str:
        """The id of the empty tree, which git knows without storing it."""
        if self is ObjectFormat.SHA1:
            return "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
        return "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321"

    def is_id(self, text: str) -> bool:
        """``text`` is a full lower-case hex object id of this format."""
        return len(text) == self.hex_len and all(c in "0123456789abcdef" for c in text)


class Skipped(NamedTuple):
    """An untracked path left out of a capture, and why.

    Attributes:
        path: path relative to the worktree top level (``/``-separated).
        reason: ``size`` (over the cap), ``nested-repo-without-commits``,
            ``unreadable`` (a directory git could not open), ``unreadable-file``
            (a file its owner may not read) or ``special-file``
            (a FIFO, socket or device node: git stores none of them; at a tracked
            path the checkpoint keeps the index's content).
        size_bytes: the file's size, 0 for directories.
    """

    path: str
    reason: str
    size_bytes: int = 0


class ConflictState(NamedTuple):
    """An operation in progress: unmerged stages and the state files.

    Attributes:
        tree: a tree with ``stage1``/``stage2``/``stage3`` subtrees (the unmerged
            index entries of each stage) and one blob per state file present.
        merge_heads: commits named in ``MERGE_HEAD`` (kept reachable as parents).
        unmerged_paths: how many paths had stages 1-3.
    """

    tree: str
    merge_heads: tuple[str, ...]
    unmerged_paths: int


class Capture(NamedTuple):
    """The trees of one capture; nothing is published yet.

    Attributes:
        head: HEAD's commit, ``None`` on an unborn branch.
        branch: the full ref HEAD points to (``refs/heads/main``), ``None`` when detached.
        index_tree: the stage-0 entries of the index.
        worktree_tree: tracked and untracked (not ignored) files as on disk.
        conflict: merge state, when an operation was in progress.
        skipped: untracked paths left out, said out loud by the caller.
        notes: other facts worth recording (nested repositories kept as gitlinks).
        index_file: the temporary index holding ``worktree_tree`` with fresh stat
            data; it lives in the caller's work directory.
        racing: paths that changed while they were being captured; the trees hold
            them as git last read them (``recovery.core.capture.CaptureRace``).
        hashed_after_ns: the modification time (ns, by the worktree file
            system's clock) of a file made before the capture looked at any
            file; ``None`` when unknown. Stat data ``index_file`` records is
            trusted only for files changed before it
            (:func:`recovery.core.capture.date_back_index`).
    """

    head: str | None
    branch: str | None
    index_tree: str
    worktree_tree: str
    conflict: ConflictState | None
    skipped: tuple[Skipped, ...]
    notes: tuple[str, ...]
    index_file: Path
    racing: tuple[str, ...] = ()
    hashed_after_ns: int | None = None


class TargetState(NamedTuple):
    """What HEAD, the index and the worktree must be after a restore.

    Attributes:
        head: the commit HEAD must resolve to (``None``: unborn branch).
        branch: ``refs/heads/<name>`` HEAD must point to (``None``: detached).
        index_tree: the index's stage-0 entries.
        worktree_tree: the files on disk (tracked and untracked, not ignored).
        conflict_tree: unmerged stages and merge state files, or ``None``.
    """

    head: str | None
    branch: str | None
    index_tree: str
    worktree_tree: str
    conflict_tree: str | None


class RestorePhase(StrEnum):
    """Where a restore is, as its intent record says; a resumed run knows from
    it which of git's lock files are its own leftovers (and may be removed)."""

    # Files and the index change; the restore takes git's index.lock right after
    # writing this phase, so no crash leaves that lock without a record naming it.
    WORKTREE = "worktree"
    HEAD = "head"  # HEAD and the branch move; git holds their ref locks


class Intent(NamedTuple):
    """An unfinished restore: the intent record, written before the restore touches anything.

    Attributes:
        target: the state being restored.
        checkpoint: id of the checkpoint being restored (``None`` for an abort).
        safety: id of the safety checkpoint holding the state before the restore.
        paths: the pathspecs of a path-limited restore (empty: everything).
        started: UTC time the restore started, ISO 8601.
        pid: process id of the restoring process.
        phase: the :class:`RestorePhase` reached.
        incident: the failure this restore answers (journal link), if any.
    """

    target: TargetState
    checkpoint: str | None
    safety: str
    paths: tuple[str, ...]
    started: str
    pid: int
    phase: RestorePhase = RestorePhase.WORKTREE
    incident: str | None = None


class Checkpoint(NamedTuple):
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
        number: the per-worktree number users type (``#12``), given at creation and
            never changed, like a shell history number; checkpoints written before
            numbers existed get one derived from their time (:mod:`recovery.core.refs`).
        labels: ``good`` / ``undo`` when a label points here (set by the listing).
        number_derived: :attr:`number` was derived, not read from the metadata.
        unchanged: this capture equalled the newest checkpoint, which is returned
            instead of a new one (nothing was written).
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
    number: int = 0
    labels: tuple[str, ...] = ()
    unchanged: bool = False
    number_derived: bool = False

    @property
    def short(self) -> str:
        """The abbreviated commit id users type (10 hex digits)."""
        return self.sha[:SHORT_LEN]

    @property
    def is_safety(self) -> bool:
        """A restore's own safety checkpoint (``restore-safety``, ``restore-continue``,
        ``restore-abort``): the state a restore replaced, not one anybody asked for."""
        return self.reason.startswith("restore-")

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
        data = self._asdict()
        data["skipped"] = [item._asdict() for item in self.skipped]
        data["time"] = self.time.isoformat()
        data["short"] = self.short
        return data


def encode_message(subject: str, user_message: str | None, metadata: dict[str, Any]) -> bytes:
    """The commit message as git stores it: a subject line, the user's note,
    the metadata line.

    A branch name or a note from the command line holding bytes that are not
    UTF-8 arrives as surrogate escapes, which go to git as the bytes they were
    (git makes characters of them in the message's text; the metadata line
    keeps them exactly, as JSON escapes): a strict encoding failed every
    checkpoint on such a branch with a traceback.
    """
    parts = [subject]
    if user_message:
        parts.append(user_message.strip())
    parts.append(METADATA_MARKER + json.dumps(metadata, sort_keys=True, separators=(",", ":")))
    return ("\n\n".join(parts) + "\n").encode("utf-8", "surrogateescape")


def clean_note(note: str) -> str:
    """A checkpoint's note as it is read back and shown: each line
    :func:`recovery.base.output.clean`, the lines kept."""
    return "\n".join(clean(line) for line in note.split("\n"))


def decode(sha: str, ref: str, message: str, now: datetime | None = None) -> Checkpoint:
    """Rebuild a :class:`Checkpoint` from its commit message.

    Metadata arrives with any fetch of ``refs/*`` from a stranger, so it is
    treated as untrusted: free text loses its control characters (a terminal
    escape sequence in a reason must not reach the screen), and a capture time
    more than :data:`CLOCK_SKEW` ahead of ``now`` (default: this machine's
    clock) cannot have been recorded here: the checkpoint is ordered as the
    oldest (:data:`UNTRUSTED_TIME`), so a forged ``9999-12-31`` never becomes
    ``last``, the recovery point or the target of a bare ``restore``, and ``gc``
    drops it by age; a note says so.

    Raises:
        RecoverError: the message has no readable git-recover metadata, or a
            value is not what git-recover writes (see :func:`_validate`).
    """
    _, marker, tail = message.rpartition(METADATA_MARKER)
    try:
        if not marker:
            raise ValueError("no metadata line")
        data = json.loads(tail.strip().splitlines()[0])
        _validate(data)
        notes = tuple(clean(n) for n in data.get("notes", []))
        recorded = datetime.fromisoformat(data["time"])
        if recorded > (now or datetime.now(timezone.utc)) + CLOCK_SKEW:
            notes += (f"recorded time {recorded.isoformat()} is in the future of this machine's clock; "
                      "ordered as the oldest checkpoint",)
            recorded = UNTRUSTED_TIME
        message_text = data.get("message")
        return Checkpoint(
            sha=sha,
            ref=ref,
            time=recorded,
            reason=clean(data["reason"]),
            message=clean_note(message_text) if message_text is not None else None,
            head=data.get("head"),
            branch=data.get("branch"),
            index_commit=data["index_commit"],
            index_tree=data["index_tree"],
            worktree_tree=data["worktree_tree"],
            conflict_commit=data.get("conflict_commit"),
            skipped=tuple(Skipped(**item) for item in data.get("skipped", [])),
            notes=notes,
            worktree=clean(data.get("worktree", "main")),
            version=clean(data.get("version", "")),
            capture_s=float(data.get("capture_s", 0.0)),
            number=int(data.get("number", 0)),
        )
    except KeyError as exc:
        raise RecoverError(f"{ref} is not a git-recover checkpoint (its metadata lacks {clean(str(exc.args[0]))})") from None
    except (ValueError, TypeError, IndexError) as exc:
        raise RecoverError(f"{ref} is not a git-recover checkpoint ({clean(str(exc))})") from None


_OID = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
# git-check-ref-format(1), rules 4, 5 and 10: no control character, space, DEL,
# ~ ^ : ? * [ or backslash anywhere.
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def valid_branch_ref(name: str) -> bool:
    """True when ``name`` is ``refs/heads/<branch>`` and git would accept it as a
    branch: every rule of git-check-ref-format(1), and no branch name starting
    with ``-`` or equal to ``HEAD`` (git-branch refuses those).

    Why: a branch name from a checkpoint's metadata is written into HEAD by a
    restore; one git cannot use (``x@{1}``: every later ``rev-parse`` reads it
    as a reflog entry) leaves a restore that ``--continue`` can never finish.
    """
    if not name.startswith("refs/heads/"):
        return False
    try:
        name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False  # a lone surrogate no file name or argument can carry (forged "\ud800")
    branch = name.removeprefix("refs/heads/")
    if not branch or branch == "HEAD" or branch.startswith("-") or name == "@":
        return False
    if _REF_FORBIDDEN.search(name) or ".." in name or "@{" in name or "//" in name:
        return False
    if name.endswith(("/", ".")):
        return False
    return not any(part.startswith(".") or part.endswith(".lock") or not part for part in name.split("/"))


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
    if branch is not None and not (isinstance(branch, str) and valid_branch_ref(branch)):
        raise ValueError("branch is not a valid branch ref")
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
    number = data.get("number", 0)
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise ValueError("number is not a whole number")
    capture_s = data.get("capture_s", 0.0)
    if isinstance(capture_s, bool) or not isinstance(capture_s, (int, float)):
        raise ValueError("capture_s is not a number")
