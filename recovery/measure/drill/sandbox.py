"""Disposable clones for drills, and the byte-level snapshots that prove nothing was lost.

A drill never touches the user's working tree: it clones the
repository's committed history into a temporary directory (``git clone`` of a
local path shares the object files by hard link, git-clone(1) ``--local``, so
this is cheap even for a large repository), or, outside any repository, builds
a small example repository. Every scenario then works in its own clone of that
base, so one scenario's damage cannot leak into the next.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from recovery.core.git import Git
from recovery.core.repo import Repo

# Commits the drill makes in its clones carry this identity, so a machine without
# user.email configured can still drill.
IDENTITY = {
    "GIT_AUTHOR_NAME": "git-recover drill",
    "GIT_AUTHOR_EMAIL": "drill@git-recover.invalid",
    "GIT_COMMITTER_NAME": "git-recover drill",
    "GIT_COMMITTER_EMAIL": "drill@git-recover.invalid",
}


@dataclass(frozen=True)
class FileState:
    """One file of a snapshot: its bytes' git blob id, its permission bits, its size."""

    blob: str
    mode: int
    size_bytes: int


Snapshot = dict[str, FileState]  # path relative to the top level, "/"-separated


def blob_id(data: bytes) -> str:
    """The git blob id (SHA-1 of ``blob <size>\\0<data>``, gitformat-object(5)) of ``data``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def snapshot(top: Path) -> Snapshot:
    """Every regular file and symlink under ``top`` except ``.git``: blob id of its
    bytes (of the link target for a symlink), permission bits and size.

    Raises:
        OSError: a file cannot be read (the drill runs as the user who owns the clone).
    """
    out: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if not (d == ".git" and Path(dirpath) == top)]
        for name in filenames:
            path = Path(dirpath, name)
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                data = os.readlink(path).encode("utf-8", "surrogateescape")
            else:
                data = path.read_bytes()
            rel = path.relative_to(top).as_posix()
            out[rel] = FileState(blob_id(data), stat.S_IMODE(info.st_mode), len(data))
    return out


def differences(expected: Snapshot, actual: Snapshot, check_mode: bool = True) -> list[str]:
    """Paths whose bytes (or, with ``check_mode``, permission bits) differ, or that
    exist on one side only; sorted."""
    paths = set(expected) | set(actual)
    out = []
    for path in paths:
        a, b = expected.get(path), actual.get(path)
        if a is None or b is None or a.blob != b.blob or (check_mode and a.mode != b.mode):
            out.append(path)
    return sorted(out)


def tree_blobs(repo: Repo, tree: str) -> dict[str, str]:
    """Path to blob id of every file in ``tree`` (``git ls-tree -r -z``)."""
    out: dict[str, str] = {}
    for entry in repo.git.run("ls-tree", "-r", "-z", tree).stdout.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        out[path.decode("utf-8", "surrogateescape")] = meta.split()[2].decode()
    return out


@dataclass(frozen=True)
class Sandbox:
    """One disposable clone.

    Attributes:
        top: its worktree.
        repo: git-recover's view of it.
    """

    top: Path
    repo: Repo

    def write(self, rel: str, data: str | bytes, executable: bool = False) -> Path:
        """Write a file (creating directories), world-readable so an unprivileged gate can read it."""
        path = self.top / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        path.chmod(0o755 if executable else 0o644)
        return path

    def commit_all(self, message: str) -> None:
        """``git add -A`` and commit with the drill identity (hooks off: Git.run's rule).

        Without automatic gc or maintenance: a clone of a repository with many
        loose objects (a local clone hard-links them) otherwise starts a
        detached ``git gc`` inside the sandbox, which the drill's check for
        processes left behind by a gate then finds."""
        git = self.repo.git.with_env(**IDENTITY).with_config("gc.auto", "0").with_config("maintenance.auto", "false")
        git.run("add", "-A")
        git.run("commit", "-q", "--no-verify", "-m", message)

    def recover_argv(self, *args: str) -> list[str]:
        """argv running this very git-recover on the sandbox (``python -P -m recovery``).

        ``-P`` keeps the working directory off ``sys.path``: a clone of git-recover's
        own repository holds a ``recovery/`` package of the committed version, which
        would otherwise shadow the installed one."""
        return [sys.executable, "-P", "-m", "recovery", *args]


def clone(source: Path, dest: Path) -> Sandbox:
    """Clone ``source`` (a local repository) into ``dest`` and open it.

    Raises:
        GitCommandError: the clone failed.
    """
    Git(dest.parent).run("clone", "--quiet", str(source), str(dest))
    return Sandbox(dest, Repo.discover(dest))


def init_example(dest: Path, files: Mapping[str, str]) -> Sandbox:
    """A new repository at ``dest`` with ``files`` committed on ``main``: the drill's
    example project when it runs outside any repository."""
    dest.mkdir(parents=True)
    Git(dest).run("init", "--quiet", "--initial-branch=main", str(dest))
    sandbox = Sandbox(dest, Repo.discover(dest))
    for rel, text in files.items():
        sandbox.write(rel, text)
    sandbox.commit_all("example project for git recover drill")
    return sandbox
