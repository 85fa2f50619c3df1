"""Checkpoints replicated through a git remote.

Layout on the remote, one ref per machine and worktree::

    refs/recovery/machines/<machine>/<worktree>   the replica commit

The replica commit's parents are the checkpoints that machine's worktree
pushed (so they and everything they need stay reachable), and its tree holds
``checkpoints.json`` (each pushed checkpoint and the local one it came from),
``machine.json`` and ``journal.jsonl``. One ref per source, instead of one per
checkpoint, keeps what a remote advertises small however many checkpoints it
holds, and lets ``git fetch`` ask for one machine only (protocol v2 sends the ref
prefix, so the others are not even listed).

A fetched replica is kept locally under
``refs/recovery/remotes/<remote>/<machine>/<worktree>``; ``transfer.hideRefs``
(set by ``git recover install``) keeps all of ``refs/recovery/`` out of what
the local repository serves.

Pushes are add-only and compare-and-swap: a push first fetches the remote's
replica ref, writes a new replica commit holding everything that was there plus
what is new, and updates the ref with ``--force-with-lease`` against the value
it fetched. Two pushes racing do not overwrite each other: the loser is refused
and nothing is lost. Only ``git recover gc --remote`` removes checkpoints from a
replica, by the retention rules used locally.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from hashlib import sha1

from recovery import __version__
from recovery.base.errors import EXIT_FINDINGS, RecoverError, UsageError
from recovery.base.output import warn
from recovery.core.capture import capture_workdir
from recovery.core.config import GitConfig
from recovery.core.gc import Retention, plan_gc
from recovery.core.git import GitCommandError
from recovery.core.journal import JOURNAL_NAME
from recovery.core.model import METADATA_MARKER, Checkpoint, decode
from recovery.core.refs import list_checkpoints, resolve_commit
from recovery.core.repo import Repo
from recovery.remote.machine import machine_id, valid_machine_id
from recovery.remote.secret_scan import SecretFinding, scan_blobs

REMOTE_PREFIX = "refs/recovery/machines/"
TRACKING_PREFIX = "refs/recovery/remotes/"
EXCLUDE_KEY = "recover.push.exclude"
REPLICA_FORMAT = 1
_REPLICA_SUBJECT = "git-recover replica"


class SecretsFound(RecoverError):
    """Checkpoints about to be pushed hold files that look like secrets.

    Attributes:
        findings: one per path and blob.
    """

    def __init__(self, findings: Sequence[SecretFinding]) -> None:
        names = ", ".join(f"{f.path} ({', '.join(f.kinds)})" for f in findings[:10])
        more = f" and {len(findings) - 10} more" if len(findings) > 10 else ""
        super().__init__(
            f"refusing to push: {names}{more} look like secrets; exclude them with "
            f"`git config --add {EXCLUDE_KEY} PATH`, or pass --allow-secrets",
            EXIT_FINDINGS,
        )
        self.findings = tuple(findings)


@dataclass(frozen=True)
class Entry:
    """One checkpoint in a replica.

    Attributes:
        id: the checkpoint commit on the remote (a parent of the replica commit).
        source: the local checkpoint it was made from; the same id unless paths
            were excluded.
        excluded: paths left out by ``recover.push.exclude``.
    """

    id: str
    source: str
    excluded: tuple[str, ...] = ()


@dataclass(frozen=True)
class Replica:
    """What one machine's worktree has on a remote.

    Attributes:
        machine: the machine id.
        worktree: the worktree key (``main`` or ``wt-<name>``).
        commit: the replica commit.
        entries: its checkpoints, newest first.
        checkpoints: the same checkpoints as :class:`Checkpoint` objects, newest first.
        pushed_at: when it was written (UTC).
        dropped: local checkpoint ids ``gc --remote`` removed from the replica, so
            that a later push does not send them again (only ids that still exist
            on the pushing machine are remembered).
    """

    machine: str
    worktree: str
    commit: str
    entries: tuple[Entry, ...]
    checkpoints: tuple[Checkpoint, ...]
    pushed_at: datetime | None
    dropped: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PushResult:
    """What a push sent.

    Attributes:
        remote: the remote as the user named it.
        machine: the machine id pushed under.
        ref: the ref written on the remote.
        sent: checkpoints new to the remote.
        total: checkpoints the replica holds now.
        excluded: paths left out, over all sent checkpoints.
        secrets_allowed: findings the user let through with ``--allow-secrets``.
    """

    remote: str
    machine: str
    ref: str
    sent: tuple[Entry, ...]
    total: int
    excluded: tuple[str, ...]
    secrets_allowed: tuple[SecretFinding, ...] = ()


def _check_remote(remote: str) -> None:
    """Refuse a remote git would read as an option: ``--upload-pack=CMD`` in
    the place of a remote name runs CMD (hostile testing).

    Raises:
        UsageError: ``remote`` is empty or starts with ``-``.
    """
    if not remote or remote.startswith("-"):
        raise UsageError(f"not a remote: {remote!r} (a remote's name, URL or path cannot start with '-')")


def remote_key(remote: str) -> str:
    """The ref component a remote is tracked under: its name, or for a URL or
    path, ``url-`` and a hash of it."""
    if re.match(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$", remote) and ".." not in remote:
        return remote
    return "url-" + sha1(remote.encode(), usedforsecurity=False).hexdigest()[:12]


def remote_ref(machine: str, worktree: str) -> str:
    """The replica ref of ``machine``'s ``worktree`` on a remote."""
    return f"{REMOTE_PREFIX}{machine}/{worktree}"


