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

One state, one checkpoint: a capture whose state (HEAD and its branch, the index
tree, the worktree tree, the merge state) equals the newest checkpoint of the
worktree publishes nothing and returns that checkpoint, marked ``unchanged``;
the exception is a user's note (``checkpoint -m``) that the newest one does not
carry, since naming a state is the point of that call. Every new checkpoint gets
the worktree's next number (one more than the highest in use; ``gc`` never
drops the newest, so a number is never given twice). After publishing, the
automatic retention (:func:`recovery.core.gc.auto_gc`) runs when it is due, so
every caller (hooks, ``run``, the watcher, agent hooks) gets both.

One capture per commit: :func:`create_checkpoint` keeps its capture's
temporary index, and :func:`from_last_capture` builds the next checkpoint from
it when no file changed since (post-commit after pre-commit), reading only
HEAD and the index again.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from recovery import __version__
from recovery.core.capture import (
    OPERATION_NOTE,
    OPERATIONS_IN_PROGRESS,
    CaptureRace,
    apply_patch,
    capture,
    capture_workdir,
    merge_state_files,
    shown_paths,
)
from recovery.core.config import GitConfig
from recovery.core.fingerprint import StatusListing
from recovery.base.errors import RecoverError
from recovery.base.output import quote_path, warn
from recovery.core.git import GitCommandError
from recovery.core.journal import record_or_warn
from recovery.core.lock import repo_lock
from recovery.core.model import IDENTITY, Capture, Checkpoint, clean_note, encode_message
from recovery.core.refs import (checkpoint_ref, list_checkpoints, read_head, record_legacy_numbers, start_listing,
                                update_ref)
from recovery.core.repo import Repo

__all__ = ["Checkpoint", "PatchNotApplied", "create_checkpoint", "from_last_capture", "publish_state", "take"]

ATTEMPTS_KEY = "recover.captureAttempts"
DEFAULT_ATTEMPTS = 5
# Seconds before the second attempt, doubled for each further one (0.05, 0.1,
# 0.2, 0.4: under a second in all): a burst of writes (a formatter, a save) is
# usually over by then.
_FIRST_BACKOFF_S = 0.05
LAST_CAPTURE = "last-capture"


class PatchNotApplied(RecoverError):
    """The checkpoint was published without the worktree changes of a patch.

    Attributes:
        checkpoint: the published checkpoint; its notes say what is missing.
    """

    def __init__(self, message: str, checkpoint: Checkpoint) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint


def create_checkpoint(repo: Repo, reason: str, message: str | None = None,
                      patch: Path | None = None, config: GitConfig | None = None,
                      by_user: bool = False, listing: StatusListing | None = None) -> Checkpoint:
    """Capture the worktree and publish it as a new checkpoint.

    Args:
        repo: the worktree.
        reason: why (``manual``, a hook name, ``restore-safety``...).
        message: an optional note from the user.
        patch: worktree changes set aside from the disk (the pre-commit
            framework's stash patch), applied to the captured worktree tree
            without touching any file.
        config: the git config, when the caller has read it (a hook reads it
            once for its gates and its checkpoint).
        by_user: the user asked for it (``git recover checkpoint``), not a
            hook, the watcher or an agent: ``message`` names the state even
            when it is unchanged, and notes about an operation in progress are said.
        listing: what a ``git status`` just found changed (the agent hook's and
            the watcher's fingerprint), used by the first capture attempt
            instead of looking at every file again.

    Returns:
        The published :class:`Checkpoint`, or the newest one with ``unchanged``
        set when the state equals it (see the module doc); then automatic
        retention runs when it is due.

    Raises:
        PatchNotApplied: ``patch`` could not be applied; the checkpoint was
            published without it, and its notes say so.
        RecoverError: the capture failed; no ref was written.
    """
    with repo_lock(repo):
        with capture_workdir(repo, "checkpoint") as workdir:
            config = config or GitConfig.load(repo.git)
            checkpoint, snap = take(repo, reason, message, workdir, patch, config, by_user=by_user,
                                    listing=listing)
            if patch is None and not snap.racing:
                _keep_capture(repo, checkpoint, snap.index_file)
        if not checkpoint.unchanged:
            from recovery.core.gc import auto_gc

            auto_gc(repo, checkpoint, config)
        return checkpoint


