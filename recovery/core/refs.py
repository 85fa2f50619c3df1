"""The ``refs/recovery/`` layout, naming checkpoints, and compare-and-swap updates.

Layout, per worktree (``<wt>`` is ``main`` or ``wt-<name>``)::

    refs/recovery/<wt>/cp/<sha>   one ref per checkpoint, created once, never moved
    refs/recovery/<wt>/good       the last checkpoint every required gate passed on
    refs/recovery/<wt>/undo       the safety checkpoint of the latest restore
    refs/recovery/<wt>/numbers    the numbers of checkpoints written before numbers
                                  existed (only in such repositories; written once)

Every update goes through ``git update-ref`` with the expected old value
(compare-and-swap, as dulwich's ``set_if_equals``) and ``--create-reflog``, so a
racing writer fails instead of being overwritten and every move can be traced
in ``git reflog refs/recovery/<wt>/good``.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from recovery.base.errors import RecoverError, UsageError
from recovery.base.output import warn
from recovery.core.git import Git, GitCommandError, Running
from recovery.base.fs import fsync_dir
from recovery.core.model import IDENTITY, Checkpoint, decode
from recovery.core.repo import Repo

LABELS = ("good", "undo")
# Seconds after which a lock file on one of git-recover's refs is taken to be
# left by a git that was killed (see run_ref_update): git holds one for the
# moment of an update and gives up waiting for another after 100 ms
# (core.filesRefLockTimeout).
STALE_LOCK_S = 60.0
NUMBERS = "numbers"
_NUMBERS_SUBJECT = "git-recover checkpoint numbers"
# ASCII digits only (``\d`` takes any script's digits, and int() reads them),
# and at most _MAX_DIGITS of them: int() refuses over 4,300 digits, and no
# checkpoint number or position comes near 19.
_POSITION = re.compile(r"^@\{([0-9]+)\}$")
_NUMBER = re.compile(r"^#?([0-9]+)$")
_MAX_DIGITS = 18
# Refs already warned about in this process: a command lists checkpoints more
# than once (a restore resolves its target, then lists again under the lock).
_warned: set[str] = set()
_HEX = re.compile(r"^[0-9a-f]{4,40}$")


def checkpoint_ref(repo: Repo, sha: str) -> str:
    """The ref that holds checkpoint ``sha``."""
    return f"{repo.ref_prefix}cp/{sha}"


def label_ref(repo: Repo, label: str) -> str:
    """The ref of a label (``good`` or ``undo``)."""
    return f"{repo.ref_prefix}{label}"


def update_ref(repo: Repo, ref: str, new: str, old: str | None, reason: str) -> None:
    """Move ``ref`` from ``old`` to ``new`` atomically, with a reflog entry.

    Args:
        ref: full ref name.
        new: the new object id.
        old: the value ``ref`` must have now; ``None`` means it must not exist.
        reason: the reflog message.

    Raises:
        RecoverError: ``ref`` did not have the expected value (someone else moved it).
    """
    try:
        run_ref_update(repo, [ref], "--create-reflog", "-m", reason, ref, new, old or repo.object_format.null_id)
    except GitCommandError as exc:
        raise RecoverError(f"could not update {ref}: {exc.message}") from None
    _sync_ref_dirs(repo, ref)


def run_ref_update(repo: Repo, refs: list[str], *args: str, input: bytes | None = None) -> None:
    """Run ``git update-ref <args>``, which updates ``refs`` (git-recover's
    own), once more after removing a lock file a killed git left on one of them.

    git leaves ``<ref>.lock`` behind when it is killed mid-update (``kill -9``,
    a power cut), and refuses every later update of that ref ("File exists")
    until someone removes it: one killed restore made every later restore fail
    on its ``undo`` label (hostile testing). A lock older than
    :data:`STALE_LOCK_S` is taken to be such a one: git-recover's own updates
    are serialised by its worktree lock and hold a ref's lock for the moment
    of one update, and the only other git that locks these refs, ``git
    pack-refs`` in ``git gc``, for the moment it prunes one. The removal is said
    on stderr. Only locks of refs under this worktree's ``refs/recovery/<wt>/``
    are ever removed.

    Raises:
        GitCommandError: git failed, and no stale lock explains it.
    """
    try:
        repo.git.run("update-ref", *args, input=input)
    except GitCommandError as exc:
        stale = [(lock, age_s) for lock, age_s in map(_lock_age, _ref_locks(repo, refs))
                 if age_s >= STALE_LOCK_S]
        if "File exists" not in exc.message or not stale:
            raise
        for lock, age_s in stale:
            lock.unlink(missing_ok=True)
            warn(f"removed {lock}: a git stopped while updating that ref left it {age_s:.0f} s ago")
        repo.git.run("update-ref", *args, input=input)


def _ref_locks(repo: Repo, refs: list[str]) -> list[Path]:
    """The lock files git would take for ``refs``, those under this worktree's
    prefix only (a lock on anyone else's ref is never git-recover's to remove)."""
    return [repo.common_dir / f"{ref}.lock" for ref in refs if ref.startswith(repo.ref_prefix)]


def _lock_age(lock: Path) -> tuple[Path, float]:
    """``(lock, seconds since it was last written)``; ``-1`` when it is not there."""
    try:
        return lock, time.time() - lock.lstat().st_mtime
    except OSError:
        return lock, -1.0


def _sync_ref_dirs(repo: Repo, ref: str) -> None:
    """Make the published ref survive a power cut: git syncs the ref file
    (``core.fsync=committed``, set by the runner) but not the directories whose
    entries name it, which ``update-ref`` may just have created."""
    directory = (repo.common_dir / ref).parent
    while True:
        fsync_dir(directory)
        if directory == repo.common_dir or repo.common_dir not in directory.parents:
            break
        directory = directory.parent


def delete_ref(repo: Repo, ref: str, old: str) -> None:
    """Delete ``ref`` if it still points at ``old``.

    Raises:
        RecoverError: it points elsewhere now.
    """
    try:
        run_ref_update(repo, [ref], "-d", ref, old)
    except GitCommandError as exc:
        raise RecoverError(f"could not delete {ref}: {exc.message}") from None


def resolve_commit(repo: Repo, rev: str) -> str | None:
    """The commit id a ref or revision (``refs/heads/main``, ``HEAD^``) names, or
    ``None`` when it names no commit (missing, unborn, or not a commit)."""
    result = repo.git.run("rev-parse", "-q", "--verify", f"{rev}^{{commit}}", check=False)
    return (result.text or None) if result.returncode == 0 else None


def start_listing(repo: Repo) -> Running:
    """Start the ``for-each-ref`` that :func:`list_checkpoints` reads, so that
    it runs while the caller does other work (a capture: 3-8 ms of git and
    its start taken off every checkpoint's critical path)."""
    return repo.git.start("for-each-ref", "--format=%(refname)%00%(objectname)%00%(contents)%00",
                          repo.ref_prefix)


def list_checkpoints(repo: Repo, broken: list[str] | None = None, started: Running | None = None
                     ) -> list[Checkpoint]:
    """All checkpoints of this worktree, newest first, with their labels and numbers.

    One ``for-each-ref`` call reads every checkpoint's metadata, whatever their
    number. A ref whose commit object is missing or corrupt makes that call fail
    (git needs the object for ``%(contents)``); then :func:`_read_refs` reads the
    commits that are there, so one damaged checkpoint never blocks every command.

    Args:
        broken: when given, the refs whose commit is missing or corrupt are
            appended to it (``verify`` reports them); otherwise each is warned about.
        started: that call, begun by :func:`start_listing` (default: run now).
    """
    result = (started or start_listing(repo)).wait(check=False)
    out = result.stdout if result.returncode == 0 else _read_refs(repo, broken)
    found: list[Checkpoint] = []
    labels: dict[str, list[str]] = {}
    recorded: dict[str, int] = {}
    for record in out.split(b"\0\n"):
        if not record.strip():
            continue
        ref, sha, message = record.decode("utf-8", "surrogateescape").lstrip("\n").split("\0")[:3]
        name = ref.removeprefix(repo.ref_prefix)
        if name in LABELS:
            labels.setdefault(sha, []).append(name)
        elif name == NUMBERS:
            recorded = _parse_numbers(message.partition("\n\n")[2])
        elif name.startswith("cp/"):
            try:
                found.append(decode(sha, ref, message))
            except RecoverError as exc:
                # One foreign or damaged ref must not block every command.
                _warn_once(ref, f"skipping {exc.message}; remove it with `git update-ref -d {ref}`")
    found.sort(key=lambda cp: (cp.time, cp.sha), reverse=True)
    numbers = legacy_numbers(found, recorded)
    return [
        _with_labels(cp._replace(number=numbers[cp.sha], number_derived=True) if cp.sha in numbers else cp,
                     tuple(labels.get(cp.sha, ()))) for cp in found
    ]


def _read_refs(repo: Repo, broken: list[str] | None) -> bytes:
    """The records ``list_checkpoints``' ``for-each-ref`` gives, for the refs
    under this worktree's prefix whose commit can be read; the others are
    appended to ``broken`` or warned about. Two git processes: ``for-each-ref``
    without ``%(contents)`` (which needs no object) and one ``cat-file --batch-command``.

    Raises:
        GitCommandError: ``for-each-ref`` fails even without reading objects.
    """
    listing = repo.git.run("for-each-ref", "--format=%(refname) %(objectname)", repo.ref_prefix).text
    refs = [tuple(line.rsplit(" ", 1)) for line in listing.splitlines() if " " in line]
    records: list[bytes] = []
    with repo.git.object_reader() as reader:
        answers = list(reader.contents([sha for _, sha in refs]))
    for (ref, sha), (_, kind, raw) in zip(refs, answers):
        if kind is None:
            if broken is not None:
                broken.append(ref)
            else:
                _warn_once(ref, f"skipping {ref}: its commit {sha} is missing or corrupt "
                                f"(`git recover verify` reports it); remove it with `git update-ref -d {ref}`")
            continue
        message = raw.partition(b"\n\n")[2]
        records.append(ref.encode("utf-8", "surrogateescape") + b"\0" + sha.encode() + b"\0" + message + b"\0")
    return b"\n".join(records) + b"\n"


def _warn_once(ref: str, message: str) -> None:
    if ref not in _warned:
        _warned.add(ref)
        warn(message)


def legacy_numbers(checkpoints: list[Checkpoint], recorded: dict[str, int]) -> dict[str, int]:
    """Numbers for checkpoints whose metadata has none (written before numbers existed).

    The recorded ones (``refs/recovery/<wt>/numbers``) keep theirs; the others are
    numbered oldest first after every number in use (from 1 in a repository that
    has only such checkpoints), so the result depends only on the checkpoints,
    never on when it is computed. :func:`record_legacy_numbers` writes the record
    before the first numbered checkpoint and before ``gc`` drops anything, so that
    dropping an old checkpoint never renumbers the rest.
    """
    unnumbered = [cp for cp in checkpoints if cp.number == 0]
    numbers = {cp.sha: recorded[cp.sha] for cp in unnumbered if cp.sha in recorded}
    # Recorded numbers of dropped checkpoints count too: a number is never given twice.
    ceiling = max([*recorded.values(), *(cp.number for cp in checkpoints)], default=0)
    rest = sorted((cp for cp in unnumbered if cp.sha not in recorded), key=lambda c: (c.time, c.sha))
    for number, cp in enumerate(rest, start=ceiling + 1):
        numbers[cp.sha] = number
    return numbers


def record_legacy_numbers(repo: Repo, checkpoints: list[Checkpoint]) -> None:
    """Make derived numbers permanent in ``refs/recovery/<wt>/numbers``: written when
    checkpoints without a number of their own exist whose number is not recorded
    yet (normally once, before the first numbered checkpoint). Call with the lock
    held, with :func:`list_checkpoints`' result.

    Raises:
        RecoverError: the ref moved meanwhile (compare-and-swap).
    """
    derived = {cp.sha: cp.number for cp in checkpoints if cp.number_derived}
    if not derived:
        return
    ref = f"{repo.ref_prefix}{NUMBERS}"
    old = resolve_commit(repo, ref)
    recorded = _parse_numbers(repo.git.text("cat-file", "commit", old).partition("\n\n")[2]) if old else {}
    if all(sha in recorded for sha in derived):
        return
    tree = repo.git.text("mktree", input=b"")
    body = f"{_NUMBERS_SUBJECT}\n\n{json.dumps({**recorded, **derived}, sort_keys=True)}\n"
    commit = repo.git.with_env(**IDENTITY).text("commit-tree", tree, input=body.encode())
    update_ref(repo, ref, commit, old, "recover: numbers of checkpoints taken before numbers existed")


def _parse_numbers(body: str) -> dict[str, int]:
    """The ``{sha: number}`` record in the numbers commit's message body."""
    try:
        data = json.loads(body.strip() or "{}")
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, int) and not isinstance(v, bool) and v > 0}


