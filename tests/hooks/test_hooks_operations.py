"""Merge (fast-forward, merge commit, conflict), rebase, and the operations git
gives no pre-hook (checkout, reset --hard) through ``git recover run``, with the
hooks installed and a gate that fails on the bytes ``BAD`` in a.py."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from tests.conftest import GitRepo
from tests.core.helpers import disk_state
from tests.hooks.helpers import (checkpoints_by_reason, configure, diverged_red_branch, git_proc, install_hooks, label,
                                 no_bad_gate)


@pytest.fixture
def hooked(repo: GitRepo) -> GitRepo:
    """main has a good a.py and a good checkpoint; branch `bad` puts BAD into a.py."""
    repo.write("a.py", "x = 1\n")
    repo.commit_all("a")
    configure(repo, no_bad_gate(stages=["pre-commit", "post-merge", "post-rewrite", "post-checkout", "run"]))
    repo.git("checkout", "-q", "-b", "bad")
    repo.write("a.py", "x = 1  # BAD\n")
    repo.git("commit", "-q", "-am", "bad")
    repo.git("checkout", "-q", "main")
    install_hooks(repo)
    repo.git("commit", "-q", "--allow-empty", "-m", "good")  # marks good
    assert label(repo, "good") is not None
    return repo



def test_merge_fast_forward_is_undone(repo: GitRepo) -> None:
    repo.write("a.py", "x = 1\n")
    repo.commit_all("a")
    configure(repo, no_bad_gate())
    install_hooks(repo)
    repo.git("commit", "-q", "--allow-empty", "-m", "good")
    good_head = repo.git("rev-parse", "HEAD")
    good_disk = disk_state(repo.path)
    repo.git("checkout", "-q", "-b", "bad")
    repo.write("a.py", "x = 1  # BAD\n")
    repo.git("commit", "-q", "--no-verify", "-am", "bad")
    bad_head = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "main")
    proc = git_proc(repo, "merge", "--ff-only", "bad")
    assert proc.returncode == 0
    assert "Fast-forward" in proc.stdout
    assert "undid the merge" in proc.stderr
    assert repo.git("rev-parse", "HEAD") == good_head
    assert disk_state(repo.path) == good_disk
    repo.recover("undo")
    assert repo.git("rev-parse", "HEAD") == bad_head
    assert repo.read("a.py") == b"x = 1  # BAD\n"


def test_merge_commit_checkpoints_in_pre_merge_commit(hooked: GitRepo) -> None:
    hooked.git("checkout", "-q", "-b", "clean", "main")
    hooked.write("c.txt", "c\n")
    hooked.git("add", "c.txt")
    hooked.git("commit", "-q", "-m", "c")
    hooked.git("checkout", "-q", "main")
    hooked.write("d.txt", "d\n")
    hooked.git("add", "d.txt")
    hooked.git("commit", "-q", "-m", "d")
    proc = git_proc(hooked, "merge", "--no-edit", "clean")
    assert proc.returncode == 0, proc.stderr
    before = checkpoints_by_reason(hooked, "pre-merge-commit")
    assert len(before) == 1
    assert hooked.git("rev-parse", f"{before[0]}^1") == hooked.git("rev-parse", "HEAD^1")
    # post-merge passed the gate: the merge result is the new good state.
    good = label(hooked, "good")
    assert good == checkpoints_by_reason(hooked, "post-merge")[0]


def test_conflicting_merge_through_run_keeps_everything(hooked: GitRepo) -> None:
    hooked.git("checkout", "-q", "-b", "other", "main")
    hooked.write("a.py", "x = 2\n")
    hooked.git("commit", "-q", "-am", "other")
    hooked.git("checkout", "-q", "main")
    hooked.write("a.py", "x = 3\n")
    hooked.git("commit", "-q", "-am", "three")
    hooked.write("notes.txt", "uncommitted notes\n")
    head = hooked.git("rev-parse", "HEAD")
    proc = hooked.recover("run", "--", "merge", "other", check=False)
    assert proc.returncode == 1  # git's own status for a conflict
    assert "gates not run; the state before it is checkpoint" in proc.stderr
    assert b"<<<<<<<" in hooked.read("a.py")  # the conflict is left for the user
    before = checkpoints_by_reason(hooked, "pre-run")[0]
    assert hooked.git("rev-parse", f"{before}^1") == head
    assert subprocess.run(["git", "show", f"{before}:notes.txt"], cwd=hooked.path, capture_output=True,
                          check=True).stdout == b"uncommitted notes\n"
    hooked.git("merge", "--abort")


def test_rebase_onto_bad_is_reported_with_the_command_and_nothing_happens_after(hooked: GitRepo) -> None:
    """post-rewrite runs while git still holds the rebase state, and nothing may
    change after git returns: the failure is reported with the exact command
    that undoes the rebase, which is then run by hand."""
    hooked.git("checkout", "-q", "-b", "topic", "main")
    hooked.write("t.txt", "topic\n")
    hooked.git("add", "t.txt")
    hooked.git("commit", "-q", "-m", "topic")
    good_head = hooked.git("rev-parse", "HEAD")
    good_disk = disk_state(hooked.path)
    proc = git_proc(hooked, "rebase", "bad")
    assert proc.returncode == 0, proc.stderr
    # The state before the rebase is held: by a pre-rebase checkpoint, or by the
    # post-commit one it equals (one state, one checkpoint).
    held = checkpoints_by_reason(hooked, "pre-rebase") or checkpoints_by_reason(hooked, "post-commit")
    assert any(hooked.git("rev-parse", f"{sha}^1") == good_head for sha in held)
    assert "gate nobad failed (post-rewrite, policy restore)" in proc.stderr
    command = f"git reset --keep {good_head[:12]}"
    assert f"the rebase stands: git still holds the rebase's state" in proc.stderr
    assert f"undo it with: {command}" in proc.stderr
    assert "git recover run -- rebase" in proc.stderr
    # The rebase's own hooks checkpoint while it runs; that such a checkpoint
    # cannot continue the rebase is said when it is restored, not as an alarm now.
    assert "cannot be continued" not in proc.stderr and "warning: taken during" not in proc.stderr
    assert any("taken during a rebase" in note for sha in checkpoints_by_reason(hooked, "post-rewrite")
               for note in [hooked.git("log", "-1", "--format=%B", sha)])
    rebased = hooked.git("rev-parse", "HEAD")
    assert rebased != good_head
    time.sleep(1.5)  # the detached restore of old fired about 1.5 s later
    assert hooked.git("rev-parse", "HEAD") == rebased
    assert hooked.git("symbolic-ref", "HEAD") == "refs/heads/topic"
    assert hooked.read("a.py") == b"x = 1  # BAD\n"
    assert subprocess.run(command.split(), cwd=hooked.path, check=False).returncode == 0
    assert hooked.git("rev-parse", "HEAD") == good_head
    assert disk_state(hooked.path) == good_disk


def test_rebase_through_run_is_undone_before_run_returns(hooked: GitRepo) -> None:
    hooked.git("checkout", "-q", "-b", "topic", "main")
    hooked.write("t.txt", "topic\n")
    hooked.git("add", "t.txt")
    hooked.git("commit", "-q", "-m", "topic")
    good_head = hooked.git("rev-parse", "HEAD")
    hooked.write("wip.txt", "untracked\n")
    good_disk = disk_state(hooked.path)
    proc = hooked.recover("run", "--", "rebase", "-q", "bad", check=False)
    assert proc.returncode == 2, proc.stderr
    assert "undid the `git rebase -q bad`" in proc.stderr
    assert hooked.git("rev-parse", "HEAD") == good_head
    assert hooked.git("symbolic-ref", "HEAD") == "refs/heads/topic"
    assert disk_state(hooked.path) == good_disk
    assert not (hooked.path / ".git" / "rebase-merge").exists()


def test_checkout_through_run_restores(hooked: GitRepo) -> None:
    good_head = hooked.git("rev-parse", "HEAD")
    proc = hooked.recover("run", "--", "checkout", "-q", "bad", check=False)
    assert proc.returncode == 2
    assert "gate nobad failed (run, policy restore)" in proc.stderr
    assert hooked.git("symbolic-ref", "HEAD") == "refs/heads/main"
    assert hooked.git("rev-parse", "HEAD") == good_head
    assert hooked.read("a.py") == b"x = 1\n"
    # Our post-checkout hook stayed out of it: one validation, by `run`.
    assert "(post-checkout)" not in proc.stderr


def test_reset_hard_through_run_keeps_the_work(hooked: GitRepo) -> None:
    hooked.write("a.py", "x = 42  # work in progress\n")
    hooked.write("new.txt", "untracked work\n")
    proc = hooked.recover("run", "--", "reset", "-q", "--hard", "HEAD~1")
    assert proc.returncode == 0
    assert hooked.read("a.py") == b"x = 1\n"
    # run names the way back (undo would go to the latest restore's state, not this one)
    before = checkpoints_by_reason(hooked, "pre-run")[0]
    way_back = re.search(r"git recover restore (\w+) brings it back", proc.stderr)
    assert way_back and before.startswith(way_back.group(1)), proc.stderr
    # `list` names the command each `run` checkpoint was taken before; gc
    # does not take that note for a name the user gave.
    listed = json.loads(hooked.recover("list", "--json").stdout)
    assert [c["message"] for c in listed if c["sha"] == before] == ["before git reset -q --hard 'HEAD~1'"]
    assert '"before git reset -q --hard \'HEAD~1\'"' in hooked.recover("list").stdout
    assert not any(c["sha"] == before for c in json.loads(hooked.recover("list", "--manual", "--json").stdout))
    hooked.recover("restore", way_back.group(1))
    assert hooked.read("a.py") == b"x = 42  # work in progress\n"
    assert hooked.read("new.txt") == b"untracked work\n"


def test_post_checkout_gate_restores_native_checkout(hooked: GitRepo) -> None:
    good_head = hooked.git("rev-parse", "HEAD")
    proc = git_proc(hooked, "checkout", "-q", "bad")
    # post-checkout's status becomes checkout's (githooks(5)): the move was undone.
    assert proc.returncode != 0
    assert "gate nobad failed (post-checkout, policy restore)" in proc.stderr
    assert hooked.git("symbolic-ref", "HEAD") == "refs/heads/main"
    assert hooked.git("rev-parse", "HEAD") == good_head
    # A file checkout (flag 0) is not validated.
    hooked.write("a.py", "x = 1  # BAD\n")
    proc = git_proc(hooked, "checkout", "--", "a.py")
    assert "gate" not in proc.stderr


def test_pre_merge_commit_gate_blocks_the_merge_commit(repo: GitRepo) -> None:
    diverged_red_branch(repo, "bad", ["pre-merge-commit"])
    install_hooks(repo)
    head = repo.git("rev-parse", "HEAD")
    proc = git_proc(repo, "merge", "--no-edit", "bad")
    assert proc.returncode != 0
    assert "gate nobad failed (pre-merge-commit, policy restore)" in proc.stderr
    assert "pre-merge-commit blocked by gate nobad (git holds the index during a merge commit" in proc.stderr
    assert "git merge --abort puts HEAD back" in proc.stderr
    assert repo.git("rev-parse", "HEAD") == head  # no merge commit
    (merged,) = checkpoints_by_reason(repo, "pre-merge-commit")
    assert repo.git("show", f"{merged}:a.py") == "x = 1  # BAD"  # the merged state is kept
    repo.git("merge", "--abort")
    assert repo.read("a.py") == b"x = 1\n"
