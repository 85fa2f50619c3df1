"""Capturing the live state of a worktree as git trees, without touching it.

A capture reads HEAD, the index and the working tree and writes them into the
object database as trees; it never modifies the user's index or files. All
index work happens in a *copy* of the real index (git-revise's rule: work in
memory, never in the user's index), so git's stat cache keeps the cost
proportional to what changed, and ``git add``/``git update-index`` apply the
user's filters and ``core.fsmonitor`` exactly as git does.

Steps, each checked for its exit code (a stale tree after an ignored ``git add``
failure is the bug this module exists to rule out, reported against the
snapshots of AI coding tools):

1. HEAD and its branch.
2. The index tree: ``write-tree`` on the copy. An unmerged index cannot be
   written as one tree (git-write-tree(1)), so its stages 1-3 are captured as
   three extra trees, never flattened (``add -A`` in a temporary index would
   flatten them silently).
3. The merge state files (``MERGE_HEAD``, ``MERGE_MSG``...) as blobs, so a
   restore can bring back a merge in progress.
4. The worktree tree: the changed tracked paths (``diff-files``) and the
   untracked files that are not ignored (``ls-files -o --exclude-standard``,
   listed meanwhile) through one ``update-index --add --remove`` into the
   copy, skipping loudly what the size cap or a nested repository without
   commits rules out (a huge new file must not block every snapshot: jj
   #3616); a tracked file its user may not read is left out of the worktree
   tree and recorded, not kept with its old content. Where ``core.fsmonitor``
   is set, one ``git status`` run first names the changed and untracked paths
   (:func:`_list_changes`): the cost follows the change. After the agent
   hook's or the watcher's fingerprint, its own ``git status`` names the
   changed tracked paths (:func:`_listed_changes`). A sparse checkout takes
   ``add -u --sparse`` and then the untracked files.
5. A re-check: any file the capture hashed that was written after hashing began
   (its ``ctime``), confirmed by ``diff-files`` on the copy; the caller retries
   (a file rewritten mid-capture: lint-staged #804).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import time
from contextlib import AbstractContextManager
from functools import cache
from pathlib import Path
from typing import NamedTuple

from recovery.base.fs import scratch_dir
from recovery.base.output import quote_path
from recovery.core.config import GitConfig
from recovery.base.errors import RecoverError
from recovery.core.fingerprint import StatusListing, index_identity
from recovery.core.git import Git, GitCommandError, Running
from recovery.core.model import Capture, ConflictState, Skipped
from recovery.core.refs import read_head, start_head
from recovery.core.repo import Repo

# Files git keeps in the git directory while a merge, cherry-pick or revert
# stops for the user (git-merge(1), git-cherry-pick(1)); captured so a restore
# can bring the operation back.
STATE_FILES = (
    "MERGE_HEAD",
    "MERGE_MSG",
    "MERGE_MODE",
    "AUTO_MERGE",
    "CHERRY_PICK_HEAD",
    "REVERT_HEAD",
    "SQUASH_MSG",
)
# Operations whose state lives in directories a restore cannot rebuild
# (git-rebase(1), git-am(1), git-cherry-pick(1) "--continue").
# The start of the note a checkpoint taken during one of these operations carries.
OPERATION_NOTE = "taken during "
OPERATIONS_IN_PROGRESS = {
    "rebase-merge": "a rebase",
    "rebase-apply": "a rebase or git am",
    "sequencer": "a cherry-pick or revert sequence",
}

# Default cap for *untracked* files, in bytes (git config recover.maxUntrackedSize).
# A huge new file must not make every checkpoint fail (jj #3616), nor bloat the
# object database with every build artefact someone forgot to ignore.
DEFAULT_MAX_UNTRACKED_BYTES = 32 * 1024 * 1024
MAX_UNTRACKED_KEY = "recover.maxUntrackedSize"
# Above this many paths, one unrestricted git command beats matching each entry
# against a pathspec list (and stays far below the argument-size limit).
_MAX_PATHSPECS = 1000
# The changed tracked files of a capture (see _changed_tracked).
_DIFF_FILES = ("diff-files", "--name-only", "-z", "--ignore-submodules=dirty")
UNLISTED_NOTE = "untracked files not captured: git config status.showUntrackedFiles=no"
# Seconds a fingerprint's status listing stays usable by the capture that
# follows it (see _listed_changes); the gap is 15-40 ms when nothing waits.
LISTING_MAX_AGE_S = 0.1
# git-config(1) "Values": the spellings of false (an empty value is true).
_FALSE_WORDS = ("false", "no", "off", "0")
# git's warning about a directory it could not open: "could not open directory
# '<path>/': <strerror>", the path raw (see _unreadable_dirs).
_UNREADABLE_DIR = "could not open directory '"
# What `git add -u` prints about a tracked path it could not use: perror(3)'s
# "<path>: <strerror>" (exit status 0: the path silently keeps its index
# content), an unsupported file type (a FIFO or device node), a file that
# vanished between lstat and open, one it may not open, and (after either of
# the last two) that it could not index it.
_SPECIAL = re.compile(r"^error: (.+): can only add regular files, symbolic links or git-directories$", re.MULTILINE)
_VANISHED = re.compile(r"^(?:error: open\(\"(.+)\"\)|(?:fatal|error): unable to stat '(.+)'): No such file or directory$",
                       re.MULTILINE)
_DENIED = re.compile(r"^error: (?:open|lstat)\(\"(.+)\"\): Permission denied$", re.MULTILINE)
_NOT_INDEXED = re.compile(r"error: unable to index file '(.+)'")
# git hashes a large file through mmap twice (its id, then its compressed
# copy) and gives up when the two differ: the file was written in between.
_UNSTABLE = "confused by unstable object source data"


class CaptureRace(RecoverError):
    """Files changed while they were being captured; the capture may be retried.

    Attributes:
        paths: the paths that changed.
        partial: the capture with ``racing`` set to ``paths``, when it got as far
            as writing its trees: every other path was verified unchanged after it
            was hashed, so the caller may publish it with the racing paths named
            (a file that never stops changing must not keep a busy tree from
            being checkpointed). ``None`` when a file vanished under git.
    """

    def __init__(self, paths: list[str], partial: Capture | None = None) -> None:
        super().__init__(f"files changed while being captured: {shown_paths(paths)}")
        self.paths = paths
        self.partial = partial


def shown_paths(paths: list[str], limit: int = 5) -> str:
    """``a, b, c and 7 more``: a list of paths for a one-line message."""
    return ", ".join(quote_path(p) for p in paths[:limit]) + (
        f" and {len(paths) - limit} more" if len(paths) > limit else "")


def capture(repo: Repo, workdir: Path, config: GitConfig, listing: StatusListing | None = None) -> Capture:
    """Capture HEAD, the index and the worktree of ``repo`` as trees.

    Args:
        repo: the worktree to capture.
        workdir: an existing private directory for the temporary index.
        config: ``recover.*`` settings (the untracked size cap).
        listing: what a ``git status`` of the real index found changed just
            before (the fingerprint of :mod:`recovery.core.fingerprint`); see
            :func:`_listed_changes` for when it stands in for looking again.

    Returns:
        The :class:`Capture`; its ``index_file`` stays in ``workdir``.

    Raises:
        CaptureRace: a file changed after it was hashed, or vanished while git
            read it (retry).
        GitCommandError: a git step failed; nothing has been published.
        RecoverError: HEAD is damaged, or a tracked path cannot be read for
            another reason than its permissions (an I/O error): a checkpoint
            would record it stale. A file its user may not read is left out
            and recorded instead (:func:`_leave_out_unreadable`).
    """
    heading = start_head(repo.git)  # read while the index is copied and the capture starts
    untracked: Running | None = None
    try:
        index_file = _copy_index(repo, workdir)
        git = repo.git.with_index(index_file)
        marker = _hash_marker(workdir, repo.toplevel)  # before anything reads a worktree file
        changes: Changes | None = None
        sparse = config.get_bool("core.sparseCheckout", False)
        listed = None if sparse else _listed_changes(repo, config, listing)
        if _tracks_changes(config) and repo.index_file.exists():
            # First, while the copy still holds the fsmonitor token and the
            # untracked cache of the user's index; every later step works on named
            # paths only and must not ask the hook again (each ask costs a process).
            changes = listed or _list_changes(git, repo.toplevel, config)
            git = git.with_config("core.fsmonitor", "false")
        else:
            # Listing the untracked files reads the index and walks the directories;
            # it needs nothing the steps before `update-index` write (they change no
            # path from tracked to untracked), so it runs alongside them.
            untracked = _start_untracked(git, config)
        conflict = None
        written = git.run("write-tree", check=False)
        if written.returncode == 0:
            index_tree = written.text
        elif "unmerged" in written.stderr:
            index_tree, conflict = _capture_unmerged(repo, git, workdir)
        else:
            raise GitCommandError(("write-tree",), written.returncode, written.stderr)
        head, branch = read_head(repo.git, heading)
        if conflict is None:
            conflict = _capture_state_files(repo, git, None, 0, head)

        if changes is None and not sparse:
            # The tracked changes as status found them (see _listed_changes) or
            # as diff-files finds them while the untracked files are listed.
            tracked = listed or _changed_tracked(git)
            found = untracked.wait() if untracked is not None else None
            changes = tracked._replace(
                untracked=found.stdout.split(b"\0") if found else [], directories=[], unlisted=found is None,
                stderr=found.stderr if found else "")  # the tracked listing's own: read for `unreadable` already
        if changes is None:
            special, unreadable = _add_tracked(git, repo.toplevel)
            left_out, notes = _add_untracked(git, repo.toplevel, config, untracked)
            left_out = unreadable + left_out
        else:
            special, left_out, notes = _add_changes(git, repo.toplevel, config, changes)
        skipped = tuple(Skipped(path, "special-file") for path in special) + left_out
        notes += _operation_notes(repo, conflict)
        worktree_tree = git.text("write-tree")

        snap = Capture(head, branch, index_tree, worktree_tree, conflict, skipped, notes, index_file,
                       hashed_after_ns=marker)
        changed = [path for path in _changed_since_hashed(git, repo.trees_git, repo.toplevel, index_tree,
                                                          worktree_tree, marker)
                   if path not in special]
        if changed:
            raise CaptureRace(changed, snap._replace(racing=tuple(changed)))
        return snap
    finally:
        for started in (heading, untracked):
            if started is not None:
                started.wait(check=False)  # reaped even when a step failed


def _copy_index(repo: Repo, workdir: Path) -> Path:
    """Copy the user's index into ``workdir`` (when there is one) and return
    the copy's path, where git-recover's own git steps then work.

    Raises:
        RecoverError: the copy could not be written; the user's index was only read.
    """
    index_file = workdir / "index"
    # A git killed mid-attempt (SIGBUS on a file truncated under its mmap)
    # leaves its lock on our private copy; the next attempt must not trip on it.
    (workdir / "index.lock").unlink(missing_ok=True)
    if repo.index_file.exists():
        # copy2 keeps the index file's mtime: git decides which entries are
        # "racily clean" by comparing file mtimes with the index's own mtime
        # (Documentation/technical/racy-git.txt). A fresh mtime on the copy made
        # a same-size edit within the same timestamp tick look clean, and the
        # checkpoint silently kept the old content (test_same_size_edit_in_the_same_timestamp_tick_is_captured).
        try:
            shutil.copy2(repo.index_file, index_file)
        except OSError as exc:
            # shutil names the source (the user's index) in a failed copy; it
            # was only read: say what could not be written, and that nothing of
            # the user's changed.
            raise RecoverError(f"could not copy the index into {workdir} ({exc.strerror or exc}); your index "
                               "and files were not changed") from None
    return index_file


def apply_patch(repo: Repo, snap: Capture, patch: Path, workdir: Path) -> Capture:
    """``snap`` with ``patch`` (a ``git diff --binary`` of worktree changes, such
    as the stash the pre-commit framework sets aside) applied to its worktree
    tree, in a temporary index: the user's files are never written.

    The patch is applied to the content it was made against, not to the disk:
    ``git apply --build-fake-ancestor`` reads those blobs from the patch's full
    ``index`` lines, so a hook that reformatted and re-staged a file before this
    runs (pre-commit #2473) cannot make it fail.

    Raises:
        RecoverError: the patch cannot be read or applied (git's reason).
    """
    ancestor = workdir / "patch-ancestor"
    patched = repo.git.with_index(workdir / "patched")
    try:
        repo.git.run("apply", f"--build-fake-ancestor={ancestor}", str(patch))
        base = repo.git.with_index(ancestor).run("ls-files", "-s", "-z").stdout
        touched = repo.git.run("apply", "--numstat", "-z", str(patch)).stdout
        patched.run("read-tree", snap.worktree_tree)
        # Paths the patch creates have no ancestor; the patch decides them.
        created = [entry for entry in _numstat_paths(touched)
                   if b"\t" + entry + b"\0" not in b"\0" + base]
        if created:
            patched.run("update-index", "--force-remove", "-z", "--stdin", input=b"\0".join(created) + b"\0")
        if base:
            patched.run("update-index", "--add", "-z", "--index-info", input=base)
        patched.run("apply", "--cached", "--whitespace=nowarn", str(patch))
        tree = patched.text("write-tree")
    except GitCommandError as exc:
        raise RecoverError(exc.message) from None
    return snap._replace(worktree_tree=tree)


def _numstat_paths(numstat: bytes) -> list[bytes]:
    """Paths in ``git apply --numstat -z`` output (a rename names both)."""
    paths: list[bytes] = []
    fields = numstat.split(b"\0")
    i = 0
    while i < len(fields):
        head = fields[i]
        if not head:
            i += 1
            continue
        counts = head.split(b"\t")
        if len(counts) == 3 and counts[2]:
            paths.append(counts[2])
            i += 1
        else:  # "added\tdeleted\t" then the old and the new path
            paths += [p for p in fields[i + 1:i + 3] if p]
            i += 3
    return paths


def _strerrors() -> str:
    """A regular expression alternation of every strerror(3) text."""
    return "|".join(re.escape(os.strerror(code)) for code in sorted(errno.errorcode))


@cache
def _perror() -> re.Pattern[str]:
    """The pattern of perror(3)'s lines (see above), compiled on first use: its
    alternation of every strerror(3) text costs about 5 ms to compile, which
    every checkpoint would pay at import while ``add -u`` almost never says anything."""
    return re.compile(rf"^(?!warning: |error: |fatal: |hint: )(.+): ({_strerrors()})$", re.MULTILINE)


@cache
def _directory_end() -> re.Pattern[str]:
    """Where a path in git's "could not open directory" warning can end: a
    ``/`` (git names directories with one), then ``': <strerror>`` and the end
    of a line. Compiled on first use, as :func:`_perror`."""
    return re.compile(rf"/': (?:{_strerrors()})$", re.MULTILINE)


def _unreadable_dirs(stderr: str, toplevel: Path) -> list[str]:
    """The directories git said it could not open, by their exact names.

    git prints the path raw, so a name may hold ``': `` and newlines, and
    could end at any ``/': <strerror>`` after the warning's start. Cut at the
    first one, a directory named ``src': old`` was recorded as ``src`` (a
    restore then left the tracked ``src/`` deleted), and one named
    ``x': y<newline>z`` as ``x`` (a restore deleted its files once it was
    readable). So each possible end is tried in order and the first that names
    a directory on disk that cannot be opened wins; then the first that names a
    directory at all (it may have become readable since: left alone all the
    same). A name that is no directory any more (it vanished while git
    walked) is not part of the state and is not recorded.
    """
    found: list[str] = []
    start = stderr.find(_UNREADABLE_DIR)
    while start >= 0:
        rest = stderr[start + len(_UNREADABLE_DIR):]
        names = [rest[:end.start()] for end in _directory_end().finditer(rest)]
        directories = [name for name in names if _is_directory(toplevel / name)]
        closed = [name for name in directories if not os.access(toplevel / name, os.R_OK | os.X_OK)]
        if closed or directories:
            found.append((closed or directories)[0])
        start = stderr.find(_UNREADABLE_DIR, start + 1)
    return found


def _changed_tracked(git: Git) -> Changes:
    """The tracked paths whose file may differ from the temporary index's
    entry (modified, deleted, type changed, or only their stat data changed),
    by ``diff-files``; the untracked fields empty.

    Why not ``add -u``: it writes the whole index, and the untracked files
    need one more write after it (``update-index --add``); naming the changed
    paths first lets one ``update-index`` take both, as on the fsmonitor path
    (:func:`_add_changes`): at 80k files, 28 ms of a 6.4 MB index written
    (git's trace2) saved on every capture. ``update-index`` hashes a listed
    path again only when its stat data differs, and records the stat data it
    finds, so the copy ends as refreshed as ``add -u`` leaves it (a restore
    switches in it: :func:`_list_changes`).

    ``--ignore-submodules=dirty`` overrides a submodule's ``ignore`` setting in
    ``.gitmodules``: a submodule whose commit moved is a change, its own
    uncommitted edits are not (a gitlink records only the commit).

    Raises:
        GitCommandError: diff-files failed, or said an error it did not exit
            for: whatever it is about, its entry may keep old content.
        RecoverError: a tracked path cannot be read for another reason than
            its permissions (:func:`_denied`).
    """
    result = git.run(*_DIFF_FILES, check=False)
    if result.returncode != 0 or any(line.startswith(("error: ", "fatal: "))
                                     for line in result.stderr.splitlines()):
        raise GitCommandError(_DIFF_FILES, result.returncode, result.stderr)
    tracked = list(dict.fromkeys(path for path in result.stdout.split(b"\0") if path))
    return Changes(tracked, [], [], False, result.stderr, _denied(result.stderr))


def _add_tracked(git: Git, toplevel: Path) -> tuple[list[str], tuple[Skipped, ...]]:
    """``add -u`` into the temporary index, in a sparse checkout (elsewhere
    :func:`_changed_tracked` names the changes).

    ``--ignore-errors``: git goes on past a path it cannot add and names every
    one, instead of stopping at the first (a FIFO where a file is tracked, a
    file its user may not read); each is then accounted for below, and any
    other error still fails the capture.

    Returns:
        ``(tracked paths that are FIFOs, sockets or device nodes now (they keep
        their index entry), tracked files left out because their user may not
        read them)``: see :func:`_leave_out_unreadable`.

    Raises:
        CaptureRace: a file vanished while git read it.
        RecoverError: git could not read tracked paths for another reason than
            their permissions (it says so only on stderr, exit 0, and keeps
            their old content: a stale checkpoint).
        GitCommandError: any other failure.
    """
    # --sparse: a file present outside the sparse-checkout cone is on disk and
    # git status reports it, so it is part of the state (git-add(1), --sparse).
    args = ("add", "-u", "--sparse", "--ignore-errors")
    result = git.run(*args, check=False)
    _raise_if_racing(result.stderr)
    denied = _denied(result.stderr)
    special = _SPECIAL.findall(result.stderr)
    # Exit status 1: some paths could not be added, the others were (git-add(1));
    # accepted only when git named each of them and each is accounted for.
    explained = special + denied
    if result.returncode != 0 and (result.returncode != 1 or not explained
                                   or _unexplained(result.stderr, explained)):
        raise GitCommandError(args, result.returncode, result.stderr)
    return special, _leave_out_unreadable(git, toplevel, denied)


def _unexplained(stderr: str, paths: list[str]) -> list[str]:
    """The ``error:`` and ``fatal:`` lines of ``git add --ignore-errors`` that
    are not about one of ``paths`` (already accounted for as special or
    unreadable files)."""
    explained = set(paths)
    unexplained = []
    for line in stderr.splitlines():
        if not line.startswith(("error: ", "fatal: ")):
            continue
        about = _SPECIAL.fullmatch(line) or _DENIED.fullmatch(line) or _NOT_INDEXED.fullmatch(line)
        if about is None or about.group(1) not in explained:
            unexplained.append(line)
    return unexplained


def _denied(stderr: str) -> list[str]:
    """The tracked paths git said it may not read: ``open`` or ``lstat``
    refused (``error: open("a.txt"): Permission denied``), or a perror(3)
    line (``src/a.py: Permission denied``, a directory without search
    permission; git keeps such an entry's old content, exit status 0).

    Raises:
        RecoverError: git could not read tracked paths for another reason (an
            I/O error...): naming the paths and their error.
    """
    if not stderr:
        return []
    denied = _DENIED.findall(stderr)
    other = []
    for path, reason in _perror().findall(stderr):
        if reason == os.strerror(errno.EACCES):
            denied.append(path)
        else:
            other.append(f"{path} ({reason})")
    if other:
        raise _stale(other)
    return denied


def _stale(paths: list[str]) -> RecoverError:
    """The failure of a capture that would hold the old content of ``paths``."""
    return RecoverError(f"checkpoint failed: cannot read tracked path(s) {shown_paths(paths)}; a checkpoint "
                        "would hold their old content, so none was written")


def _leave_out_unreadable(git: Git, toplevel: Path, paths: list[str]) -> tuple[Skipped, ...]:
    """Remove the tracked ``paths`` git may not read from the temporary index,
    each recorded as ``unreadable-file``.

    Why: their entries still hold the content the index had, which is not
    what is on disk; a checkpoint must not call that the worktree. Failing
    the whole capture instead (as before) left every later checkpoint failing
    too, and an agent's tool calls went on with no checkpoint at all (hostile
    testing). A restore leaves a path its checkpoint left out as it is.

    Raises:
        RecoverError: a path git named is not a tracked path, or is not
            unreadable now: a name with a newline, parsed wrong from git's
            lines (``x<newline>d/f`` read as ``d/f``, which an unreadable
            untracked ``d`` made look confirmed: the real entry kept its old
            content, hostile testing). The capture fails loudly rather than
            keep the stale entry git left.
    """
    if not paths:
        return ()
    unique = sorted(set(paths))
    spec = ["--", *(f":(literal){path}" for path in unique)] if len(unique) <= _MAX_PATHSPECS else []
    tracked = {os.fsdecode(path) for path in git.run("ls-files", "-z", *spec).stdout.split(b"\0") if path}
    unconfirmed = [path for path in unique if path not in tracked or not _cannot_read(toplevel / path)]
    if unconfirmed:
        raise _stale(unconfirmed)
    git.run("update-index", "--force-remove", "-z", "--stdin",
            input=b"".join(os.fsencode(path) + b"\0" for path in unique))
    return tuple(Skipped(path, "unreadable-file", _size(toplevel / path)) for path in unique)


def _cannot_read(path: Path) -> bool:
    """Whether ``path`` is there and its user may not read it: a regular file
    without read permission, or one in a directory without search permission
    (its ``lstat`` is refused). A deleted file is not unreadable: it is gone."""
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return stat.S_ISREG(info.st_mode) and not os.access(path, os.R_OK)


def _raise_if_racing(stderr: str) -> None:
    """Raise when git said a file changed under it while it read it: one that
    vanished between its ``lstat`` and ``open``, or between git listing and
    stating it (deleted and created again: ``unable to stat``, a fatal error
    that failed 11 of 40 checkpoints without a retry), or a large file written
    while git hashed it (git names no path then).

    Raises:
        CaptureRace: the caller retries with backoff (hostile testing: a 2 MB
            file rewritten every millisecond failed 32 of 40 checkpoints at once).
    """
    vanished = [opened or stated for opened, stated in _VANISHED.findall(stderr)]
    if vanished:
        raise CaptureRace(vanished)
    if _UNSTABLE in stderr:
        raise CaptureRace(["a large file git was reading (git: " + _UNSTABLE + ")"])


def _operation_notes(repo: Repo, conflict: ConflictState | None) -> tuple[str, ...]:
    """A note for each operation in progress whose own state a checkpoint does
    not hold (a rebase's todo list and its ``onto``): a restore brings the files,
    the index and any conflict stages back, but not the operation, and says so."""
    notes = []
    for name, what in OPERATIONS_IN_PROGRESS.items():
        if (repo.git_dir / name).exists():
            stages = " and its conflict stages" if conflict and conflict.unmerged_paths else ""
            notes.append(f"{OPERATION_NOTE}{what} (.git/{name}): the files, the index{stages} are captured, "
                         f"not {what} itself; after a restore of this checkpoint it cannot be continued")
    return tuple(notes)


def _hash_marker(workdir: Path, toplevel: Path) -> int | None:
    """The change time (ns) of a file created just before anything is hashed, by
    the clock of the worktree's file system (a new file's modification time is
    the same); ``None`` when the work directory is on another file system (a
    different clock: the race check then stats every file)."""
    marker = workdir / "hash-marker"
    marker.write_bytes(b"")
    info = marker.stat()
    return info.st_ctime_ns if info.st_dev == toplevel.stat().st_dev else None


def date_back_index(index_file: Path, hashed_after_ns: int | None) -> None:
    """Set ``index_file``'s modification time back to ``hashed_after_ns`` (a
    capture's :attr:`~recovery.core.model.Capture.hashed_after_ns`) when it is
    later; nothing when that is ``None``.

    Why: git trusts an entry's stat data only when the file's mtime is older
    than the index file's own; an entry as new as the index is "racily clean"
    and its content is compared (Documentation/technical/racy-git.txt). git
    compares whole seconds, so a file rewritten at the same size within the
    second a capture hashed it keeps stat data that matches. An index written
    in a later second then called it unchanged: a restore's check found a file
    the switch did not write "byte-identical", and the next checkpoint kept its
    old bytes (hostile testing: 4 of 60 runs next to a busy writer). Dated back
    to before the capture looked at any file, every entry hashed since is
    racily clean to every reader, which compares its content (once: git's next
    write of the index refreshes it).
    """
    if hashed_after_ns is None:
        return
    info = index_file.stat()
    if info.st_mtime_ns > hashed_after_ns:
        os.utime(index_file, ns=(info.st_atime_ns, hashed_after_ns))


def _changed_since_hashed(git: Git, trees: Git, toplevel: Path, index_tree: str, worktree_tree: str,
                          marker_ns: int | None) -> list[str]:
    """Paths whose file changed after ``add`` hashed it into the temporary index
    (``git``, the runner on it; ``trees``: :attr:`~recovery.core.repo.Repo.trees_git`).

    A file git hashed and that was written while (or after) git read it has a
    change time at or after ``marker_ns``: a write always sets ``ctime``, and no
    program can set it back. Only files whose content the capture changed can
    have been read torn, so only the paths where ``worktree_tree`` differs from
    ``index_tree`` are looked at (a capture with 100 changed files in an 80k-file
    tree stats 100, not 80k); a file that changed after its stat data matched
    is captured as it was then, a state it had.

    A file written after the marker is racing. One written in the marker's own
    clock tick (the kernel's file times are coarse) may have been written just
    before the capture began: it is hashed again (``hash-object --stdin-paths``,
    the same filters as ``add``; a symbolic link by its target) and racing only
    if that differs from the blob recorded. git's own stat comparison cannot
    confirm it: without nanosecond timestamps it compares whole seconds, so a
    file rewritten within the second the capture read it looked unchanged and
    a half-written file was checkpointed in silence (hostile testing: 2-6 of 60).
    Without a marker (see :func:`_hash_marker`) ``diff-files`` checks every file.

    A submodule's own uncommitted edits are not changes: a gitlink records only
    its commit, which ``add -u`` just refreshed.
    """
    if marker_ns is None:
        out = git.run("diff-files", "--name-only", "-z", "--ignore-submodules=dirty").stdout
        return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]
    listed = trees.run("diff-tree", "-r", "-z", "--no-renames", index_tree, worktree_tree).stdout.split(b"\0")
    files: list[tuple[str, str]] = []
    links: list[tuple[str, str]] = []
    for meta, raw in zip(listed[::2], listed[1::2]):
        _, mode, _, blob, _ = meta.lstrip(b":").decode().split(" ")
        if mode in ("000000", "160000"):
            continue  # deleted (nothing was hashed) or a gitlink (a commit, refreshed)
        path = os.fsdecode(raw)
        try:
            changed_ns = os.lstat(os.path.join(toplevel, path)).st_ctime_ns
        except OSError:
            changed_ns = marker_ns + 1  # gone since it was hashed: what was read is no state it has
        if changed_ns > marker_ns or (changed_ns == marker_ns and "\n" in path):
            # Written after the capture began: whatever git read may be no state
            # the file had for longer than a moment (a writer that truncates and
            # rewrites once let an empty file through, confirmed "unchanged"
            # because the file was empty again when hashed a second time).
            # A name with a newline cannot be asked of hash-object either.
            files.append((path, ""))
        elif changed_ns == marker_ns:
            # The same clock tick as the marker: possibly a write just before the
            # capture began; the content decides.
            (links if mode == "120000" else files).append((path, blob))
    changed = [path for path, blob in links if _link_blob(toplevel / path, len(blob)) != blob]
    changed += [path for path, blob in files if not blob]
    return changed + content_differs(git, [(path, blob) for path, blob in files if blob])


def content_differs(git: Git, files: list[tuple[str, str]]) -> list[str]:
    """The paths of ``(path, blob id)`` pairs whose file does not hash to that
    blob now (``hash-object --stdin-paths``: the filters ``add`` applies). A
    file that vanished or became unreadable makes every path suspect. Paths
    must hold no newline (hash-object reads one path a line).
    """
    if not files:
        return []
    rehashed = git.run("hash-object", "--stdin-paths", check=False,
                       input="".join(f"{path}\n" for path, _ in files).encode("utf-8", "surrogateescape"))
    now = rehashed.text.splitlines() if rehashed.returncode == 0 else []
    if len(now) != len(files):  # a file vanished or became unreadable meanwhile: all suspect
        now = [""] * len(files)
    return [path for (path, blob), current in zip(files, now) if current != blob]


def _link_blob(path: Path, id_len: int) -> str:
    """The blob id git would give the symbolic link at ``path`` (its target),
    or ``""`` when it is no longer a symbolic link."""
    import hashlib

    try:
        target = os.readlink(path).encode("utf-8", "surrogateescape")
    except OSError:
        return ""
    digest = hashlib.sha1() if id_len == 40 else hashlib.sha256()
    digest.update(b"blob %d\0" % len(target) + target)
    return digest.hexdigest()


def _start_untracked(git: Git, config: GitConfig) -> Running | None:
    """Start listing the untracked, not ignored files (``None``: the user told
    git not to show them: git config status.showUntrackedFiles=no, a dotfiles
    repository whose worktree is $HOME would otherwise be hashed whole on every
    commit)."""
    if (config.get("status.showUntrackedFiles") or "").lower() in ("no", "false"):
        return None
    return git.start("ls-files", "-o", "--exclude-standard", "-z")


def _add_untracked(git: Git, toplevel: Path, config: GitConfig,
                   untracked: Running | None) -> tuple[tuple[Skipped, ...], tuple[str, ...]]:
    """Add the untracked, not ignored files listed by ``untracked`` (see
    :func:`_start_untracked`) to the temporary index.

    ``ls-files -o`` without ``--directory`` lists files one by one, except a
    nested repository, which it shows as ``dir/``: ``update-index --add`` records
    one with a commit as a gitlink, and refuses one without commits (the failure
    that produced a stale tree when its exit code was ignored), so those are
    skipped loudly.
    """
    if untracked is None:
        return (), (UNLISTED_NOTE,)
    result = untracked.wait()
    keep, skipped, notes = classify_untracked(result.stdout.split(b"\0"), result.stderr, toplevel, config)
    return skipped + _update_index(git, toplevel, [], keep), notes


def _update_index(git: Git, toplevel: Path, tracked: list[bytes], untracked: list[bytes]) -> tuple[Skipped, ...]:
    """One ``update-index --add --remove`` of raw paths into the temporary index.

    ``--remove``: a file deleted after it was listed (vim's ``4913`` probe, an
    editor's swap file) is simply not part of the state; without it git fails
    the whole capture on "does not exist". A file its user may not read (git
    stops at the first one, writing nothing) is left out, and the rest added
    again: an untracked one that lost its read permission after
    :func:`classify_untracked` looked (hostile testing flipped a file's mode
    in a loop and failed 12 of 40 checkpoints), or a changed tracked one
    (:func:`_leave_out_unreadable`).

    Returns:
        The files left out that way.

    Raises:
        CaptureRace: a file vanished while git read it.
        GitCommandError: git failed on anything else.
    """
    pending = list(untracked)
    changed = list(tracked)
    left_out: list[Skipped] = []
    denied_tracked: list[str] = []
    while changed or pending:
        result = git.run("update-index", "--add", "--remove", "-z", "--stdin",
                         input=b"\0".join(changed + pending) + b"\0", check=False)
        _raise_if_racing(result.stderr)
        if result.returncode == 0:
            break
        denied = {os.fsencode(path) for path in _DENIED.findall(result.stderr)} & set(changed + pending)
        if not denied:
            raise GitCommandError(("update-index", "--add"), result.returncode, result.stderr)
        # A directory that lost its search permission takes all its files at
        # once: one git run each would be as many runs as it holds files.
        denied |= {path for path in changed + pending if _cannot_read(toplevel / os.fsdecode(path))}
        denied_tracked += [os.fsdecode(path) for path in changed if path in denied]
        left_out += [Skipped(os.fsdecode(path), "unreadable-file", _size(toplevel / os.fsdecode(path)))
                     for path in sorted(denied) if path in pending]
        changed = [path for path in changed if path not in denied]
        pending = [path for path in pending if path not in denied]
    return _leave_out_unreadable(git, toplevel, denied_tracked) + tuple(left_out)


def _size(path: Path) -> int:
    """``path``'s size in bytes, 0 when it cannot be looked at."""
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


def classify_untracked(listed: list[bytes], stderr: str, toplevel: Path, config: GitConfig
                       ) -> tuple[list[bytes], tuple[Skipped, ...], tuple[str, ...]]:
    """Which untracked paths git listed a capture takes, and which it leaves out.

    Args:
        listed: raw paths relative to ``toplevel`` as ``ls-files -o`` or
            ``status`` list them (a nested repository as ``dir/``); empty items ignored.
        stderr: what git said while listing (directories it could not open).
        toplevel: the worktree's top level.
        config: the untracked size cap (git config recover.maxUntrackedSize).

    Returns:
        ``(paths to add, skipped, notes)``; a nested repository with a commit is
        added (as a gitlink, without the ``/``).
    """
    cap = config.get_int(MAX_UNTRACKED_KEY, DEFAULT_MAX_UNTRACKED_BYTES, minimum=0)
    keep: list[bytes] = []
    # git lists what it could read and only warns about a directory it could
    # not open; that directory is not in the checkpoint, so say so.
    skipped = [Skipped(name, "unreadable") for name in _unreadable_dirs(stderr, toplevel)]
    notes: list[str] = []
    for raw in listed:
        if not raw:
            continue
        path = raw.decode("utf-8", "surrogateescape")
        if path.endswith("/"):
            name = path.rstrip("/")
            if _nested_repo_has_commit(toplevel / name):
                keep.append(raw.rstrip(b"/"))
                notes.append(f"nested repository {name}/ recorded as a gitlink; its files are not captured")
            else:
                skipped.append(Skipped(name, "nested-repo-without-commits"))
            continue
        try:
            info = os.lstat(toplevel / path)
        except (FileNotFoundError, NotADirectoryError):
            continue  # deleted since it was listed: it is not part of the state any more
        except OSError:
            skipped.append(Skipped(path, "unreadable-file", 0))  # its directory lost its search permission
            continue
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
            skipped.append(Skipped(path, "special-file"))  # git stores no FIFO, socket or device
            continue
        if stat.S_ISREG(info.st_mode) and cap >= 0 and info.st_size > cap:
            skipped.append(Skipped(path, "size", info.st_size))
            continue
        if stat.S_ISREG(info.st_mode) and not os.access(toplevel / path, os.R_OK):
            # One file its owner cannot read (a root-owned 0600 file a container
            # left) made `update-index` fail and so every checkpoint of the
            # worktree: leave it out loudly, as git leaves an unreadable
            # directory out. A symbolic link is stored by its target's name, which
            # needs no read permission.
            skipped.append(Skipped(path, "unreadable-file", info.st_size))
            continue
        keep.append(raw)
    return keep, tuple(skipped), tuple(notes)


class Changes(NamedTuple):
    """What ``git status`` found changed in the worktree (see :func:`_list_changes`).

    Attributes:
        tracked: raw paths whose file differs from its stage-0 index entry
            (modified, deleted, type changed), unmerged paths left out.
        untracked: raw paths of untracked, not ignored files.
        directories: raw untracked directories (``dir/``) status named as a
            whole: new directories and nested repositories.
        unlisted: ``True`` when the user told git not to show untracked files
            (``status.showUntrackedFiles=no``): none were looked for.
        stderr: what status said (directories it could not open).
        unreadable: tracked paths status could not look at (a directory
            without search permission).
    """

    tracked: list[bytes]
    untracked: list[bytes]
    directories: list[bytes]
    unlisted: bool
    stderr: str
    unreadable: list[str]


def _tracks_changes(config: GitConfig) -> bool:
    """Whether git can name the worktree's changes without looking at every
    file: ``core.fsmonitor`` is set (a hook such as git's watchman sample, or
    git's daemon). Only ``git status`` makes full use of it, and of the
    untracked cache beside it; see :func:`_list_changes`.

    The untracked cache alone (``core.untrackedCache=true``) is not trusted: it
    relies on directories' stat data, and with the cache written just before a
    file was created, git 2.39's own ``status`` missed the new file in 5 of 40
    runs on a loaded machine (none of 40 with the watchman hook, whose reports
    invalidate the cache instead); a checkpoint must not lose it
    (test_untracked_cache_alone_keeps_the_full_path).

    A sparse checkout keeps the full path: ``add -u --sparse`` decides there
    which files outside the cone are part of the state.
    """
    if config.get_bool("core.sparseCheckout", False):
        return False
    fsmonitor = (config.get("core.fsmonitor") or "").strip().lower()
    return bool(fsmonitor) and fsmonitor not in _FALSE_WORDS


def _listed_changes(repo: Repo, config: GitConfig, listing: StatusListing | None) -> Changes | None:
    """The changes ``listing`` names, when they are the changes of the index
    just copied; ``None`` when there is no listing or it may be out of date.

    The fingerprint's ``git status`` already compared every tracked file with
    the real index (through fsmonitor where the user has it), so looking again
    with ``add -u`` would be a second pass over the tree for the same answer.
    It is used when:

    * the real index is the one status compared with: the same inode, size and
      times before status, after it and after the copy (a ``git add`` or
      ``git reset`` in between would make the listing wrong for the copy:
      a file unstaged meanwhile would keep its staged content in the capture);
    * there is no sparse checkout (``add -u --sparse`` decides there, as for
      :func:`_tracks_changes`; the caller does not ask then);
    * status returned at most :data:`LISTING_MAX_AGE_S` before this capture
      began (its hash marker): a file written after status looked at it and
      not listed is captured with the index's content, as status saw it. A
      hook that waited for the repository lock while another capture ran
      held a listing seconds old, and a file saved meanwhile, then deleted by
      the tool, was in no checkpoint (hostile testing). Within the bound, the
      window is of the order of the full path's own: a file written while
      ``add -u`` runs, after it looked at that file, is captured as it was.

    Its untracked files serve only with ``core.fsmonitor``, the trust the
    fsmonitor path gives status already; otherwise the caller lists them with
    ``ls-files -o`` as the full path does (status may answer from the untracked
    cache, which :func:`_tracks_changes` explains is not trusted alone).
    """
    if listing is None:
        return None
    if time.monotonic() - listing.listed_at > LISTING_MAX_AGE_S:
        return None
    if index_identity(repo.index_file) != listing.index_id:
        return None
    return changes_from_status(listing.stdout, listing.stderr, repo.toplevel, _unlisted(config))


def _list_changes(git: Git, toplevel: Path, config: GitConfig) -> Changes:
    """One ``git status`` on the temporary index: the worktree's changes, found
    through ``core.fsmonitor`` and (where the user has it) the untracked cache,
    so its cost follows the change, not the tree (100 changed files in an
    80k-file tree: 100 ``lstat`` and a few directories read, not 80k and 800).

    ``--untracked-files=normal`` because git uses the untracked cache for that
    mode only (``all`` and ``ls-files -o`` walk every directory); it names a
    new directory as ``dir/``, which :func:`_add_changes` expands. A tracked
    file replaced by a directory is only "deleted" to status; that directory
    is expanded too.

    Raises:
        GitCommandError: status failed.
        RecoverError: a tracked path cannot be read (git says so on stderr only).
    """
    unlisted = _unlisted(config)
    # The copy is ours: status may write it (GIT_OPTIONAL_LOCKS=1), so the
    # stat data it refreshed is kept, as `add -u` keeps it on the full path. A
    # restore switches in this index, and `read-tree -m -u` refuses an entry
    # whose stat data is stale ("not uptodate") without looking at its content.
    result = git.with_env(GIT_OPTIONAL_LOCKS="1").run(
        "status", "--porcelain=v2", "-z", "--no-renames", "--ignore-submodules=dirty",
        f"--untracked-files={'no' if unlisted else 'normal'}")
    return changes_from_status(result.stdout, result.stderr, toplevel, unlisted)


def _unlisted(config: GitConfig) -> bool:
    """Whether the user told git not to show untracked files (``status.showUntrackedFiles=no``)."""
    return (config.get("status.showUntrackedFiles") or "").lower() in ("no", "false")


def changes_from_status(stdout: bytes, stderr: str, toplevel: Path, unlisted: bool) -> Changes:
    """The :class:`Changes` in the output of ``git status --porcelain=v2 -z
    --no-renames`` (git-status(1), "Porcelain Format Version 2"); untracked
    records are dropped when ``unlisted``.

    Raises:
        RecoverError: a tracked path cannot be read (:func:`_denied`).
    """
    tracked: list[bytes] = []
    untracked: list[bytes] = []
    directories: list[bytes] = []
    maybe_dirs: list[bytes] = []
    for record in stdout.split(b"\0"):
        kind = record[:2]
        if kind == b"1 ":
            fields = record.split(b" ", 8)
            if fields[1][1:2] != b".":  # Y: the worktree against the index
                tracked.append(fields[8])
                if fields[4] != b"160000":  # not a gitlink: a directory there is new
                    maybe_dirs.append(fields[8])
        elif kind == b"? " and not unlisted:
            # "dir/": a new directory or a nested repository; ls-files tells which.
            (directories if record.endswith(b"/") else untracked).append(record[2:])
        # "u": unmerged, handled by _capture_unmerged; "2" (renames) cannot
        # appear with --no-renames; "!" (ignored) is not asked for; "#": headers.
    if not unlisted:
        # A tracked file replaced by a directory is only "deleted" to status,
        # which does not look inside (its files are untracked all the same).
        directories += [path + b"/" for path in maybe_dirs if _is_directory(toplevel / os.fsdecode(path))]
    return Changes(tracked, untracked, directories, unlisted, stderr, _denied(stderr))


def _is_directory(path: Path) -> bool:
    """Whether ``path`` is a directory itself (a symbolic link to one is not)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _add_changes(git: Git, toplevel: Path, config: GitConfig, changes: Changes
                 ) -> tuple[list[str], tuple[Skipped, ...], tuple[str, ...]]:
    """Put what :func:`_list_changes` found into the temporary index with one
    ``update-index``: the changed tracked paths (a deleted one is removed) and
    the untracked files, with the same rules as the full path (size cap,
    nested repositories, special files: :func:`classify_untracked`).

    Returns:
        ``(tracked paths that are FIFOs, sockets or devices now (they keep
        their index entry), paths left out, notes)``: tracked files their user
        may not read are left out as on the full path (:func:`_leave_out_unreadable`).

    Raises:
        CaptureRace: a file vanished while git read it.
        GitCommandError: ``ls-files`` or ``update-index`` failed.
        RecoverError: as :func:`_leave_out_unreadable`.
    """
    listed = list(changes.untracked)
    stderr = changes.stderr
    if changes.directories:
        # A new directory's files: ls-files walks only these directories
        # (above the pathspec limit, all of them: cheaper than a long list).
        # A nested repository comes back as "dir/" again.
        dirs = [os.fsdecode(d) for d in changes.directories] if len(changes.directories) <= _MAX_PATHSPECS else []
        literal = ["--literal-pathspecs"] if dirs else []
        expanded = git.run(*literal, "ls-files", "-o", "--exclude-standard", "-z", "--", *dirs)
        listed = (listed if dirs else []) + expanded.stdout.split(b"\0")
        stderr += expanded.stderr
    special: list[str] = []
    tracked: list[bytes] = []
    gone: list[bytes] = []
    links: dict[bytes, bool] = {}
    repos: list[bytes] = []
    for raw in changes.tracked:
        if _beyond_symlink(toplevel, raw, links):
            gone.append(raw)
            continue
        try:
            mode = os.lstat(toplevel / os.fsdecode(raw)).st_mode
        except (FileNotFoundError, NotADirectoryError):
            tracked.append(raw)  # deleted: --remove drops its entry
            continue
        if stat.S_ISDIR(mode) and os.path.lexists(toplevel / os.fsdecode(raw) / ".git"):
            repos.append(raw)
        elif stat.S_ISREG(mode) or stat.S_ISLNK(mode) or stat.S_ISDIR(mode):
            tracked.append(raw)
        else:
            special.append(os.fsdecode(raw))  # git stores no FIFO, socket or device: the entry stays
    if repos:
        # A repository where a file was tracked: `update-index` would only
        # remove the file's entry, and no listing names the repository (git
        # hides an untracked path the index names). Its entry goes, and the
        # repository is taken as an untracked one (a gitlink, or left out
        # with a warning), as `git add -A` takes it. A submodule stays tracked.
        literal = [f":(literal){os.fsdecode(raw)}" for raw in repos]
        staged = git.run("ls-files", "-s", "-z", "--", *literal).stdout.split(b"\0")
        submodules = {entry.partition(b"\t")[2] for entry in staged if entry.startswith(b"160000 ")}
        tracked += [raw for raw in repos if raw in submodules]
        replaced = [raw for raw in repos if raw not in submodules]
        gone += replaced
        if not changes.unlisted:
            listed += [raw + b"/" for raw in replaced]
    keep, skipped, notes = classify_untracked(listed, stderr, toplevel, config)
    if changes.unlisted:
        notes += (UNLISTED_NOTE,)
    if gone:
        # Entries whose file is gone as `add -u` takes it: replaced by a
        # repository (above), or under a directory that is a symbolic link now,
        # which `update-index --remove` refuses ("beyond a symbolic link").
        git.run("update-index", "--force-remove", "-z", "--stdin", input=b"\0".join(gone) + b"\0")
    unreadable = _leave_out_unreadable(git, toplevel, changes.unreadable)
    return special, unreadable + skipped + _update_index(git, toplevel, tracked, keep), notes


def _beyond_symlink(toplevel: Path, raw: bytes, links: dict[bytes, bool]) -> bool:
    """Whether a leading directory of the raw path ``raw`` is a symbolic link
    now (git's ``has_symlink_leading_path``); ``links`` remembers each
    directory looked at, so many paths in one directory cost one ``lstat``."""
    parts = raw.split(b"/")[:-1]
    for depth in range(1, len(parts) + 1):
        directory = b"/".join(parts[:depth])
        if directory not in links:
            try:
                links[directory] = stat.S_ISLNK(os.lstat(toplevel / os.fsdecode(directory)).st_mode)
            except OSError:
                links[directory] = False
        if links[directory]:
            return True
    return False


def _nested_repo_has_commit(path: Path) -> bool:
    """Whether the repository at ``path`` has a commit checked out (gitlink-able)."""
    nested = Git(path, {"GIT_DIR": str(path / ".git"), "GIT_WORK_TREE": str(path),
                        "GIT_INDEX_FILE": str(path / ".git" / "index")})
    return nested.run("rev-parse", "-q", "--verify", "HEAD^{commit}", check=False).returncode == 0


def _capture_unmerged(repo: Repo, git: Git, workdir: Path) -> tuple[str, ConflictState]:
    """Split an unmerged index into its stage-0 tree and one tree per stage."""
    listing = git.run("ls-files", "-s", "-z").stdout
    by_stage: dict[int, list[bytes]] = {1: [], 2: [], 3: []}
    unmerged: set[bytes] = set()
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        mode, sha, stage = meta.split(b" ")
        if stage != b"0":
            unmerged.add(path)
            by_stage[int(stage)].append(b"%s %s 0\t%s" % (mode, sha, path))
    # Drop the unmerged paths so write-tree succeeds; `add -u` cannot see them
    # afterwards, so they come back through the untracked pass as on disk.
    paths = b"\0".join(sorted(unmerged)) + b"\0"
    git.run("update-index", "--force-remove", "-z", "--stdin", input=paths)
    index_tree = git.text("write-tree")
    # Back in as they are on disk (the half-done resolution), explicitly: the
    # untracked pass would drop a conflicted file that .gitignore matches.
    git.run("update-index", "--add", "--remove", "-z", "--stdin", input=paths)
    stage_trees: dict[str, str] = {}
    for stage_no, lines in by_stage.items():
        stage_index = workdir / f"stage{stage_no}"
        stage_index.unlink(missing_ok=True)
        stage_git = repo.git.with_index(stage_index)
        if lines:
            stage_git.run("update-index", "-z", "--index-info", input=b"\0".join(lines) + b"\0")
        stage_trees[f"stage{stage_no}"] = stage_git.text("write-tree")
    state = _capture_state_files(repo, git, stage_trees, len(unmerged))
    assert state is not None  # stage trees alone make a state
    return index_tree, state


def merge_state_files(repo: Repo) -> list[str]:
    """The names in :data:`STATE_FILES` that are part of the state now: present
    in the git directory, and ``AUTO_MERGE`` only beside the operation that owns it.

    AUTO_MERGE belongs to the merge, cherry-pick or revert that wrote it; `git
    stash apply` leaves one behind with no operation at all (git 2.39), which is
    not a merge in progress.
    """
    owned = any((repo.git_dir / name).is_file() for name in ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD"))
    return [name for name in STATE_FILES
            if (repo.git_dir / name).is_file() and (name != "AUTO_MERGE" or owned)]


def _capture_state_files(
    repo: Repo, git: Git, stage_trees: dict[str, str] | None, unmerged_paths: int, head: str | None = None
) -> ConflictState | None:
    """Hash the operation's state files into a tree (``None`` when there are none).

    ``head``: HEAD's commit, given when the index has no unmerged entries; a
    merge it already concludes is not captured (:func:`_concluded_merge`).
    """
    entries: list[bytes] = []
    merge_heads: tuple[str, ...] = ()
    concluded = _concluded_merge(repo, git, head) if stage_trees is None else ()
    for name in merge_state_files(repo):
        if name in concluded:
            continue
        path = repo.git_dir / name
        if name == "MERGE_HEAD":
            merge_heads = tuple(path.read_text().split())
        sha = git.text("hash-object", "-w", "--no-filters", "--", str(path))
        entries.append(f"100644 blob {sha}\t{name}".encode())
    for name, tree in (stage_trees or {}).items():
        entries.append(f"040000 tree {tree}\t{name}".encode())
    if not entries:
        return None
    tree = git.text("mktree", "-z", input=b"\0".join(entries) + b"\0")
    return ConflictState(tree, merge_heads, unmerged_paths)


def _concluded_merge(repo: Repo, git: Git, head: str | None) -> tuple[str, ...]:
    """The merge state files of a merge HEAD already concludes, which are not state.

    git writes ``MERGE_HEAD``, ``MERGE_MSG`` and ``MERGE_MODE`` before it makes a
    merge commit and removes them only after the post-merge hook has run
    (builtin/merge.c: ``finish()`` runs the hook, then
    ``remove_merge_branch_state()``). A capture in post-merge would record a
    merge in progress on top of its own merge commit, and restoring it (``git
    recover undo`` after an automatic undo) would leave the user in a
    half-merge git complains about ("You have not concluded your merge").
    A merge is concluded when HEAD's parents after the first are exactly the
    commits ``MERGE_HEAD`` names.

    Returns:
        The state file names to leave out (empty when the merge is in progress).
    """
    try:
        merge_heads = (repo.git_dir / "MERGE_HEAD").read_text().split()
    except OSError:
        return ()
    if head is None or not merge_heads:
        return ()
    parents = git.run("rev-parse", f"{head}^@", check=False).text.split()
    if parents[1:] != merge_heads:
        return ()
    return ("MERGE_HEAD", "MERGE_MSG", "MERGE_MODE", "AUTO_MERGE")


def capture_workdir(repo: Repo, purpose: str) -> AbstractContextManager[Path]:
    """A private directory under ``<git-dir>/recovery/tmp`` for a capture's
    temporary index files (same filesystem as the index, so copies are cheap),
    removed when the ``with`` block ends. ``gc`` removes those a killed process left.

    Args:
        repo: the worktree whose state directory holds it.
        purpose: the user's name for it (``restore``, ``diff``), part of the directory name.
    """
    return scratch_dir(workdir_parent(repo), purpose)


def live_worktree_tree(repo: Repo) -> str:
    """The tree of the worktree as it is now (tracked and untracked files, not
    ignored), captured with the user's ``recover.*`` settings and without
    touching the index or any file.

    Raises:
        CaptureRace, GitCommandError, RecoverError: as :func:`capture`.
    """
    with capture_workdir(repo, "live") as workdir:
        return capture(repo, workdir, GitConfig.load(repo.git)).worktree_tree


def workdir_parent(repo: Repo) -> Path:
    """Where :func:`capture_workdir` creates its directories."""
    return repo.state_dir / "tmp"