def _with_labels(cp: Checkpoint, labels: tuple[str, ...]) -> Checkpoint:
    return cp._replace(labels=labels) if labels else cp


def get_label(repo: Repo, label: str) -> Checkpoint | None:
    """The checkpoint a label points at, or ``None`` when the label is unset."""
    sha = resolve_commit(repo, label_ref(repo, label))
    if sha is None:
        return None
    return load(repo, sha)


def good_by_branch(repo: Repo, checkpoints: list[Checkpoint] | None = None) -> dict[str | None, Checkpoint]:
    """The last good checkpoint of each branch (``None``: detached HEAD).

    ``good`` is one ref per worktree, but its reflog remembers every checkpoint
    it ever pointed at, newest first; the first one taken on a branch is that
    branch's last good state. An automatic restore must not carry a user from
    ``main`` back to the last good state of ``feature``.

    Args:
        checkpoints: the worktree's checkpoints, when the caller has them already.
    """
    by_sha = {cp.sha: cp for cp in (checkpoints if checkpoints is not None else list_checkpoints(repo))}
    history = repo.git.run("reflog", "show", "--format=%H", label_ref(repo, "good"), "--", check=False).text
    found: dict[str | None, Checkpoint] = {}
    for sha in history.splitlines():
        cp = by_sha.get(sha)
        if cp is not None and cp.branch not in found:
            found[cp.branch] = cp
    return found