def tracking_ref(remote: str, machine: str, worktree: str) -> str:
    """Where a fetched replica is kept locally."""
    return f"{TRACKING_PREFIX}{remote_key(remote)}/{machine}/{worktree}"


def fetch(repo: Repo, remote: str, machine: str | None = None) -> list[Replica]:
    """Fetch every machine's replicas (or one machine's) from ``remote``.

    Replicas removed on the remote are removed locally too (their tracking refs
    only; the objects stay until git's own gc).

    Returns:
        The replicas now known for ``remote``, by machine and worktree.

    Raises:
        UsageError: ``remote`` starts with ``-`` (git would read it as an option).
        UsageError: ``machine`` is not a valid machine id.
        RecoverError: git could not reach the remote or the fetch failed.
    """
    _check_remote(remote)
    if machine is not None and not valid_machine_id(machine):
        raise UsageError(f"{machine!r} is not a valid machine id")
    key = remote_key(remote)
    source = f"{REMOTE_PREFIX}{machine + '/' if machine else ''}*"
    dest = f"{TRACKING_PREFIX}{key}/{machine + '/' if machine else ''}*"
    _fetch(repo, remote, f"+{source}:{dest}", prune=True)
    return list_replicas(repo, remote, machine)


def list_replicas(repo: Repo, remote: str, machine: str | None = None) -> list[Replica]:
    """The replicas fetched from ``remote`` so far (no network).

    Raises:
        UsageError: ``remote`` starts with ``-`` (git would read it as an option).
    """
    _check_remote(remote)
    prefix = f"{TRACKING_PREFIX}{remote_key(remote)}/"
    out = repo.git.run("for-each-ref", "--format=%(refname) %(objectname)",
                       prefix + (f"{machine}/" if machine else "")).text
    replicas = []
    for line in out.splitlines():
        ref, sha = line.split(" ")
        parts = ref.removeprefix(prefix).split("/")
        if len(parts) != 2:
            continue
        try:
            replicas.append(read_replica(repo, sha, parts[0], parts[1]))
        except RecoverError as exc:
            # One foreign or damaged ref on a shared remote must not hide every
            # other machine's checkpoints.
            warn(f"skipping {exc.message}")
    return replicas