def take(repo: Repo, reason: str, message: str | None, workdir: Path,
         patch: Path | None = None, config: GitConfig | None = None,
         check: Callable[[Capture], None] | None = None, by_user: bool = False,
         listing: StatusListing | None = None) -> tuple[Checkpoint, Capture]:
    """Capture and publish with the lock already held, or return the newest
    checkpoint (``unchanged``) when the state equals it; the capture's temporary
    index stays in ``workdir`` for the caller (a restore switches from it).

    Args:
        patch: worktree changes set aside from the disk, applied to the capture.
        config: the ``recover.*`` git config, when the caller has read it.
        check: called with the capture before it is published; what it raises
            propagates and nothing is published (a restore that is refused
            leaves no safety checkpoint behind).
        by_user, listing: as for :func:`create_checkpoint`.

    Raises:
        PatchNotApplied, RecoverError: as :func:`create_checkpoint`.
    """
    config = config or GitConfig.load(repo.git)
    refs = start_listing(repo)  # read while the capture runs; nothing else writes them under the lock
    attempts = config.get_int(ATTEMPTS_KEY, DEFAULT_ATTEMPTS, minimum=1)
    started = time.perf_counter()
    try:
        snap = _capture_settled(repo, workdir, config, attempts, listing)
    finally:
        existing = list_checkpoints(repo, started=refs)
    patch_error = None
    if patch is not None:
        try:
            snap = apply_patch(repo, snap, patch, workdir)
        except RecoverError as exc:
            patch_error = (f"the worktree changes in {patch} could not be applied ({exc.message}): they are NOT "
                           "in this checkpoint, only in that file")
            snap = snap._replace(notes=snap.notes + (patch_error,))
    capture_s = time.perf_counter() - started
    if snap.racing:
        snap = snap._replace(notes=snap.notes + (
            f"racing: {shown_paths(list(snap.racing), 20)} kept changing while being captured "
            f"({attempts} attempts); the checkpoint holds them as last read, every other file as verified",))
    for item in snap.skipped:
        _warn_skipped(item.path, item.reason, item.size_bytes)
    for note in snap.notes:
        # An operation in progress is said when such a checkpoint is restored;
        # at capture time only to whoever asked for it: a rebase's own hooks
        # taking theirs is no news (a new user took it for an alarm).
        if by_user or not note.startswith(OPERATION_NOTE):
            warn(note)
    if check is not None:
        check(snap)
    newest = existing[0] if existing else None
    if (newest is not None and patch_error is None and _same_state(repo, newest, snap)
            and not _names_it(by_user, message, newest)):
        record_or_warn(repo, "checkpoint", checkpoint=newest.short, reason=reason, unchanged=True,
                       capture_s=round(capture_s, 6))
        return newest._replace(unchanged=True), snap
    checkpoint = _publish(repo, snap, reason, message, capture_s, _next_number(repo, existing))
    _journal_checkpoint(repo, checkpoint)
    if patch_error:
        raise PatchNotApplied(f"checkpoint {checkpoint.short} written, but {patch_error}", checkpoint)
    return checkpoint, snap


def _same_state(repo: Repo, cp: Checkpoint, snap: Capture) -> bool:
    """Whether ``snap`` holds exactly ``cp``'s state: HEAD, branch, index,
    worktree and merge state (the trees name the bytes), and the same paths
    left out for the same reasons. Equal trees with a file skipped now that
    was not there before are a new state: calling it ``cp`` let the agent hook
    vouch for ``cp`` as complete, and reuse it after the file became capturable."""
    if (cp.head, cp.branch, cp.index_tree, cp.worktree_tree) != (snap.head, snap.branch, snap.index_tree,
                                                                  snap.worktree_tree):
        return False
    if {(s.path, s.reason) for s in cp.skipped} != {(s.path, s.reason) for s in snap.skipped}:
        return False
    if cp.conflict_commit is None or snap.conflict is None:
        return cp.conflict_commit is None and snap.conflict is None
    return repo.git.text("rev-parse", f"{cp.conflict_commit}^{{tree}}") == snap.conflict.tree


def _names_it(by_user: bool, message: str | None, newest: Checkpoint) -> bool:
    """A user's note the newest checkpoint does not carry: a new, named entry
    (whatever ``--reason`` the user gave: a note given with one was dropped in
    silence). Compared as read back (:func:`clean_note`): the raw note against
    the one read back made a note with a tab or a byte that is not UTF-8 a new
    checkpoint every time. An empty note names nothing."""
    if not by_user or message is None or not message.strip():
        return False
    return clean_note(message).strip() != (newest.message or "").strip()