def start_head(git: Git) -> Running:
    """Start the ``rev-parse`` that :func:`read_head` reads, to run alongside other work."""
    return git.start("rev-parse", "HEAD^{commit}", "--symbolic-full-name", "HEAD")


def read_head(git: Git, started: Running | None = None) -> tuple[str | None, str | None]:
    """HEAD's commit and branch: ``(sha | None, "refs/heads/x" | None)``.

    One git process when HEAD is a commit (the usual case; ``started`` by
    :func:`start_head`, default: run now); an unborn branch makes that one
    fail, and two more tell the cases apart.
    """
    both = (started or start_head(git)).wait(check=False)
    lines = both.text.splitlines()
    if both.returncode == 0 and len(lines) == 2:
        return lines[0], (None if lines[1] == "HEAD" else lines[1])
    branch_result = git.run("symbolic-ref", "-q", "HEAD", check=False)
    branch = branch_result.text if branch_result.returncode == 0 else None
    head_result = git.run("rev-parse", "-q", "--verify", "HEAD^{commit}", check=False)
    head = head_result.text if head_result.returncode == 0 else None
    if head is None and branch is None:
        raise RecoverError("HEAD is neither a commit nor a branch; the repository looks damaged")
    return head, branch


def last_good(repo: Repo) -> Checkpoint | None:
    """The last good checkpoint of the branch HEAD is on. When that branch never
    passed the gates, the last good checkpoint of any branch, which is where the
    user last stood on good ground."""
    return good_by_branch(repo).get(read_head(repo.git)[1]) or get_label(repo, "good")