def read_replica(repo: Repo, commit: str, machine: str, worktree: str) -> Replica:
    """Read a replica commit's index and its checkpoints' metadata.

    Raises:
        RecoverError: the commit is not a replica this version can read.
    """
    try:
        index = json.loads(repo.git.run("cat-file", "blob", f"{commit}:checkpoints.json").stdout)
        info = json.loads(repo.git.run("cat-file", "blob", f"{commit}:machine.json").stdout)
        if not isinstance(index, dict) or not isinstance(info, dict):
            raise ValueError("its index is not a JSON object")
        if index.get("format") != REPLICA_FORMAT:
            raise ValueError(f"format {index.get('format')!r}")
        entries = tuple(
            Entry(str(e["id"]), str(e["source"]), tuple(str(p) for p in e.get("excluded", [])))
            for e in index["checkpoints"]
        )
        pushed_at = datetime.fromisoformat(info["pushed_at"]) if info.get("pushed_at") else None
        dropped = frozenset(str(sha) for sha in index.get("dropped", []))
    except GitCommandError as exc:
        raise RecoverError(f"{machine}/{worktree} ({commit[:10]}): not a git-recover replica "
                           f"({_first_fatal(exc)})") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RecoverError(f"{machine}/{worktree} ({commit[:10]}): not a git-recover replica ({exc})") from None
    ref = remote_ref(machine, worktree)
    checkpoints = _load_many(repo, [e.id for e in entries], ref)
    by_id = {cp.sha: cp for cp in checkpoints}
    ordered = sorted(entries, key=lambda e: by_id[e.id].time if e.id in by_id else _EPOCH, reverse=True)
    return Replica(machine, worktree, commit, tuple(ordered),
                   tuple(by_id[e.id] for e in ordered if e.id in by_id), pushed_at, dropped)


def push(repo: Repo, remote: str, allow_secrets: bool = False) -> PushResult:
    """Send this worktree's checkpoints that the remote lacks, and the journal.

    Args:
        repo: the worktree.
        remote: a remote name or URL.
        allow_secrets: push files that look like secrets anyway.

    Returns:
        A :class:`PushResult`.

    Raises:
        UsageError: ``remote`` starts with ``-`` (git would read it as an option).
        SecretsFound: a checkpoint to send holds a file that looks like a secret
            (nothing was sent).
        RecoverError: the remote could not be reached, or another push to the
            same replica won the race (nothing was lost; push again).
    """
    _check_remote(remote)
    config = GitConfig.load(repo.git)
    machine = machine_id(repo, config)
    wt = repo.worktree_key
    ref, tracking = remote_ref(machine, wt), tracking_ref(remote, machine, wt)
    old = resolve_commit(repo, tracking) if _fetch(repo, remote, f"+{ref}:{tracking}", prune=False, missing_ok=True) else None
    replica = read_replica(repo, old, machine, wt) if old else None
    kept = replica.entries if replica else ()
    local = list_checkpoints(repo)
    dropped = (replica.dropped if replica else frozenset()) & {cp.sha for cp in local}
    known = {e.source for e in kept} | {e.id for e in kept} | dropped
    new = [cp for cp in local if cp.sha not in known]
    excludes = _excludes(repo)
    findings = scan_blobs(repo, _added_blobs(repo, new, excludes))
    if findings and not allow_secrets:
        raise SecretsFound(findings)
    sent = tuple(_prepare(repo, cp, excludes) for cp in new)
    entries = sent + tuple(kept)
    commit = _write_replica(repo, machine, wt, entries, dropped)
    _push_ref(repo, remote, commit, ref, old)
    repo.git.run("update-ref", "-m", f"recover: pushed to {remote}", tracking, commit)
    excluded = sorted({p for e in sent for p in e.excluded})
    return PushResult(remote, machine, ref, sent, len(entries), tuple(excluded), tuple(findings))


def gc_remote(repo: Repo, remote: str, keep: int | None = None, max_age_days: float | None = None,
              dry_run: bool = False) -> tuple[list[Checkpoint], list[Checkpoint]]:
    """Apply local retention rules to what this machine's worktree pushed.

    Returns:
        ``(dropped, kept)`` checkpoints, newest first.

    Raises:
        UsageError: ``remote`` starts with ``-`` (git would read it as an option).
        RecoverError: the remote could not be reached or moved meanwhile.
    """
    _check_remote(remote)
    config = GitConfig.load(repo.git)
    machine = machine_id(repo, config)
    wt = repo.worktree_key
    ref, tracking = remote_ref(machine, wt), tracking_ref(remote, machine, wt)
    old = resolve_commit(repo, tracking) if _fetch(repo, remote, f"+{ref}:{tracking}", prune=False, missing_ok=True) else None
    if old is None:
        return [], []
    replica = read_replica(repo, old, machine, wt)
    plan = plan_gc(list(replica.checkpoints), Retention.from_config(config, keep, max_age_days))
    if dry_run or not plan.drop:
        return list(plan.drop), list(plan.keep)
    dropped = {cp.sha for cp in plan.drop}
    entries = tuple(e for e in replica.entries if e.id not in dropped)
    sources = replica.dropped | {e.source for e in replica.entries if e.id in dropped}
    commit = _write_replica(repo, machine, wt, entries, sources)
    _push_ref(repo, remote, commit, ref, old)
    repo.git.run("update-ref", "-m", f"recover: gc on {remote}", tracking, commit)
    return list(plan.drop), list(plan.keep)


