"""Captures that find the changes through git's change tracking: ``core.fsmonitor``
(the real watchman hook git ships), with or without the untracked cache. They
must capture exactly the trees the full path captures, and their work must
follow the change, not the tree: proved with git's own trace2 counts of the
files it looked at. The untracked cache alone is not trusted: without
fsmonitor the capture keeps the full path."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from recovery.core.capture import LISTING_MAX_AGE_S, capture, capture_workdir
from recovery.core.config import GitConfig
from recovery.core.fingerprint import StatusListing, state_fingerprint
from recovery.core.model import Capture
from recovery.core.repo import Repo
from tests.conftest import GitRepo
from tests.core.helpers import trace2_counts

WATCHMAN_HOOK = Path("/usr/share/git-core/templates/hooks/fsmonitor-watchman.sample")


def _watchman_missing() -> str | None:
    if shutil.which("watchman") is None:
        return "watchman is not installed: the fsmonitor captures cannot be tested against a real hook"
    if not WATCHMAN_HOOK.exists():
        return f"git's watchman hook {WATCHMAN_HOOK} is missing"
    return None


@pytest.fixture
def watchman(tmp_path: Path) -> Iterator[None]:
    """Skip (visibly) without watchman; drop the watches the test made."""
    reason = _watchman_missing()
    if reason:
        pytest.skip(reason)
    yield
    subprocess.run(["watchman", "watch-del", str(tmp_path)], capture_output=True, check=False)
    for watched in tmp_path.iterdir():
        subprocess.run(["watchman", "watch-del", str(watched)], capture_output=True, check=False)


def use_fsmonitor(repo: GitRepo) -> None:
    """core.fsmonitor with git's own watchman hook, and one status so that the
    index carries a token (as in any repository that has used it)."""
    hook = repo.path / ".git/hooks/fsmonitor-watchman"
    shutil.copy(WATCHMAN_HOOK, hook)
    hook.chmod(0o755)
    repo.git("config", "core.fsmonitor", ".git/hooks/fsmonitor-watchman")
    repo.git("status", "--porcelain")
    repo.git("status", "--porcelain")  # the first answer from a new watch is "everything"


def take(repo: GitRepo) -> Capture:
    r = Repo.discover(repo.path)
    with capture_workdir(r, "test") as workdir:
        return capture(r, workdir, GitConfig.load(r.git))


def take_full(repo: GitRepo) -> Capture:
    """The same state captured by the full path (change tracking switched off
    for this capture only; the user's index keeps its token and cache)."""
    config = repo.path / ".git/config"
    saved = config.read_bytes()
    repo.git("config", "core.fsmonitor", "false")
    repo.git("config", "core.untrackedCache", "false")
    try:
        return take(repo)
    finally:
        config.write_bytes(saved)


def build(root: Path) -> GitRepo:
    """A repository with a bit of everything the capture rules treat apart."""
    repo = GitRepo.init(root)
    repo.write(".gitignore", "*.log\nbuild/\n")
    for d in ("src", "docs", "lib/deep"):
        for i in range(5):
            repo.write(f"{d}/f{i}.txt", f"{d} {i}\n")
    repo.write("gone.txt", "to be deleted\n")
    repo.write("becomes-dir", "a file now, a directory later\n")
    repo.write("run.sh", "#!/bin/sh\n", mode=0o644)
    repo.git("config", "recover.maxUntrackedSize", "1k")
    repo.commit_all("base")
    repo.git("status", "--porcelain")  # a fresh stat cache, as in a working repository
    return repo


def mutate(repo: GitRepo) -> None:
    repo.write("src/f1.txt", "modified\n")
    (repo.path / "gone.txt").unlink()
    (repo.path / "run.sh").chmod(0o755)
    repo.write("src/new-in-old-dir.txt", "untracked in a tracked directory\n")
    repo.write("fresh/a/b.txt", "untracked in a new directory\n")
    repo.write("fresh/c.txt", "and another\n")
    repo.write("debug.log", "ignored\n")
    repo.write("fresh/also.log", "ignored inside a new directory\n")
    repo.write("build/out.o", "ignored directory\n")
    repo.write("big.bin", b"x" * 4096)  # over the 1k cap
    repo.write("fresh/big2.bin", b"y" * 4096)
    (repo.path / "becomes-dir").unlink()
    repo.write("becomes-dir/inside.txt", "a tracked file replaced by a directory\n")
    os.symlink("src/f0.txt", repo.path / "link")
    nested = GitRepo.init(repo.path / "nested")
    nested.write("n.txt", "nested\n")
    nested.commit_all("nested base")
    GitRepo.init(repo.path / "empty-nested")
    repo.write("docs/f2.txt", "staged\n")
    repo.git("add", "docs/f2.txt")  # a staged change next to an unstaged one
    repo.write("docs/f2.txt", "staged then changed again\n")
    os.mkfifo(repo.path / "fifo")


def assert_same(repo: GitRepo, full: Capture, tracked: Capture) -> None:
    assert tracked.index_tree == full.index_tree
    assert tracked.worktree_tree == full.worktree_tree, \
        repo.git("diff-tree", "-r", full.worktree_tree, tracked.worktree_tree)
    assert set(tracked.skipped) == set(full.skipped) and len(tracked.skipped) == len(full.skipped)
    assert sorted(tracked.notes) == sorted(full.notes)


def worktree_files(repo: GitRepo, snap: Capture) -> set[str]:
    return set(repo.git("ls-tree", "-r", "--name-only", snap.worktree_tree).splitlines())


@pytest.mark.parametrize("untracked_cache", [False, True], ids=["fsmonitor", "fsmonitor+untrackedCache"])
def test_change_tracking_captures_the_trees_the_full_path_captures(tmp_path: Path, untracked_cache: bool,
                                                                   watchman: None) -> None:
    repo = build(tmp_path / "r")
    use_fsmonitor(repo)
    if untracked_cache:
        repo.git("config", "core.untrackedCache", "true")
        repo.git("status", "--porcelain")  # writes the cache into the index
    mutate(repo)
    full, full_counts = traced(repo, take_full, tmp_path / "full.json")
    fast, fast_counts = traced(repo, take, tmp_path / "fast.json")
    assert "status processes" not in full_counts and fast_counts["status processes"] == 1
    assert fast_counts["hook queries"] == 1  # status asks the hook; no other step does
    assert_same(repo, full, fast)
    files = worktree_files(repo, fast)
    assert {"src/f1.txt", "src/new-in-old-dir.txt", "fresh/a/b.txt", "fresh/c.txt", "becomes-dir/inside.txt",
            "link", "nested"} <= files
    assert not files & {"gone.txt", "becomes-dir", "debug.log", "fresh/also.log", "build/out.o", "big.bin",
                        "fresh/big2.bin", "fifo", "empty-nested"}
    assert repo.git("cat-file", "blob", f"{fast.worktree_tree}:src/f1.txt") == "modified"
    assert repo.git("ls-tree", fast.worktree_tree, "run.sh").startswith("100755")
    assert repo.git("ls-tree", fast.worktree_tree, "nested").startswith("160000 commit")
    assert repo.git("cat-file", "blob", f"{fast.index_tree}:docs/f2.txt") == "staged"
    assert repo.git("cat-file", "blob", f"{fast.worktree_tree}:docs/f2.txt") == "staged then changed again"
    assert {(s.path, s.reason) for s in fast.skipped} == {
        ("big.bin", "size"), ("fresh/big2.bin", "size"),
        ("empty-nested", "nested-repo-without-commits")}
    # The user's index is untouched: still the staged change only.
    assert repo.git("diff", "--cached", "--name-only") == "docs/f2.txt"


def test_fsmonitor_checkpoint_command_matches_the_full_path(tmp_path: Path, watchman: None) -> None:
    """The whole command, as a user runs it, on a repository with the hook."""
    repo = build(tmp_path / "r")
    use_fsmonitor(repo)
    mutate(repo)
    tracked = json.loads(repo.recover("checkpoint", "--json").stdout)
    repo.git("config", "core.fsmonitor", "false")
    full = json.loads(repo.recover("checkpoint", "--json").stdout)
    assert (tracked["index_tree"], tracked["worktree_tree"]) == (full["index_tree"], full["worktree_tree"])


def traced(repo: GitRepo, how: Callable[[GitRepo], Capture], trace: Path) -> tuple[Capture, dict[str, int]]:
    """``how(repo)`` with git's trace2 events written to ``trace``, and their counts."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GIT_TRACE2_EVENT", str(trace))
        patch.setenv("GIT_TRACE2_EVENT_NESTING", "10")  # the walk's counts are nested deeper than the default 2
        snap = how(repo)
    return snap, trace2_counts(trace) if trace.exists() else {}


def test_work_follows_the_change_not_the_tree(tmp_path: Path, watchman: None) -> None:
    """3 files changed among 2,000 in 100 directories: git lstat-s only what the
    hook names and opens only the directories that changed (the full path
    stats all 2,000 files and reads all 100 directories)."""
    repo = GitRepo.init(tmp_path / "r")
    for i in range(2000):
        repo.write(f"d{i % 100}/f{i}.txt", f"{i}\n")
    repo.commit_all("base")
    use_fsmonitor(repo)
    repo.git("config", "core.untrackedCache", "true")
    repo.git("status", "--porcelain")
    repo.write("d1/f1.txt", "changed\n")
    repo.write("d2/f2.txt", "changed\n")
    repo.write("d3/new.txt", "new\n")
    snap, counts = traced(repo, take, tmp_path / "trace.json")
    assert {"d1/f1.txt", "d2/f2.txt", "d3/new.txt"} <= worktree_files(repo, snap)
    assert counts.get("status processes") == 1 and counts.get("hook queries") == 1, counts
    # The changed files and what the hook reports besides (on a loaded machine
    # it names a few more), a twentieth of the 2,000 files the full path stats;
    # d3/ and the top level, not the 100 directories it reads.
    assert counts["refresh/sum_lstat"] <= 100, counts
    assert counts["opendir"] <= 10, counts
    _, full = traced(repo, take_full, tmp_path / "full.json")
    assert "status processes" not in full


def test_untracked_cache_alone_keeps_the_full_path(tmp_path: Path) -> None:
    """Without fsmonitor the untracked cache is not used: in this very scenario
    (the cache written just before the changes) git 2.39's own ``status`` missed
    ``src/new-in-old-dir.txt`` in 5 of 40 runs on a loaded machine, while with
    the watchman hook it missed it in none of 40. The capture must hold it."""
    repo = build(tmp_path / "r")
    repo.git("config", "core.untrackedCache", "true")
    repo.git("status", "--porcelain")
    mutate(repo)
    snap, counts = traced(repo, take, tmp_path / "trace.json")
    assert "status processes" not in counts
    assert "src/new-in-old-dir.txt" in worktree_files(repo, snap)



def commands_run(trace: Path) -> list[str]:
    """The git commands (``cmd_name``) a ``GIT_TRACE2_EVENT`` file records, in order."""
    return [event["name"] for event in map(json.loads, trace.read_text().splitlines())
            if event.get("event") == "cmd_name"]


@pytest.fixture
def unhurried(monkeypatch: pytest.MonkeyPatch) -> None:
    """A listing stays usable for a minute: these tests are about what the
    capture does with it, and a loaded test machine may take longer than the
    real bound between status and capture (its own test is below)."""
    monkeypatch.setattr("recovery.core.capture.LISTING_MAX_AGE_S", 60.0)


def take_listed(repo: GitRepo, listing: StatusListing | None) -> Capture:
    r = Repo.discover(repo.path)
    with capture_workdir(r, "test") as workdir:
        return capture(r, workdir, GitConfig.load(r.git), listing)


def listing_of(repo: GitRepo) -> StatusListing:
    """What the agent hook's and the watcher's fingerprint status lists now."""
    _, listing = state_fingerprint(repo.path, repo.path / ".git")
    assert listing is not None
    return listing


@pytest.mark.parametrize("tracking", ["plain", "fsmonitor"])
def test_a_capture_from_the_fingerprint_s_listing_is_the_full_capture(
        tmp_path: Path, tracking: str, request: pytest.FixtureRequest, unhurried: None) -> None:
    """The capture that follows a fingerprint takes the changed tracked paths
    from its ``git status`` instead of ``add -u`` looking at every file again
    (with fsmonitor, the untracked files too, instead of a second status and
    hook query), and captures exactly the trees of the full path."""
    repo = build(tmp_path / "r")
    if tracking == "fsmonitor":
        request.getfixturevalue("watchman")
        use_fsmonitor(repo)
    mutate(repo)
    full = take_full(repo)
    listing = listing_of(repo)
    trace = tmp_path / "listed.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GIT_TRACE2_EVENT", str(trace))
        listed = take_listed(repo, listing)
    ran = commands_run(trace)
    assert "add" not in ran and "status" not in ran, ran
    # Plain: the untracked files, listed as the full path lists them; fsmonitor:
    # the directories status names whole (nested repositories, a tracked file
    # replaced by a directory).
    assert ran.count("ls-files") == 1, ran
    assert_same(repo, full, listed)
    assert repo.git("cat-file", "blob", f"{listed.worktree_tree}:src/f1.txt") == "modified"
    assert repo.git("cat-file", "blob", f"{listed.worktree_tree}:docs/f2.txt") == "staged then changed again"
    assert {"fresh/a/b.txt", "becomes-dir/inside.txt", "nested", "link"} <= worktree_files(repo, listed)


def test_a_listing_of_another_index_is_not_used(repo: GitRepo, unhurried: None) -> None:
    """A file staged when status looked and unstaged before the capture: status
    listed nothing for it (worktree = index then), the copied index now holds
    the old content. The listing is of another index, so the capture looks
    again and holds the file as it is on disk."""
    repo.write("a.txt", "committed\n")
    repo.commit_all("a")
    repo.write("a.txt", "edited and staged\n")
    repo.git("add", "a.txt")
    listing = listing_of(repo)
    assert b"a.txt" in listing.stdout  # "1 M. ...": staged, the worktree as the index
    repo.git("reset", "-q", "a.txt")
    snap = take_listed(repo, listing)
    assert repo.git("cat-file", "blob", f"{snap.worktree_tree}:a.txt") == "edited and staged"
    assert repo.git("cat-file", "blob", f"{snap.index_tree}:a.txt") == "committed"


def test_the_agent_hook_s_checkpoint_uses_its_fingerprint_s_listing(
        repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unhurried: None) -> None:
    """Through the hook's entry point: a PreToolUse hook after a change runs
    one ``git status`` and no ``add -u``, and its checkpoint holds the change
    and the new file."""
    from recovery.agent.hook import agent_hook_main

    repo.write("README.md", "changed by the agent\n")
    repo.write("new/file.txt", "new\n")
    trace = tmp_path / "hook.json"
    payload = json.dumps({"hook_event_name": "PreToolUse", "session_id": "s", "tool_name": "Bash",
                          "tool_input": {"command": "true"}, "cwd": str(repo.path)})
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(payload.encode())))
    monkeypatch.setenv("GIT_TRACE2_EVENT", str(trace))
    assert agent_hook_main(["PreToolUse"]) == 0
    monkeypatch.delenv("GIT_TRACE2_EVENT")
    ran = commands_run(trace)
    assert ran.count("status") == 1 and "add" not in ran, ran
    newest = json.loads(repo.recover("list", "-n", "1", "--json").stdout)[0]
    assert repo.git("cat-file", "blob", f"{newest['worktree_tree']}:README.md") == "changed by the agent"
    assert repo.git("cat-file", "blob", f"{newest['worktree_tree']}:new/file.txt") == "new"


def test_a_listing_older_than_its_bound_is_not_used(repo: GitRepo) -> None:
    """A hook that waited for the repository lock (another capture running)
    holds a listing made before the wait. A file saved during the wait was
    clean when status looked; taken from the index, its new bytes would be in
    no checkpoint once the tool deleted it. Past the bound the capture looks
    again and holds the saved bytes."""
    repo.write("b.txt", "committed\n")
    repo.commit_all("b")
    repo.write("a.txt", "changed\n")
    listing = listing_of(repo)
    assert b"b.txt" not in listing.stdout
    time.sleep(LISTING_MAX_AGE_S + 0.05)  # the wait for the lock
    repo.write("b.txt", "saved during the wait\n")
    snap = take_listed(repo, listing)
    assert repo.git("cat-file", "blob", f"{snap.worktree_tree}:b.txt") == "saved during the wait"
    assert repo.git("cat-file", "blob", f"{snap.worktree_tree}:a.txt") == "changed"


def git_add_all_tree(repo: GitRepo, tmp_path: Path) -> str:
    """The worktree tree git's own ``git add -A`` gives, in a scratch copy of
    the index (the user's index untouched)."""
    scratch = tmp_path / "git-add-index"
    shutil.copy(repo.path / ".git" / "index", scratch)
    env = {**os.environ, "GIT_INDEX_FILE": str(scratch)}
    subprocess.run(["git", "add", "-A"], cwd=repo.path, env=env, check=True, capture_output=True)
    return subprocess.run(["git", "write-tree"], cwd=repo.path, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.mark.parametrize("how", ["full", "listing", "fsmonitor"])
def test_files_under_a_directory_replaced_by_a_symbolic_link_are_captured_deleted(
        repo: GitRepo, tmp_path: Path, how: str, request: pytest.FixtureRequest, unhurried: None) -> None:
    """A tracked directory replaced by a symbolic link: its files are gone, as
    ``git add -A`` takes them, and the link is a new file. ``update-index
    --remove`` refuses such a path ("beyond a symbolic link"), which failed
    every capture that named the changed files instead of running ``add -u``
    (found by the property-based round trip)."""
    repo.write("a/a.txt", "one\n")
    repo.write("a/b.txt", "two\n")
    repo.write("kept.txt", "kept\n")
    repo.commit_all("base")
    if how == "fsmonitor":
        request.getfixturevalue("watchman")
        use_fsmonitor(repo)
    shutil.rmtree(repo.path / "a")
    os.symlink("elsewhere", repo.path / "a")
    expected = git_add_all_tree(repo, tmp_path)
    snap = take_listed(repo, listing_of(repo) if how == "listing" else None)
    assert snap.worktree_tree == expected
    assert repo.git("ls-tree", snap.worktree_tree, "a").startswith("120000 blob ")
    assert not {"a/a.txt", "a/b.txt"} & worktree_files(repo, snap)


@pytest.mark.parametrize("how", ["full", "listing", "fsmonitor"])
@pytest.mark.parametrize("committed", [True, False], ids=["with-a-commit", "without-commits"])
def test_a_tracked_file_replaced_by_a_repository_is_captured_as_git_adds_it(
        repo: GitRepo, tmp_path: Path, how: str, committed: bool, request: pytest.FixtureRequest,
        unhurried: None) -> None:
    """A repository where a file was tracked: a gitlink when it has a commit,
    as ``git add -A`` records it, else left out with a warning. Naming the
    changed files recorded the file as deleted and nothing else, in silence,
    and every restore of that checkpoint then failed its check (hostile
    testing): git lists no untracked path the index names."""
    repo.write("f1", "a file once\n")
    repo.write("f2", "kept\n")
    repo.commit_all("base")
    if how == "fsmonitor":
        request.getfixturevalue("watchman")
        use_fsmonitor(repo)
    (repo.path / "f1").unlink()
    (repo.path / "f1").mkdir()
    nested = GitRepo(repo.path / "f1")
    nested.git("init", "-q")
    nested.write("n.txt", "nested\n")
    if committed:
        nested.commit_all("nested")
    snap = take_listed(repo, listing_of(repo) if how == "listing" else None)
    if committed:
        assert snap.worktree_tree == git_add_all_tree(repo, tmp_path)
        assert repo.git("ls-tree", snap.worktree_tree, "f1").startswith("160000 commit ")
    else:
        assert "f1" not in worktree_files(repo, snap)
        assert ("f1", "nested-repo-without-commits") in {(item.path, item.reason) for item in snap.skipped}