def set_label(repo: Repo, label: str, cp: Checkpoint) -> None:
    """Point label ``good`` or ``undo`` at ``cp`` (compare-and-swap, reflogged).

    Raises:
        UsageError: unknown label.
        RecoverError: the label moved under us.
    """
    if label not in LABELS:
        raise UsageError(f"unknown label {label!r} (known: {', '.join(LABELS)})")
    ref = label_ref(repo, label)
    update_ref(repo, ref, cp.sha, resolve_commit(repo, ref), f"recover: {label} -> {cp.short} ({cp.reason})")


def load(repo: Repo, sha: str) -> Checkpoint:
    """Read one checkpoint commit's metadata (and its derived number, for one
    written before numbers existed).

    Raises:
        RecoverError: ``sha`` is not a git-recover checkpoint commit.
    """
    message = repo.git.run("cat-file", "commit", sha).text
    _, _, body = message.partition("\n\n")
    cp = decode(sha, checkpoint_ref(repo, sha), body)
    if cp.number == 0:
        listed = next((found for found in list_checkpoints(repo) if found.sha == sha), None)
        return cp._replace(number=listed.number, number_derived=True) if listed else cp
    return cp


def shown(checkpoints: list[Checkpoint]) -> list[Checkpoint]:
    """The checkpoints ``list`` shows by default and positions count: every one but
    a restore's safety checkpoints, so a restore never moves a position."""
    return [cp for cp in checkpoints if not cp.is_safety]