def find(repo: Repo, remote: str, name: str, machine: str | None = None) -> tuple[Replica, Checkpoint]:
    """Resolve ``name`` among the checkpoints fetched from ``remote``.

    Args:
        name: ``last`` (the newest, over every machine unless ``machine``), or a
            full or abbreviated id, of the pushed commit or of the local
            checkpoint it was made from.

    Raises:
        UsageError: ``remote`` starts with ``-`` (git would read it as an option).
        UsageError: nothing matches, or the name is ambiguous (exit 3).
    """
    _check_remote(remote)
    replicas = list_replicas(repo, remote, machine)
    pairs = [(r, cp) for r in replicas for cp in r.checkpoints]
    if not pairs:
        where = f" for machine {machine}" if machine else ""
        raise UsageError(f"no checkpoints from {remote}{where} (push some with `git recover push`)")
    if name == "last":
        return max(pairs, key=lambda pair: pair[1].time)
    if not name:
        raise UsageError(f"missing checkpoint id after '{remote}:' (an id from `git recover list --remote {remote}`, "
                         "or last)")
    lowered = name.lower()
    if not re.match(r"^[0-9a-f]{4,64}$", lowered):
        raise UsageError(f"{name!r} is not a checkpoint id (use an id from `git recover list --remote {remote}`)")
    sources = {(r.machine, r.worktree, e.id): e.source for r in replicas for e in r.entries}
    matches = [
        (r, cp) for r, cp in pairs
        if cp.sha.startswith(lowered) or sources.get((r.machine, r.worktree, cp.sha), "").startswith(lowered)
    ]
    unique = {cp.sha: (r, cp) for r, cp in matches}
    if len(unique) == 1:
        return next(iter(unique.values()))
    if not unique:
        raise UsageError(f"no checkpoint {name} from {remote} (see `git recover list --remote {remote}`)")
    shown = ", ".join(f"{r.machine}:{cp.short}" for r, cp in list(unique.values())[:5])
    raise UsageError(f"checkpoint id {name} is ambiguous on {remote}: {shown}")


def is_remote(repo: Repo, name: str) -> bool:
    """True when ``name`` is a configured remote of this repository."""
    return name in repo.git.run("remote", check=False).text.splitlines()


def journal_of(repo: Repo, replica: Replica) -> bytes:
    """The journal a replica carries (empty when it carried none)."""
    result = repo.git.run("cat-file", "blob", f"{replica.commit}:{JOURNAL_NAME}", check=False)
    return result.stdout if result.returncode == 0 else b""


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _fetch(repo: Repo, remote: str, refspec: str, prune: bool, missing_ok: bool = False) -> bool:
    """Fetch ``refspec``; False when the remote lacks its source and ``missing_ok``
    (a tracking ref left from an earlier fetch must then not stand for it).

    Raises:
        RecoverError: the fetch failed otherwise.
    """
    args = ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-auto-gc"]
    if prune:
        args.append("--prune")
    try:
        repo.git.run(*args, remote, refspec)
    except GitCommandError as exc:
        if missing_ok and "couldn't find remote ref" in exc.stderr:
            return False
        raise RecoverError(f"cannot fetch from {remote}: {_first_fatal(exc)}") from None
    return True


def _first_fatal(exc: GitCommandError) -> str:
    """git's own first complaint (``'x' does not appear to be a git repository``),
    not the generic advice lines that follow it."""
    lines = [line.strip() for line in exc.stderr.splitlines() if line.strip()]
    fatal = [line.removeprefix("fatal: ") for line in lines if line.startswith(("fatal:", "error:"))]
    return (fatal or lines or [exc.message])[0]


