"""Worktrees that fight back: a tracked directory its owner cannot read, a FIFO
where a file is tracked, a file that vanishes under git, and files that never
stop changing. Each must end in a checkpoint that says exactly what it holds, or
in a loud failure that names the paths; never in a stale tree said to be fine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from recovery.base.errors import RecoverError
from recovery.core.checkpoint import create_checkpoint
from recovery.core.git import Git, Result
from recovery.core.refs import list_checkpoints
from recovery.core.repo import Repo
from tests.conftest import GitRepo
from tests.core.helpers import trace2_counts
from tests.links.links_helpers import ROOT, unprivileged_skip_reason, user_group, world_readable_tmp


@pytest.mark.parametrize("fsmonitor", [False, True], ids=["full", "fsmonitor"])
def test_unreadable_tracked_directory_is_left_out_and_the_rest_captured(fsmonitor: bool) -> None:
    """Run as `nobody` (root reads everything): git only prints "src/a.py:
    Permission denied", exits 0 and keeps the old content; the checkpoint must
    not record that stale content, nor call the directory untracked, nor fail
    (every later checkpoint would fail too, and an agent's tool calls go on
    unprotected): it leaves the file out, says so, and holds the rest. With
    core.fsmonitor `git status` says the same and leaves the path out of its
    list; the hook here answers "everything may have changed" (a valid answer,
    and what git's watchman hook says when it cannot ask watchman)."""
    reason = unprivileged_skip_reason()
    if reason:
        pytest.skip(reason)
    with world_readable_tmp() as top:
        repo = GitRepo(top / "r")
        repo.path.mkdir()
        repo.git("init", "-q", "-b", "main")
        repo.write("src/a.py", "committed\n")
        repo.write("b.txt", "b\n")
        repo.commit_all("base")
        if fsmonitor:
            hook = repo.write(".git/hooks/everything", "#!/bin/sh\nprintf 'token\\0/\\0'\n", mode=0o755)
            repo.git("config", "core.fsmonitor", str(hook))
            repo.git("status", "--porcelain")
        repo.write("src/a.py", "unstaged work\n")
        repo.write("b.txt", "b edited\n")
        subprocess.run(["chown", "-R", "nobody:" + user_group("nobody"), str(repo.path)], check=True)
        (repo.path / "src").chmod(0o000)
        trace = top / "trace.json"
        trace.touch(mode=0o666)
        trace.chmod(0o666)  # written by `nobody`
        proc = subprocess.run(
            ["setpriv", "--reuid=nobody", f"--regid={user_group('nobody')}", "--clear-groups",
             sys.executable, "-m", "recovery", "checkpoint"],
            cwd=repo.path, capture_output=True, text=True, check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(top), "GIT_CONFIG_GLOBAL": "/dev/null",
                 "GIT_TRACE2_EVENT": str(trace)})
        (repo.path / "src").chmod(0o755)
        assert proc.returncode == 0, proc.stderr
        assert "src/a.py cannot be read by you and was NOT captured" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert trace2_counts(trace).get("status processes", 0) == fsmonitor  # which path ran
        repo.git("config", "--global", "safe.directory", "*")  # root reads nobody's repository
        cp = list_checkpoints(Repo.discover(repo.path))[0]
        assert ("src/a.py", "unreadable-file") in [(s.path, s.reason) for s in cp.skipped]
        assert repo.git("ls-tree", "-r", "--name-only", cp.worktree_tree).splitlines() == ["b.txt"]
        assert repo.git("cat-file", "blob", f"{cp.worktree_tree}:b.txt") == "b edited"
        assert repo.git("cat-file", "blob", f"{cp.index_tree}:src/a.py") == "committed"  # the index as it is


def test_fifo_at_a_tracked_path_blocks_neither_checkpoint_nor_restore(repo: GitRepo) -> None:
    repo.write("pipe", "a file once\n")
    repo.write("other.txt", "v1\n")
    repo.commit_all("base")
    r = Repo.discover(repo.path)
    before = create_checkpoint(r, "manual")
    (repo.path / "pipe").unlink()
    os.mkfifo(repo.path / "pipe")
    os.mkfifo(repo.path / "new-pipe")  # untracked: git cannot store it either
    repo.write("other.txt", "v2\n")

    proc = repo.recover("checkpoint")
    assert "pipe is a FIFO, socket or device node" in proc.stderr
    cp = list_checkpoints(r)[0]
    assert {(s.path, s.reason) for s in cp.skipped} >= {("pipe", "special-file")}
    assert repo.git("cat-file", "blob", f"{cp.worktree_tree}:other.txt") == "v2"  # the rest is captured

    restored = repo.recover("restore", before.sha)
    assert "OK" in restored.stdout
    assert (repo.path / "pipe").is_file() and repo.read("pipe") == b"a file once\n"
    assert repo.read("other.txt") == b"v1\n"

    # A FIFO at a tracked path holds none of the recorded bytes: a check that
    # did not compare it says so instead of calling the state identical.
    (repo.path / "pipe").unlink()
    os.mkfifo(repo.path / "pipe")
    verify = repo.recover("verify", before.sha, "--worktree")
    assert "identical as far as checked" in verify.stdout
    assert "not covered: pipe is a FIFO, socket or device node: not compared" in verify.stdout