def resolve(repo: Repo, name: str) -> Checkpoint:
    """Find a checkpoint by the names the CLI accepts.

    Accepted: a number ``N`` or ``#N`` (the number ``list`` shows, given for life),
    ``last`` (the newest that is not a restore's safety checkpoint),
    ``good`` (the last good checkpoint of the current branch, else of any), ``undo``,
    a position ``@{N}`` (0 is the newest of those ``list`` shows by default, as in
    ``stash@{0}``; safety checkpoints are not counted, so a restore does not move
    them), or a full or abbreviated commit id (at least 4 hex digits, as git's
    minimum abbreviation).

    Raises:
        UsageError: nothing matches, or a name is ambiguous (exit 3).
    """
    name = name.strip()
    if name == "good":
        found = last_good(repo)
        if found is None:
            raise UsageError("no good checkpoint yet (one is marked when every required gate passes)")
        return found
    if name in LABELS:
        found = get_label(repo, name)
        if found is None:
            raise UsageError(f"no {name!r} checkpoint yet")
        return found
    checkpoints = list_checkpoints(repo)
    if name == "last":
        if not checkpoints:
            raise UsageError("no checkpoints yet (take one with `git recover checkpoint`)")
        # A restore's own safety checkpoint is the state it just replaced: as
        # `last` it would make a second `restore last` undo the first.
        return (shown(checkpoints) or checkpoints)[0]
    position = _POSITION.match(name)
    if position:
        digits = position.group(1)
        listed = shown(checkpoints)
        if len(digits) > _MAX_DIGITS or int(digits) >= len(listed):
            raise UsageError(f"no checkpoint at position @{{{_shorten(digits)}}} (there are {len(listed)})")
        return listed[int(digits)]
    by_id = [cp for cp in checkpoints if cp.sha.startswith(name.lower())] if _HEX.match(name.lower()) else []
    number = _NUMBER.match(name)
    if number:
        digits = number.group(1)
        numbered = [cp for cp in checkpoints if cp.number == int(digits)] if len(digits) <= _MAX_DIGITS else []
        if numbered and by_id and not name.startswith("#"):
            raise UsageError(f"{name} is both checkpoint #{name} and an abbreviated id of "
                             f"{by_id[0].short}: write #{name} or more digits of the id")
        if numbered:
            return numbered[0]
        if name.startswith("#") or not by_id:
            raise UsageError(f"no checkpoint #{_shorten(digits)} (see `git recover list --all`)")
    if len(by_id) == 1:
        return by_id[0]
    if len(by_id) > 1:
        listed_ids = ", ".join(cp.short for cp in by_id[:5])
        raise UsageError(f"checkpoint id {name} is ambiguous: {listed_ids}")
    raise UsageError(f"no checkpoint named {_shorten(name)!r} (see `git recover list`)")


def _shorten(name: str, limit: int = 40) -> str:
    """``name`` cut to ``limit`` characters for an error message (a 5,000-digit
    argument stays a one-line error)."""
    return name if len(name) <= limit else f"{name[:limit]}... ({len(name)} characters)"