def _excludes(repo: Repo) -> list[str]:
    out = repo.git.run("config", "--get-all", EXCLUDE_KEY, check=False).text
    return [line for line in out.splitlines() if line.strip()]


def _added_blobs(repo: Repo, checkpoints: Iterable[Checkpoint], excludes: Sequence[str]) -> list[tuple[str, str]]:
    """``(path, blob)`` of every file a checkpoint holds that its HEAD commit
    does not (staged, unstaged and untracked content), excluded paths left out:
    what would leave the machine for the first time."""
    found: set[tuple[str, str]] = set()
    for cp in checkpoints:
        for tree in dict.fromkeys((cp.index_tree, cp.worktree_tree)):
            base = f"{cp.head}^{{tree}}" if cp.head else repo.object_format.empty_tree
            args = ["diff-tree", "-r", "-z", "--no-renames", "--diff-filter=AM", base, tree]
            if excludes:
                args += ["--", ".", *(f":(exclude){p}" for p in excludes)]
            out = repo.git.run(*args).stdout.split(b"\0")
            for meta, path in zip(out[0::2], out[1::2]):
                fields = meta.decode().split()
                if len(fields) >= 4 and fields[1] != "160000":
                    found.add((path.decode("utf-8", "surrogateescape"), fields[3]))
    return sorted(found)


def _prepare(repo: Repo, cp: Checkpoint, excludes: Sequence[str]) -> Entry:
    """The checkpoint as it will be sent: itself, or a copy without the
    excluded paths (its metadata names them, so a restore can say so)."""
    if not excludes:
        return Entry(cp.sha, cp.sha)
    index_tree, gone_i = _strip(repo, cp.index_tree, excludes)
    worktree_tree, gone_w = _strip(repo, cp.worktree_tree, excludes)
    conflict = cp.conflict_commit
    gone_c: list[str] = []
    if conflict is not None:
        stages = [f"{stage}/{p}" for stage in ("stage1", "stage2", "stage3") for p in excludes]
        new_tree, gone_c = _strip(repo, f"{conflict}^{{tree}}", stages)
        if gone_c:
            conflict = _copy_commit(repo, conflict, new_tree)
    gone = sorted(set(gone_i) | set(gone_w) | {p.split("/", 1)[1] for p in gone_c})
    if not gone:
        return Entry(cp.sha, cp.sha)
    message = repo.git.run("cat-file", "commit", cp.sha).text.partition("\n\n")[2]
    subject, marker, tail = message.rpartition(METADATA_MARKER)
    data = json.loads(tail.strip().splitlines()[0])
    index_commit = _copy_commit(repo, cp.index_commit, index_tree)
    data.update(index_tree=index_tree, worktree_tree=worktree_tree, index_commit=index_commit,
                conflict_commit=conflict)
    data["notes"] = [*data.get("notes", []), f"left out when pushed ({EXCLUDE_KEY}): {', '.join(gone)}"]
    new_message = subject + marker + json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n"
    parents = [p for p in (cp.head, index_commit, conflict) if p]
    args = ["commit-tree", worktree_tree, *[a for p in parents for a in ("-p", p)]]
    sha = repo.git.run(*args, input=new_message.encode()).text
    return Entry(sha, cp.sha, tuple(gone))


def _strip(repo: Repo, tree: str, pathspecs: Sequence[str]) -> tuple[str, list[str]]:
    """``tree`` without the paths matching ``pathspecs`` (git pathspecs), and
    those paths; the work happens in a temporary index, the user's is untouched."""
    with capture_workdir(repo, "push") as scratch:
        git = repo.git.with_index(scratch / "index")
        git.run("read-tree", tree)
        # Paths are matched in the temporary index only: `git rm --cached` would
        # compare them with the files on disk now, which have nothing to do with
        # a checkpoint's tree.
        try:
            matched = git.run("ls-files", "-z", "--", *pathspecs).stdout
        except GitCommandError as exc:
            raise UsageError(f"bad pathspec in git config {EXCLUDE_KEY}: {_first_fatal(exc)}") from None
        if matched:
            git.run("update-index", "-z", "--force-remove", "--stdin", input=matched)
        stripped = git.run("write-tree").text
    listed = repo.git.run("diff-tree", "-r", "-z", "--name-only", "--no-renames", "--diff-filter=D",
                          tree, stripped).stdout
    return stripped, [p.decode("utf-8", "surrogateescape") for p in listed.split(b"\0") if p]


