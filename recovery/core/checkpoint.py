"""Taking a checkpoint: capture, commit objects, then the ref, in that order.

Order of writes (docs/design.md): blobs and trees (during the capture), the
index commit, the conflict commit, the checkpoint commit, and only then the ref
``refs/recovery/<wt>/cp/<sha>``, created with compare-and-swap. A crash before
the ref leaves unreferenced objects that ``git gc`` prunes; it never leaves a
ref to a partial checkpoint. A capture that races a writer is retried with
backoff a bounded number of times (git config ``recover.captureAttempts``); a file
that is still changing then is published as git last read it, named as racing in
the checkpoint's notes and in a warning, while every other path was verified
unchanged after it was hashed (a log being appended must not keep a busy tree
from ever being checkpointed, nor be captured stale in silence).
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

from recovery import __version__
from recovery.core.capture import CaptureRace, apply_patch, capture, capture_workdir, shown_paths
from recovery.core.config import GitConfig
from recovery.base.errors import RecoverError
from recovery.base.output import quote_path, warn
from recovery.core.git import GitCommandError
from recovery.core.journal import record_or_warn
from recovery.core.lock import repo_lock
from recovery.core.model import Capture, Checkpoint, encode_message
from recovery.core.refs import checkpoint_ref, update_ref
from recovery.core.repo import Repo

__all__ = ["Checkpoint", "PatchNotApplied", "create_checkpoint", "take"]

ATTEMPTS_KEY = "recover.captureAttempts"
DEFAULT_ATTEMPTS = 5
# Seconds before the second attempt, doubled for each further one (0.05, 0.1,
# 0.2, 0.4: under a second in all): a burst of writes (a formatter, a save) is
# usually over by then.
_FIRST_BACKOFF_S = 0.05
# Checkpoint commits carry a fixed identity, so a repository without user.email
# can still be checkpointed and nobody mistakes them for their own commits.
_IDENTITY = {
    "GIT_AUTHOR_NAME": "git-recover",
    "GIT_AUTHOR_EMAIL": "git-recover@localhost",
    "GIT_COMMITTER_NAME": "git-recover",
    "GIT_COMMITTER_EMAIL": "git-recover@localhost",
}


class PatchNotApplied(RecoverError):
    """The checkpoint was published without the worktree changes of a patch.

    Attributes:
        checkpoint: the published checkpoint; its notes say what is missing.
    """

    def __init__(self, message: str, checkpoint: Checkpoint) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint


def create_checkpoint(repo: Repo, reason: str, message: str | None = None,
                      patch: Path | None = None) -> Checkpoint:
    """Capture the worktree and publish it as a new checkpoint.

    Args:
        repo: the worktree.
        reason: why (``manual``, a hook name, ``restore-safety``...).
        message: an optional note from the user.
        patch: worktree changes set aside from the disk (the pre-commit
            framework's stash patch), applied to the captured worktree tree
            without touching any file.

    Returns:
        The published :class:`Checkpoint`.

    Raises:
        PatchNotApplied: ``patch`` could not be applied; the checkpoint was
            published without it, and its notes say so.
        RecoverError: the capture failed; no ref was written.
    """
    with repo_lock(repo), capture_workdir(repo, "checkpoint") as workdir:
        checkpoint, _ = take(repo, reason, message, workdir, patch)
        return checkpoint


def take(repo: Repo, reason: str, message: str | None, workdir: Path,
         patch: Path | None = None) -> tuple[Checkpoint, Capture]:
    """Capture and publish with the lock already held; the capture's temporary
    index stays in ``workdir`` for the caller (a restore switches from it).

    Raises:
        PatchNotApplied, RecoverError: as :func:`create_checkpoint`.
    """
    config = GitConfig.load(repo.git)
    attempts = max(1, config.get_int(ATTEMPTS_KEY, DEFAULT_ATTEMPTS))
    started = time.perf_counter()
    snap = _capture_settled(repo, workdir, config, attempts)
    patch_error = None
    if patch is not None:
        try:
            snap = apply_patch(repo, snap, patch, workdir)
        except RecoverError as exc:
            patch_error = (f"the worktree changes in {patch} could not be applied ({exc.message}): they are NOT "
                           "in this checkpoint, only in that file")
            snap = replace(snap, notes=snap.notes + (patch_error,))
    capture_s = time.perf_counter() - started
    if snap.racing:
        snap = replace(snap, notes=snap.notes + (
            f"racing: {shown_paths(list(snap.racing), 20)} kept changing while being captured "
            f"({attempts} attempts); the checkpoint holds them as last read, every other file as verified",))
    for item in snap.skipped:
        _warn_skipped(item.path, item.reason, item.size_bytes)
    for note in snap.notes:
        warn(note)
    checkpoint = _publish(repo, snap, reason, message, capture_s)
    _journal_checkpoint(repo, checkpoint)
    if patch_error:
        raise PatchNotApplied(f"checkpoint {checkpoint.short} written, but {patch_error}", checkpoint)
    return checkpoint, snap


def _capture_settled(repo: Repo, workdir: Path, config: GitConfig, attempts: int) -> Capture:
    """Capture until no file changes under it, with backoff; after ``attempts``
    the last capture, its racing paths named.

    Raises:
        RecoverError: every attempt failed before its trees were written (a git
            error, or files vanishing under git); no checkpoint was written.
    """
    attempt = 1
    while True:
        try:
            return capture(repo, workdir, config)
        except CaptureRace as race:
            if attempt >= attempts:
                if race.partial is not None:
                    return race.partial
                raise RecoverError(
                    f"checkpoint failed: {race.message} ({attempts} attempts, git config {ATTEMPTS_KEY}); "
                    "no checkpoint was written"
                ) from None
        except GitCommandError as exc:
            # A git killed by a signal mid-read (SIGBUS on a file truncated under
            # its mmap; lint-staged #804) may succeed next time; anything else is final.
            if exc.returncode >= 0 or attempt >= attempts:
                raise RecoverError(f"checkpoint failed: {exc.message}; no checkpoint was written") from None
        time.sleep(_FIRST_BACKOFF_S * 2 ** (attempt - 1))
        attempt += 1


def _journal_checkpoint(repo: Repo, cp: Checkpoint) -> None:
    """Record the checkpoint in the journal."""
    record_or_warn(repo, "checkpoint", checkpoint=cp.short, reason=cp.reason,
                   capture_s=round(cp.capture_s, 6), skipped=len(cp.skipped))


def _warn_skipped(path: str, reason: str, size_bytes: int) -> None:
    if reason == "special-file":
        warn(f"{quote_path(path)} is a FIFO, socket or device node, which git cannot store; NOT captured "
             "(a tracked path keeps the content its index entry has)")
    elif reason == "unreadable":
        warn(f"untracked directory {quote_path(path)}/ could not be read and was NOT captured")
    elif reason == "size":
        warn(f"untracked {quote_path(path)} ({size_bytes} bytes) is over the size cap and was "
             "NOT captured; raise git config recover.maxUntrackedSize to include it")
    else:
        warn(f"{quote_path(path)}/ is a nested repository without commits and was NOT "
             "captured; commit in it (or ignore it) to include it")


def _publish(repo: Repo, snap: Capture, reason: str, message: str | None, capture_s: float) -> Checkpoint:
    """Write the commit objects, then the ref (last)."""
    git = repo.git.with_env(**_IDENTITY)
    now = datetime.now(timezone.utc)
    head_parent = ["-p", snap.head] if snap.head else []
    where = snap.branch.removeprefix("refs/heads/") if snap.branch else "(detached)"
    index_commit = git.text("commit-tree", snap.index_tree, *head_parent, "-m", f"index on {where}")
    conflict_commit = None
    parents = [*head_parent, "-p", index_commit]
    if snap.conflict is not None:
        merge_parents = [arg for sha in snap.conflict.merge_heads for arg in ("-p", sha)]
        conflict_commit = git.text("commit-tree", snap.conflict.tree, *merge_parents, "-m", "merge state")
        parents += ["-p", conflict_commit]
    metadata = {
        "format": 1,
        "time": now.isoformat(),
        "reason": reason,
        "message": message,
        "version": __version__,
        "worktree": repo.worktree_key,
        "branch": snap.branch,
        "head": snap.head,
        "index_commit": index_commit,
        "index_tree": snap.index_tree,
        "worktree_tree": snap.worktree_tree,
        "conflict_commit": conflict_commit,
        "skipped": [asdict(item) for item in snap.skipped],
        "notes": list(snap.notes),
        "capture_s": round(capture_s, 6),
    }
    subject = f"git-recover checkpoint: {reason} on {where}"
    body = encode_message(subject, message, metadata)
    sha = git.text("commit-tree", snap.worktree_tree, *parents, input=body.encode())
    ref = checkpoint_ref(repo, sha)
    update_ref(repo, ref, sha, None, f"recover: checkpoint ({reason})")
    return Checkpoint(
        sha=sha, ref=ref, time=now, reason=reason, message=message, head=snap.head,
        branch=snap.branch, index_commit=index_commit, index_tree=snap.index_tree,
        worktree_tree=snap.worktree_tree, conflict_commit=conflict_commit, skipped=snap.skipped,
        notes=snap.notes, worktree=repo.worktree_key, version=__version__, capture_s=capture_s,
    )