def _capture_settled(repo: Repo, workdir: Path, config: GitConfig, attempts: int,
                     listing: StatusListing | None) -> Capture:
    """Capture until no file changes under it, with backoff; after ``attempts``
    the last capture, its racing paths named. ``listing`` serves the first
    attempt only: once a file changed under a capture it is out of date.

    Raises:
        RecoverError: every attempt failed before its trees were written (a git
            error, or files vanishing under git); no checkpoint was written.
    """
    attempt = 1
    while True:
        try:
            return capture(repo, workdir, config, listing if attempt == 1 else None)
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
            if exc.returncode >= 0:
                raise RecoverError(f"checkpoint failed: {exc.message}; no checkpoint was written") from None
            if attempt >= attempts:
                raise RecoverError(
                    f"checkpoint failed: files changed while being captured ({exc.message}: a file truncated "
                    f"while git read it; {attempts} attempts, git config {ATTEMPTS_KEY}); no checkpoint was written"
                ) from None
        time.sleep(_FIRST_BACKOFF_S * 2 ** (attempt - 1))
        attempt += 1


def publish_state(repo: Repo, head: str | None, branch: str | None, index_tree: str, worktree_tree: str,
                  reason: str, message: str) -> Checkpoint:
    """Publish a state that was derived rather than captured (the state before an
    operation git gives no pre-hook for: :mod:`recovery.core.carry`), so a
    restore to it is an ordinary, verified restore of a checkpoint, and the
    journal can name what was restored. Call with the repository lock held.

    Raises:
        RecoverError: the ref could not be written.
    """
    snap = Capture(head, branch, index_tree, worktree_tree, None, (), (), Path())
    checkpoint = _publish(repo, snap, reason, message, 0.0, _next_number(repo, list_checkpoints(repo)))
    _journal_checkpoint(repo, checkpoint)
    return checkpoint


def _next_number(repo: Repo, existing: list[Checkpoint]) -> int:
    """The number a new checkpoint gets: one more than the highest in use (numbers
    of checkpoints written before numbering existed are fixed first)."""
    record_legacy_numbers(repo, existing)
    return max((cp.number for cp in existing), default=0) + 1


def _journal_checkpoint(repo: Repo, cp: Checkpoint) -> None:
    """Record the checkpoint in the journal."""
    record_or_warn(repo, "checkpoint", checkpoint=cp.short, reason=cp.reason,
                   capture_s=round(cp.capture_s, 6), skipped=len(cp.skipped))


def _warn_skipped(path: str, reason: str, size_bytes: int) -> None:
    if reason == "special-file":
        warn(f"{quote_path(path)} is a FIFO, socket or device node, which git cannot store; NOT captured "
             "(a tracked path keeps the content its index entry has)")
    elif reason == "unreadable-file":
        warn(f"{quote_path(path)} cannot be read by you and was NOT captured; a restore of this checkpoint "
             "leaves it as it is")
    elif reason == "unreadable":
        # Not "untracked": git says so of a tracked directory it cannot open too.
        warn(f"directory {quote_path(path)}/ could not be read: what it holds was NOT captured")
    elif reason == "size":
        warn(f"untracked {quote_path(path)} ({size_bytes} bytes) is over the size cap and was "
             "NOT captured; raise git config recover.maxUntrackedSize to include it")
    else:
        warn(f"{quote_path(path)}/ is a nested repository without commits and was NOT "
             "captured; commit in it (or ignore it) to include it")


def _publish(repo: Repo, snap: Capture, reason: str, message: str | None, capture_s: float,
             number: int) -> Checkpoint:
    """Write the commit objects, then the ref (last)."""
    git = repo.git.with_env(**IDENTITY)
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
        "skipped": [item._asdict() for item in snap.skipped],
        "number": number,
        "notes": list(snap.notes),
        "capture_s": round(capture_s, 6),
    }
    subject = f"git-recover checkpoint: {reason} on {where}"
    body = encode_message(subject, message, metadata)
    sha = git.text("commit-tree", snap.worktree_tree, *parents, input=body)
    ref = checkpoint_ref(repo, sha)
    update_ref(repo, ref, sha, None, f"recover: checkpoint ({reason})")
    return Checkpoint(
        sha=sha, ref=ref, time=now, reason=reason, message=message, head=snap.head,
        branch=snap.branch, index_commit=index_commit, index_tree=snap.index_tree,
        worktree_tree=snap.worktree_tree, conflict_commit=conflict_commit, skipped=snap.skipped,
        notes=snap.notes, worktree=repo.worktree_key, version=__version__, capture_s=capture_s,
        number=number,
    )


