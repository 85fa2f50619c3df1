"""Assertions on real outcomes: file bytes and executable bits on disk, trees, refs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.conftest import GitRepo


def disk_state(root: Path) -> dict[str, tuple[str, bytes]]:
    """Every file and symlink under ``root`` except ``.git``: kind/exec bit and bytes."""
    out: dict[str, tuple[str, bytes]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            info = full.lstat()
            if stat.S_ISLNK(info.st_mode):
                out[rel] = ("link", os.readlink(full).encode())
            else:
                out[rel] = ("x" if info.st_mode & 0o100 else "-", full.read_bytes())
    return out


def recovery_refs(repo: GitRepo) -> list[str]:
    """All refs under refs/recovery/ ("<sha> <ref>")."""
    out = repo.git("for-each-ref", "--format=%(objectname) %(refname)", "refs/recovery/")
    return [line for line in out.splitlines() if line]


def checkpoint_refs(repo: GitRepo) -> list[str]:
    """Refs of checkpoints only (labels excluded)."""
    return [line for line in recovery_refs(repo) if "/cp/" in line]


def porcelain(repo: GitRepo) -> str:
    """`git status --porcelain=2` with untracked and ignored files listed."""
    return repo.git("status", "--porcelain=2", "--untracked-files=all", "--ignored")


def same_size_edit_keeping_mtime(path: Path, data: bytes) -> None:
    """Overwrite the start of ``path`` in place (same size, same inode) and put
    its mtime back: only ``ctime`` and the bytes tell that it changed."""
    before = path.stat()
    with open(path, "r+b") as out:
        out.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
