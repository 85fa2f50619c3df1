"""README's headline guarantees, each tested here on repositories this file
builds (the ../shared/cases versions in test_cases.py are extra, never needed):
all-or-nothing checkpoints under SIGINT and SIGKILL, the racing writer, the
conflicted merge round trip. The interrupted restore is tests/core/test_kill.py.

Every kill test proves its kill landed while the process was still working:
a test whose process had already finished would test nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recovery.core.checkpoint import create_checkpoint
from recovery.core.repo import Repo
from recovery.core.restore import restore
from tests.conftest import GitRepo
from tests.core.helpers import checkpoint_refs, disk_state, porcelain

_TRACKED, _UNTRACKED = 3000, 200


def _busy_tree(path: Path) -> GitRepo:
    """3,000 committed files, every seventh edited, 200 untracked: a capture
    that takes long enough to be interrupted in the middle."""
    path.mkdir()
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    for i in range(1, _TRACKED + 1):
        repo.write(f"f{i}.txt", f"line {i}\n")
    repo.commit_all("base")
    for i in range(7, _TRACKED + 1, 7):
        with open(path / f"f{i}.txt", "a") as out:
            out.write("edited\n")
    for i in range(1, _UNTRACKED + 1):
        repo.write(f"new/u{i}.txt", f"u{i}\n")
    return repo


def _interrupt_checkpoint(repo: GitRepo, sig: int, delay_s: float) -> bool:
    """Start `git recover checkpoint`, send ``sig`` to its process group after
    ``delay_s``; True when the signal reached it while it was still running."""
    proc = subprocess.Popen([sys.executable, "-P", "-m", "recovery", "checkpoint"], cwd=repo.path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(delay_s)
    landed = proc.poll() is None
    if landed:
        os.killpg(proc.pid, sig)  # the whole group: git children die with it
    proc.wait()
    return landed and proc.returncode != 0


def test_interrupted_checkpoint_is_all_or_nothing(tmp_path: Path) -> None:
    repo = _busy_tree(tmp_path / "r")
    index_before = (repo.path / ".git/index").read_bytes()
    disk_before = disk_state(repo.path)
    landed = 0
    for delay_s in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.45, 0.6):
        for sig in (signal.SIGINT, signal.SIGKILL):
            landed += _interrupt_checkpoint(repo, sig, delay_s)
    assert landed >= 4, f"only {landed} of 16 signals reached a running checkpoint"
    for line in checkpoint_refs(repo):
        sha = line.split()[0]
        # a published checkpoint is complete: its tree has every file
        assert len(repo.git("ls-tree", "-r", "--name-only", sha).splitlines()) == _TRACKED + _UNTRACKED
    assert (repo.path / ".git/index").read_bytes() == index_before
    assert disk_state(repo.path) == disk_before
    repo.git("fsck", "--no-dangling", "--strict")
    cp = create_checkpoint(Repo.discover(repo.path), "manual")  # a later checkpoint works
    assert repo.git("cat-file", "blob", f"{cp.worktree_tree}:new/u7.txt") == "u7"


def test_merge_stopped_on_a_conflict_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "m"
    path.mkdir()
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    repo.write("conflict.txt", "base\n")
    repo.commit_all("base")
    repo.git("checkout", "-q", "-b", "other")
    repo.write("conflict.txt", "other\n")
    repo.commit_all("other")
    repo.git("checkout", "-q", "main")
    repo.write("conflict.txt", "main\n")
    repo.commit_all("main")
    assert subprocess.run(["git", "merge", "other"], cwd=path, capture_output=True).returncode == 1
    conflicted = repo.read("conflict.txt")
    stages = repo.git("ls-files", "-u")
    merge_head = repo.read(".git/MERGE_HEAD")
    status = porcelain(repo)
    r = Repo.discover(path)
    cp = create_checkpoint(r, "manual")
    assert cp.conflict_commit is not None
    repo.git("merge", "--abort")
    assert not (path / ".git/MERGE_HEAD").exists()
    restore(r, cp)
    assert repo.read("conflict.txt") == conflicted and b"<<<<<<<" in conflicted
    assert repo.git("ls-files", "-u") == stages and len(stages.splitlines()) == 3
    assert repo.read(".git/MERGE_HEAD") == merge_head
    assert porcelain(repo) == status
    repo.git("add", "conflict.txt")  # and the user can finish the merge
    repo.git("commit", "-q", "--no-edit")
    assert len(repo.git("rev-list", "--parents", "-n1", "HEAD").split()) == 3


_WRITER = """
import sys, time
end = time.monotonic() + 60
while time.monotonic() < end:
    with open("hot.log", "w") as out:
        out.write("x" * 2_000_000)
    open("hot.log", "w").close()
"""


def test_a_file_rewritten_during_checkpoints_never_gives_a_stale_tree(tmp_path: Path) -> None:
    path = tmp_path / "w"
    path.mkdir()
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    repo.write("hot.log", "start\n")
    repo.write("other.txt", "v1\n")
    repo.commit_all("base")
    writer = subprocess.Popen([sys.executable, "-c", _WRITER], cwd=path, start_new_session=True)
    results = []
    try:
        for _ in range(20):
            results.append(repo.recover("checkpoint", check=False))
    finally:
        os.killpg(writer.pid, signal.SIGKILL)
        writer.wait()
    assert writer.returncode == -signal.SIGKILL, "the writer stopped before the checkpoints ended"
    refs = checkpoint_refs(repo)
    succeeded = [p for p in results if p.returncode == 0]
    assert len(refs) == len(succeeded)  # every success has its ref, every failure none
    for p in results:
        if p.returncode != 0:
            assert p.stderr.startswith("git-recover: checkpoint failed") and "no checkpoint was written" in p.stderr
    for line in refs:
        sha = line.split()[0]
        content = repo.git("cat-file", "blob", f"{sha}:hot.log")
        assert content == "start" or set(content) <= {"x"}  # a state the file had, never a mix
        assert repo.git("cat-file", "blob", f"{sha}:other.txt") == "v1"
    assert not list((path / ".git").glob("*.lock"))
    assert not list((path / ".git/recovery/tmp").iterdir())
    repo.git("fsck", "--no-dangling")