def _keep_capture(repo: Repo, checkpoint: Checkpoint, index_file: Path) -> None:
    """Keep the temporary index of the capture that holds ``checkpoint``'s
    worktree (every file it hashed, with fresh stat data) as
    ``<git-dir>/recovery/last-capture/<id>.index``, for
    :func:`from_last_capture`. A rename on the same file system; one kept index
    per worktree. Failing to keep it costs a capture later, nothing else."""
    directory = repo.state_dir / LAST_CAPTURE
    kept = directory / f"{checkpoint.sha}.index"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        os.replace(index_file, kept)
        for other in directory.iterdir():
            if other != kept:
                other.unlink(missing_ok=True)
    except OSError:
        pass


def _written_since(toplevel: Path, listed: bytes, since_ns: int) -> bool:
    """Whether a file of ``listed`` (``ls-files -z`` output) changed at or after
    ``since_ns`` by its ``ctime``, which every write sets and no program can set back.

    git's own stat comparison is not enough here: without nanosecond support
    it compares whole seconds, so a same-size rewrite that puts the mtime back,
    within the second the capture was kept, looked unchanged and a ``good``
    checkpoint held the old bytes (hostile testing). One ``lstat`` per file.
    """
    top = os.open(toplevel, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for raw in listed.split(b"\0"):
            if not raw:
                continue
            try:
                if os.lstat(raw, dir_fd=top).st_ctime_ns >= since_ns:
                    return True
            except FileNotFoundError:
                continue  # gone: diff-files has said so already
    finally:
        os.close(top)
    return False


def from_last_capture(repo: Repo, reason: str, config: GitConfig | None = None) -> Checkpoint | None:
    """The checkpoint of the state now, built from the newest checkpoint's capture
    when no file changed since, without hashing the worktree again; ``None``
    when that cannot be shown (the caller captures).

    A commit through the hooks is the case this exists for: its pre-commit
    hook captures the worktree, and what post-commit must record differs only
    in HEAD and the index (``commit -a`` and ``commit <paths>`` update the index
    too), so a second capture would hash the same files again. The worktree
    is shown unchanged against the index that capture kept
    (:func:`_keep_capture`): ``git diff-files`` finds no tracked or captured
    untracked file whose stat data (or, for a racily clean entry, content)
    differs, no file was written since the capture was kept (its ``ctime``,
    :func:`_written_since`), and ``git ls-files -o`` finds no new untracked file. HEAD, the
    branch and the index tree are read as they are now. A hook that rewrote a
    file, an edit saved while the commit message editor was open, or
    pre-commit's stash being put back all show up there, and the state is
    captured instead.

    Not used (``None``) when the newest checkpoint left something out or noted
    something (a skipped or racing file, a patch, untracked files not shown),
    when a merge, cherry-pick or revert is in progress, or when no index was
    kept for it.

    Returns:
        A new checkpoint with the newest one's worktree tree and the HEAD,
        branch and index of now; the newest itself (``unchanged``) when those
        are its own.

    Raises:
        RecoverError: the ref could not be written, or the lock is busy.
    """
    started = time.perf_counter()
    with repo_lock(repo):
        existing = list_checkpoints(repo)
        newest = existing[0] if existing else None
        if newest is None or newest.skipped or newest.notes:
            return None
        kept = repo.state_dir / LAST_CAPTURE / f"{newest.sha}.index"
        busy = merge_state_files(repo) or any((repo.git_dir / name).exists() for name in OPERATIONS_IN_PROGRESS)
        if busy or not kept.is_file() or not repo.index_file.is_file():
            return None
        head, branch = read_head(repo.git)
        with capture_workdir(repo, "reuse") as workdir:
            index_copy = workdir / "index"
            shutil.copy2(repo.index_file, index_copy)
            written = repo.git.with_index(index_copy).run("write-tree", check=False)
        if written.returncode != 0:
            return None  # unmerged entries: the capture splits them into stages
        on_disk = repo.git.with_index(kept)
        # The three looks at the disk run side by side (they only read). diff-files
        # exits 1 at the first difference; anything it says on stderr (an entry
        # it could not look at, which it skips) fails the showing too.
        differing = on_disk.start("diff-files", "--quiet", "--ignore-submodules=dirty")
        untracked = on_disk.start("ls-files", "-o", "--exclude-standard", "-z")
        try:
            touched = _written_since(repo.toplevel, on_disk.run("ls-files", "-z").stdout,
                                     kept.stat().st_mtime_ns)
        finally:
            unchanged = differing.wait(check=False)
            new_files = untracked.wait(check=False)
        if touched or unchanged.returncode != 0 or unchanged.stderr:
            return None
        if new_files.returncode != 0 or new_files.stdout.strip(b"\0"):
            return None
        capture_s = time.perf_counter() - started
        snap = Capture(head, branch, written.text, newest.worktree_tree, None, (), (), kept)
        if (head, branch, written.text) == (newest.head, newest.branch, newest.index_tree) \
                and newest.conflict_commit is None:
            record_or_warn(repo, "checkpoint", checkpoint=newest.short, reason=reason, unchanged=True,
                           capture_s=round(capture_s, 6), reused=True)
            return newest._replace(unchanged=True)
        checkpoint = _publish(repo, snap, reason, None, capture_s, _next_number(repo, existing))
        _journal_checkpoint(repo, checkpoint)
        _keep_capture(repo, checkpoint, kept)
    from recovery.core.gc import auto_gc

    auto_gc(repo, checkpoint, config or GitConfig.load(repo.git))
    return checkpoint


# Checkpoints a gate failure named to the user ("the failing state is
# checkpoint #9"): never merged away into the next commit's checkpoint.
FAILING_FILE = "failing-checkpoints"
_FAILING_KEEP = 100


def remember_failing(repo: Repo, checkpoint: Checkpoint) -> None:
    """Record that a message named ``checkpoint`` as a failing state, so that
    :func:`drop_superseded` keeps it (the newest hundred are kept; losing the
    record costs one checkpoint merged into the next, never data)."""
    from recovery.base.fs import record_word

    path = repo.state_dir / FAILING_FILE
    try:
        record_word(path, checkpoint.sha, _FAILING_KEEP)
    except OSError as exc:
        warn(f"could not record checkpoint {checkpoint.short} as failing in {path}: {exc.strerror}")


def drop_superseded(repo: Repo, newer: Checkpoint) -> Checkpoint | None:
    """Delete the checkpoint taken just before ``newer`` when ``newer`` holds all of
    it: ``newer``'s HEAD is a commit made on top of it and nothing else changed.

    That is the checkpoint a commit's pre-commit hook takes once the commit is
    made: same branch and worktree, its HEAD is the new commit's parent and its
    index is the new commit's tree, no merge state, no note, no label, and no
    gate failure named it (a commit blocked by a gate and then made with
    ``--no-verify`` leaves the checkpoint the failure message named). Restoring
    ``newer`` and then ``git reset --soft HEAD^`` gives back exactly its state, so a
    commit leaves one checkpoint, not two.

    Returns:
        The checkpoint deleted, or ``None`` when there was none to delete.

    Raises:
        RecoverError: the ref moved while being deleted, or the lock is busy.
    """
    from recovery.base.fs import recorded
    from recovery.core.refs import delete_ref

    with repo_lock(repo):
        checkpoints = list_checkpoints(repo)
        if len(checkpoints) < 2 or checkpoints[0].sha != newer.sha or newer.head is None:
            return None
        older = checkpoints[1]
        if (older.labels or older.message or older.conflict_commit or newer.conflict_commit
                or older.is_safety or (older.branch, older.worktree_tree) != (newer.branch, newer.worktree_tree)):
            return None
        parent_and_tree = repo.git.run("rev-parse", f"{newer.head}^1", f"{newer.head}^{{tree}}",
                                       check=False).text.split()
        if parent_and_tree != [older.head, older.index_tree] or recorded(repo.state_dir / FAILING_FILE, older.sha):
            return None
        delete_ref(repo, older.ref, older.sha)
        return older


def checkpoint_or_warn(repo: Repo, reason: str, patch: Path | None = None,
                       reuse: bool = False, config: GitConfig | None = None,
                       message: str | None = None) -> Checkpoint | None:
    """Checkpoint ``repo``; on failure print why and return ``None``. A checkpoint
    failure never blocks the user's git operation (docs/gates.md): the hooks,
    `run` and the gates take theirs through here.

    Args:
        patch: worktree changes set aside from the disk, for the checkpoint
            (:func:`recovery.core.checkpoint.create_checkpoint`).
        reuse: build it from the newest checkpoint's capture when no file
            changed since (:func:`recovery.core.checkpoint.from_last_capture`),
            capture only otherwise: one capture per commit.
        config: the git config, when the caller has read it.
        message: the checkpoint's note (``git recover run`` names its command).

    Raises:
        PatchNotApplied: the checkpoint was written without ``patch``; the
            caller decides how loudly to say so.
    """
    try:
        if reuse:
            reused = from_last_capture(repo, reason, config)
            if reused is not None:
                return reused
        return create_checkpoint(repo, reason, message, patch=patch, config=config)
    except PatchNotApplied:
        raise
    except RecoverError as exc:
        warn(f"no {reason} checkpoint: {exc.message} (the operation goes on)")
        record_or_warn(repo, "error", stage=reason, error=exc.message)
        return None