def test_file_that_vanishes_before_git_adds_it_does_not_fail_the_capture(repo: GitRepo,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """vim creates `4913` to probe a directory and deletes it at once: listed as
    untracked, gone when git adds it."""
    repo.write("notes.txt", "edited\n")
    repo.write("4913", "")
    real_run = Git.run
    vanished: list[bool] = []

    def run(self: Git, *args: str, **kwargs: object) -> Result:
        if args[:2] == ("update-index", "--add") and b"4913" in (kwargs.get("input") or b""):  # type: ignore[operator]
            (repo.path / "4913").unlink()
            vanished.append(True)
        return real_run(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Git, "run", run)
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    assert vanished == [True]
    files = repo.git("ls-tree", "-r", "--name-only", cp.worktree_tree).splitlines()
    assert "4913" not in files and "notes.txt" in files


_UNKNOWN = "error: something git has never said\n"
_ELSEWHERE = "error: open(\"elsewhere.txt\"): Permission denied\n"


@pytest.mark.parametrize(("step", "code", "stderr"), [
    (("add", "-u"), 1, ""), (("add", "-u"), 1, _UNKNOWN), (("add", "-u"), 1, _ELSEWHERE),
    (("diff-files",), 1, ""), (("diff-files",), 0, _UNKNOWN), (("diff-files",), 0, _ELSEWHERE),
], ids=["add-sparse-silent", "add-sparse-unknown", "add-sparse-another-path",
        "diff-files-failed", "diff-files-unknown", "diff-files-another-path"])
def test_listing_changes_failing_for_a_reason_not_accounted_for_fails_the_capture(
        repo: GitRepo, monkeypatch: pytest.MonkeyPatch, stderr: str, step: tuple[str, ...], code: int) -> None:
    """``add --ignore-errors`` (the sparse checkout's way) exits 1 for paths
    it could not add and still writes the others: that is accepted only when
    git named every one and each is accounted for (a special or unreadable
    file); anything else would leave a stale entry in a checkpoint called
    complete. ``diff-files`` (everywhere else) skips an entry it says an error
    about, exit status 0 or not: any error fails the capture."""
    if step[0] == "add":
        repo.git("config", "core.sparseCheckout", "true")
    repo.write("README.md", "edited\n")
    real_run = Git.run
    faked: list[tuple[str, ...]] = []

    def run(self: Git, *args: str, **kwargs: object) -> Result:
        if args[:len(step)] == step:
            faked.append(args)
            return Result(code, b"", stderr)
        return real_run(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Git, "run", run)
    r = Repo.discover(repo.path)
    with pytest.raises(RecoverError, match="checkpoint failed: "):
        create_checkpoint(r, "manual")
    assert faked and list_checkpoints(r) == []


@pytest.mark.parametrize("step", [("add", "-u"), ("update-index", "--add")], ids=["add-sparse", "update-index"])
def test_a_file_recreated_while_git_stats_it_makes_the_capture_retry(repo: GitRepo, monkeypatch: pytest.MonkeyPatch,
                                                                   step: tuple[str, str]) -> None:
    """A tracked file deleted and created again while ``add -u`` (a sparse
    checkout) or ``update-index`` walked: git dies with "unable to stat" (exit
    128), which failed 11 of 40 checkpoints with no retry (hostile testing).
    It is a race: the capture retries."""
    if step[0] == "add":
        repo.git("config", "core.sparseCheckout", "true")
    repo.write("README.md", "edited\n")
    real_run = Git.run
    adds: list[int] = []

    def run(self: Git, *args: str, **kwargs: object) -> Result:
        if args[:2] == step:
            adds.append(1)
            if len(adds) == 1:
                return Result(128, b"", "fatal: unable to stat 'README.md': No such file or directory\n")
        return real_run(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Git, "run", run)
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    assert len(adds) == 2
    assert repo.git("cat-file", "blob", f"{cp.worktree_tree}:README.md") == "edited"


_WRITER = """
import sys, time
path = sys.argv[1]
while True:
    with open(path, "a") as log:
        log.write("event %f\\n" % time.time())
    time.sleep(0.002)
"""


@contextmanager
def _writer(path: Path) -> Iterator[None]:
    """A program appending to ``path`` a few hundred times a second until the block ends."""
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        yield
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_busy_tree_is_checkpointed_and_restored_with_the_racing_file_named(repo: GitRepo) -> None:
    """A log appended to hundreds of times a second: every checkpoint is written,
    the log named as racing, every other file verified; a restore leaves the log
    alone and restores the rest."""
    repo.write("app.log", "")
    repo.write("src.txt", "v1\n")
    repo.commit_all("base")
    r = Repo.discover(repo.path)
    with _writer(repo.path / "app.log"):
        results = [repo.recover("checkpoint", check=False) for _ in range(8)]
        assert [p.returncode for p in results] == [0] * 8, [p.stderr for p in results if p.returncode]
        racing = [p for p in results if "racing: app.log kept changing" in p.stderr]
        assert racing, "the writer never raced a capture: the test proved nothing"
        checkpoints = list_checkpoints(r)
        assert len(checkpoints) == 8
        for cp in checkpoints:
            assert repo.git("cat-file", "blob", f"{cp.worktree_tree}:src.txt") == "v1"
        noted = [cp for cp in checkpoints if any("racing: app.log" in n for n in cp.notes)]
        assert len(noted) == len(racing)

        cp = checkpoints[0]
        repo.write("src.txt", "broken\n")
        restored = repo.recover("restore", cp.sha, check=False)
        assert restored.returncode == 0, restored.stderr
        assert repo.read("src.txt") == b"v1\n"
        size = (repo.path / "app.log").stat().st_size
        time.sleep(0.1)
        assert (repo.path / "app.log").stat().st_size > size  # the writer's file is still its own
    if "left as they are" in restored.stderr:
        assert "app.log kept changing" in restored.stderr
    repo.git("fsck", "--no-dangling")


def test_restore_next_to_a_racing_file_is_not_called_byte_identical(repo: GitRepo) -> None:
    """A file a program keeps writing is left alone by a restore and not
    compared: the verdict names it as a limit instead of saying byte-identical
    while stderr says it was not compared."""
    repo.write("app.log", "")
    repo.write("src.txt", "v1\n")
    repo.commit_all("base")
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    with _writer(repo.path / "app.log"):
        for _ in range(10):
            repo.write("src.txt", "broken\n")
            restored = repo.recover("restore", cp.sha)
            if "left as they are" in restored.stderr:
                break
        else:
            pytest.fail("the writer never raced a restore: the test proved nothing")
    assert repo.read("src.txt") == b"v1\n"
    assert "app.log kept changing" in restored.stderr
    assert "byte-identical" not in restored.stdout
    assert "identical as far as checked" in restored.stdout
    assert "not covered: app.log changed while being checked" in restored.stdout


def _replace_tree(repo: GitRepo, tree: str, entries: str) -> None:
    """Make ``refs/replace/<tree>`` point at a tree of ``entries`` (ls-tree lines)."""
    replacement = repo.git("mktree", input=entries.encode())
    repo.git("replace", "-f", tree, replacement)


def test_a_replaced_tree_is_restored_as_its_own_bytes(repo: GitRepo) -> None:
    """``git replace`` makes git read another object wherever a tree appears: a
    checkpoint's tree id must still mean its own bytes. The restore refused,
    calling the object store damaged; with the replacement followed it would
    have written the replacement's files."""
    repo.write("a/f", "real\n")
    repo.write("a/g", "g\n")
    repo.commit_all("base")
    real = repo.git("rev-parse", "HEAD:a")
    evil = repo.git("hash-object", "-w", "--stdin", input=b"replacement\n")
    _replace_tree(repo, real, f"100644 blob {evil}\tf\n100644 blob {repo.git('rev-parse', 'HEAD:a/g')}\tg\n")
    assert repo.git("cat-file", "-p", "HEAD:a/f") == "replacement"  # the replacement is in force for git
    repo.write("README.md", "work\n")
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    assert repo.git("--no-replace-objects", "rev-parse", f"{cp.worktree_tree}:a") == real

    for name in ("f", "g"):
        (repo.path / "a" / name).unlink()
    restored = repo.recover("restore", cp.short)
    assert "byte-identical" in restored.stdout
    assert repo.read("a/f") == b"real\n" and repo.read("a/g") == b"g\n"


def test_a_replacement_tree_that_contains_the_tree_it_replaces_blocks_no_checkpoint(repo: GitRepo) -> None:
    """A replacement that holds the tree it replaces made git recurse until it
    crashed (SIGSEGV) in the race check, and the checkpoint failed blaming
    files that changed while being captured."""
    repo.write("a/f", "1\n")
    repo.commit_all("base")
    real = repo.git("rev-parse", "HEAD:a")
    _replace_tree(repo, real, f"040000 tree {real}\tx\n100644 blob {repo.git('rev-parse', 'HEAD:a/f')}\tf\n")
    repo.write("a/f", "work\n")
    proc = repo.recover("checkpoint")
    assert "checkpoint" in proc.stdout, proc.stderr
    cp = list_checkpoints(Repo.discover(repo.path))[0]
    assert repo.git("--no-replace-objects", "cat-file", "blob", f"{cp.worktree_tree}:a/f") == "work"
