"""A cheap answer to "has anything changed since the last continuous checkpoint?".

The watcher and the agent hooks checkpoint whenever the worktree may have
changed; most of the time (an agent's second tool call that only reads, a
burst of events under an ignored directory) nothing did. A full capture copies
the index and hashes files; this check costs one ``git status`` and one
``lstat`` per path git lists (the agent hook's budget is twice Python's
start-up plus one ``git status``).

The fingerprint is the output of ``git status --porcelain=v2 --branch
--untracked-files=all --no-renames`` (HEAD, branch, index blob ids and modes of every
changed entry, every untracked file) followed by the size, mtime and ctime in
nanoseconds, inode and mode of every path that output names, kept and compared
byte for byte. Not a digest of it: importing ``hashlib`` cost the agent hook
7 ms of a 70 ms process, and a digest could only be weaker; the output grows
with the change, not the tree. an edit of a file that was already
modified changes its stat data, a rename-save its inode, a ``chown`` its ctime
(a file the last checkpoint could not read, and so left out, may be readable
now). Clean tracked files are not listed, and a clean file that changes shows
up in the status output.
What it cannot see: a file rewritten with the same size inside one mtime tick of
the previous fingerprint (the racy-git case; on a filesystem with nanosecond
timestamps this needs two writes in the same nanosecond), and merge state files.

The last fingerprint and the checkpoint it belongs to are kept in
``<git-dir>/recovery/fingerprint`` (a line ``<ref> <sha>``, then the
fingerprint), shared by the watcher and the agent hooks, since any checkpoint
of the current state serves both.

When the state has changed, the capture that follows takes its list of
changed paths from this same ``git status`` (:class:`StatusListing`) instead
of looking at every file again: one pass over the tree, not two.
"""

from __future__ import annotations

import os
import time

from recovery.core.git import Git

TYPE_CHECKING = False  # typing's and pathlib's imports cost the agent hook; mypy reads the name as typing's
if TYPE_CHECKING:
    from pathlib import Path

    from recovery.core.repo import Repo

    # The agent hook passes strings (pathlib's import is 5 ms of it), the watcher its Repo's paths.
    StrPath = str | os.PathLike[str]

FINGERPRINT_FILE = "fingerprint"
# The reason of the agent hooks' checkpoint of the state a prompt began from:
# what `rewind N` goes back to, and what retention keeps ahead of other
# automatic checkpoints (recovery.core.gc).
AGENT_PROMPT_REASON = "agent-prompt"


class StatusListing:
    """What the fingerprint's ``git status`` saw, for the capture that follows
    (:func:`recovery.core.capture.capture`).

    A plain class: this module is on the agent hook's path (see :mod:`recovery.core.git`).

    Attributes:
        index_id: ``(inode, size, mtime ns, ctime ns)`` of the real index, the
            same before and after status ran: the index status compared the
            worktree with. git replaces the index by renaming a new file over
            it, so another index has another inode.
        stdout: status's raw output (porcelain v2, NUL-terminated records).
        stderr: what it said (files and directories it could not read).
        listed_at: when status returned, in seconds of ``time.monotonic()``.
    """

    __slots__ = ("index_id", "stdout", "stderr", "listed_at")

    def __init__(self, index_id: tuple[int, int, int, int], stdout: bytes, stderr: str, listed_at: float) -> None:
        self.index_id = index_id
        self.stdout = stdout
        self.stderr = stderr
        self.listed_at = listed_at


def index_identity(index_file: StrPath) -> tuple[int, int, int, int] | None:
    """``(inode, size, mtime ns, ctime ns)`` of ``index_file``; ``None`` when it
    cannot be looked at (no index yet)."""
    try:
        st = os.stat(index_file)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def state_fingerprint(toplevel: StrPath, git_dir: StrPath) -> tuple[bytes | None, StatusListing | None]:
    """The fingerprint of the worktree's state now, and what its status listed.

    Args:
        toplevel: the worktree's top-level directory.
        git_dir: its git directory.

    Returns:
        ``(fingerprint, listing)``: the fingerprint is ``None`` when ``git
        status`` failed (then the caller takes a checkpoint: not knowing is not
        "unchanged"); the listing is ``None`` then, and when the index was
        replaced while status ran or there is none.
    """
    index_file = os.path.join(git_dir, "index")
    env = {"GIT_DIR": os.fspath(git_dir), "GIT_WORK_TREE": os.fspath(toplevel), "GIT_INDEX_FILE": index_file}
    before = index_identity(index_file)
    # --no-renames: a staged rename is a deletion and an addition, records the
    # capture reads as they are (see recovery.core.capture.changes_from_status).
    status = Git(toplevel, env).run("status", "--porcelain=v2", "-z", "--branch", "--untracked-files=all",
                                    "--no-renames", "--ignore-submodules=none", check=False)
    listed_at = time.monotonic()
    if status.returncode != 0:
        return None, None
    listing = None
    if before is not None and index_identity(index_file) == before:
        listing = StatusListing(before, status.stdout, status.stderr, listed_at)
    stats: list[str] = []
    for path in _status_paths(status.stdout):
        try:
            st = os.lstat(os.path.join(toplevel, path))
            stats.append(f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}:{st.st_mode}")
        except OSError:
            stats.append("-")
    return status.stdout + b"\0\0" + "\0".join(stats).encode(), listing


