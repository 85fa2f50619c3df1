"""Assertions on real outcomes: file bytes and executable bits on disk, trees, refs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
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


def trace2_counts(trace: Path) -> dict[str, int]:
    """Counts from a ``GIT_TRACE2_EVENT`` file: how many ``git status``
    processes ran (``status processes``), the files they ``lstat``-ed to refresh
    the index, the paths and directories their walk visited and opened (nested
    counts: set ``GIT_TRACE2_EVENT_NESTING``), and the fsmonitor hook queries
    of every git process (``hook queries``)."""
    counts: dict[str, int] = {}
    sids: set[str] = set()
    for line in trace.read_text().splitlines():
        event = json.loads(line)
        if event.get("event") == "data" and event.get("key") == "query/response-length":
            counts["hook queries"] = counts.get("hook queries", 0) + 1
        if event.get("event") == "start" and "status" in event["argv"]:
            sids.add(event["sid"])
        elif event.get("event") == "data" and event["sid"] in sids:
            key = event["key"]
            if key in ("refresh/sum_lstat", "preload/sum_lstat", "paths-visited", "opendir"):
                counts[key] = counts.get(key, 0) + int(event["value"])
        elif event.get("event") == "cmd_name" and event["sid"] in sids:
            counts["status processes"] = counts.get("status processes", 0) + 1
    return counts


def hand_to_nobody(repo: GitRepo, root_only: list[str]) -> None:
    """Make ``repo`` belong to ``nobody`` except the paths in ``root_only``
    (root's, mode 0700 or 0600): those are what ``nobody`` may not read."""
    repo.git("config", "--global", "safe.directory", "*")  # root reads nobody's repo afterwards
    for p in list(repo.path.parents)[:-1][::-1]:
        if p.stat().st_mode & 0o005 != 0o005:
            p.chmod(p.stat().st_mode | 0o005)
    for dirpath, dirnames, filenames in os.walk(repo.path):
        for name in dirnames + filenames + ["."]:
            os.lchown(os.path.join(dirpath, name), *nobody_ids())
    for rel in root_only:
        give_to_root(repo, rel, 0o700 if (repo.path / rel).is_dir() else 0o600)


def give_to_root(repo: GitRepo, rel: str, mode: int) -> None:
    """Make ``repo``'s path ``rel`` root's, with ``mode``."""
    os.chown(repo.path / rel, 0, 0)
    (repo.path / rel).chmod(mode)


def nobody_ids() -> tuple[int, int]:
    """``(uid, gid)`` of the user ``nobody``."""
    import pwd

    nobody = pwd.getpwnam("nobody")
    return nobody.pw_uid, nobody.pw_gid


def recover_as_nobody(repo: GitRepo, *args: str, stdin: str | None = None,
                      env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``git-recover ARGS`` in ``repo`` as ``nobody`` (root reads every
    file, so a permission test run as root tests nothing); ``env`` is added to
    the environment."""
    full = {**os.environ, **(env or {}), "HOME": str(repo.path), "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "safe.directory", "GIT_CONFIG_VALUE_0": "*", "CLAUDE_PROJECT_DIR": str(repo.path)}
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           sys.executable, "-P", "-m", "recovery", *args],
                          cwd=repo.path, env=full, capture_output=True, text=True, input=stdin)