def _copy_commit(repo: Repo, commit: str, tree: str) -> str:
    """A commit like ``commit`` (parents, message) with another tree."""
    raw = repo.git.run("cat-file", "commit", commit).text
    header, _, message = raw.partition("\n\n")
    parents = [line.split()[1] for line in header.splitlines() if line.startswith("parent ")]
    args = ["commit-tree", tree, *[a for p in parents for a in ("-p", p)]]
    return repo.git.run(*args, input=message.encode()).text


def _write_replica(repo: Repo, machine: str, worktree: str, entries: Sequence[Entry],
                   dropped: Iterable[str]) -> str:
    """Write the replica commit for ``entries`` (objects only; no ref)."""
    index = {"format": REPLICA_FORMAT,
             "checkpoints": [{"id": e.id, "source": e.source, "excluded": list(e.excluded)} for e in entries],
             "dropped": sorted(dropped)}
    info = {"format": REPLICA_FORMAT, "machine": machine, "worktree": worktree, "version": __version__,
            "pushed_at": datetime.now(timezone.utc).isoformat()}
    blobs = {
        "checkpoints.json": json.dumps(index, indent=1).encode(),
        "machine.json": json.dumps(info, indent=1).encode(),
        JOURNAL_NAME: _journal_bytes(repo),
    }
    lines = []
    for name, data in sorted(blobs.items()):
        blob = repo.git.run("hash-object", "-w", "--stdin", input=data).text
        lines.append(f"100644 blob {blob}\t{name}".encode())
    tree = repo.git.run("mktree", "-z", input=b"\0".join(lines) + b"\0").text
    args = ["commit-tree", tree, *[a for e in entries for a in ("-p", e.id)]]
    message = f"{_REPLICA_SUBJECT} of {machine}/{worktree}: {len(entries)} checkpoint(s)\n"
    return repo.git.run(*args, input=message.encode()).text


def _journal_bytes(repo: Repo) -> bytes:
    """The worktree's journal, rotated files first, as one JSON Lines text."""
    live = repo.state_dir / JOURNAL_NAME
    rotated = sorted((p for p in repo.state_dir.glob(JOURNAL_NAME + ".*") if p.suffix[1:].isdigit()),
                     key=lambda p: int(p.suffix[1:]), reverse=True)
    chunks = []
    for path in [*rotated, live]:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        chunks.append(data if data.endswith(b"\n") or not data else data + b"\n")
    return b"".join(chunks)


def _push_ref(repo: Repo, remote: str, commit: str, ref: str, old: str | None) -> None:
    """Point ``ref`` on ``remote`` at ``commit`` if it still is ``old``."""
    try:
        repo.git.run("push", "--quiet", "--no-verify", f"--force-with-lease={ref}:{old or ''}",
                     remote, f"{commit}:{ref}")
    except GitCommandError as exc:
        if "stale info" in exc.stderr or "rejected" in exc.stderr:
            raise RecoverError(
                f"{remote} changed while pushing (another push of {ref}?); nothing was lost, push again"
            ) from None
        raise RecoverError(f"cannot push to {remote}: {_first_fatal(exc)}") from None


def _load_many(repo: Repo, shas: Sequence[str], ref: str) -> list[Checkpoint]:
    """Read many checkpoint commits' metadata with one git process."""
    if not shas:
        return []
    out = repo.git.run("log", "--no-walk=unsorted", "--format=%H%x00%B%x00", *shas).stdout
    found = []
    for record in out.split(b"\0\n"):
        if not record.strip():
            continue
        sha, _, body = record.decode("utf-8", "surrogateescape").lstrip("\n").partition("\0")
        try:
            found.append(decode(sha, ref, body.rstrip("\0"))._replace(ref=ref))
        except RecoverError:
            continue  # not a checkpoint: a replica holds nothing else, skip what is foreign
    return found