def _status_paths(out: bytes) -> list[str]:
    """The paths named by ``git status --porcelain=v2 -z`` output
    (git-status(1), "Porcelain Format Version 2"): the last field of each
    entry; a rename or copy (``2``) is followed by its original path."""
    paths: list[str] = []
    records = iter(out.split(b"\0"))
    for record in records:
        if not record or record.startswith(b"#"):
            continue
        kind = record[:1]
        fields = {b"1": 8, b"2": 9, b"u": 10}.get(kind, 1)
        parts = record.split(b" ", fields)
        if len(parts) > fields:
            paths.append(os.fsdecode(parts[fields]))
        if kind == b"2":
            paths.append(os.fsdecode(next(records, b"")))
    return paths


def last_captured(state_dir: StrPath, common_dir: StrPath) -> tuple[bytes, str] | None:
    """``(fingerprint, checkpoint sha)`` of the last continuous checkpoint, or
    ``None`` when there is none, the record is unreadable, or its checkpoint's
    ref is gone (``gc`` dropped it: the state is no longer held, so it must be
    captured again)."""
    try:
        with open(os.path.join(state_dir, FINGERPRINT_FILE), "rb") as handle:
            head, _, fingerprint = handle.read().partition(b"\n")
        ref, sha = head.decode("utf-8", "surrogateescape").split(" ")
    except (OSError, ValueError):
        return None
    if not _ref_exists(common_dir, ref, sha):
        return None
    return fingerprint, sha


def _ref_exists(common_dir: StrPath, ref: str, sha: str) -> bool:
    """Whether ``ref`` points at ``sha``, read from the files git keeps refs in
    (loose ref, then ``packed-refs``; gitrepository-layout(5)) without starting git."""
    try:
        with open(os.path.join(common_dir, ref)) as loose:
            return loose.read().strip() == sha
    except OSError:
        pass
    try:
        with open(os.path.join(common_dir, "packed-refs"), "rb") as packed:
            return any(line.rstrip(b"\n") == f"{sha} {ref}".encode() for line in packed)
    except OSError:
        return False


def remember(state_dir: Path, fingerprint: bytes, ref: str, sha: str) -> None:
    """Record that checkpoint ``sha`` (ref ``ref``) holds the state whose fingerprint is
    ``fingerprint`` (taken *before* its capture, so a change made during the
    capture makes the next fingerprint differ). Written atomically, so a reader
    never sees half a record.

    Raises:
        OSError: the state directory cannot be written.
    """
    from recovery.base.fs import atomic_write

    state_dir.mkdir(parents=True, exist_ok=True)
    # Not fsynced: a record lost in a crash costs one extra capture, nothing more.
    atomic_write(state_dir / FINGERPRINT_FILE, f"{ref} {sha}\n".encode() + fingerprint, durable=False)


def unchanged(toplevel: StrPath, git_dir: StrPath, common_dir: StrPath
              ) -> tuple[bytes | None, StatusListing | None, str | None]:
    """The state's fingerprint now, what its status listed, and the checkpoint
    that already holds it.

    Returns:
        ``(fingerprint, listing, sha)``: ``sha`` is the last continuous
        checkpoint when the state has not changed since it, else ``None``;
        ``fingerprint`` and ``listing`` as :func:`state_fingerprint`.
    """
    fingerprint, listing = state_fingerprint(toplevel, git_dir)
    last = last_captured(os.path.join(git_dir, "recovery"), common_dir)
    if fingerprint is not None and last is not None and last[0] == fingerprint:
        return fingerprint, listing, last[1]
    return fingerprint, listing, None


def checkpoint_new(repo: Repo, reason: str, message: str | None, fingerprint: bytes | None,
                   listing: StatusListing | None = None) -> str:
    """Take a checkpoint and remember it as the one holding ``fingerprint``,
    unless it left a file out (over the size cap, unreadable, a nested
    repository without commits, untracked files the user's git does not
    show): the fingerprint cannot tell when such a file
    becomes capturable (the cap raised, a group joined, a first commit made),
    so the next agent hook or watcher event captures again instead of reusing
    a checkpoint that lacks it. ``listing``: what the fingerprint's status
    found changed, which the capture uses instead of looking again.

    Returns:
        The new checkpoint's sha.

    Raises:
        RecoverError: the capture failed; nothing was published.
    """
    from recovery.core.checkpoint import create_checkpoint

    from recovery.core.capture import UNLISTED_NOTE

    cp = create_checkpoint(repo, reason, message, listing=listing)
    # A FIFO holds no data to miss. Untracked files left out by the user's
    # status.showUntrackedFiles=no are in the fingerprint all the same (its
    # status lists them), so once the setting was lifted the checkpoint without
    # them was reused for ever (hostile testing).
    complete = all(item.reason == "special-file" for item in cp.skipped) and UNLISTED_NOTE not in cp.notes
    if fingerprint is not None and complete:
        remember(repo.state_dir, fingerprint, cp.ref, cp.sha)
    return cp.sha


def checkpoint_if_changed(repo: Repo, reason: str, message: str | None = None) -> tuple[str, bool]:
    """Take a checkpoint unless the state is the one the last continuous
    checkpoint holds.

    Args:
        repo: the worktree.
        reason: the checkpoint's reason (``watch``, ``agent-prompt``, ``agent-tool``).
        message: its note.

    Returns:
        ``(checkpoint sha, taken)``: the new checkpoint and ``True``, or the
        existing one that holds this state and ``False``.

    Raises:
        RecoverError: the capture failed; nothing was published.
    """
    fingerprint, listing, sha = unchanged(repo.toplevel, repo.git_dir, repo.common_dir)
    if sha is not None:
        return sha, False
    return checkpoint_new(repo, reason, message, fingerprint, listing), True
