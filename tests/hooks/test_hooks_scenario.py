"""The scenario automatic recovery must survive: a user with work in progress
(an untracked file, an unstaged edit, a staged edit) runs a merge, a
fast-forward pull, a checkout and a rebase, each of which breaks the gate.
After each command returns, the operation is undone, every byte of the work in
progress is in place (staged still staged), and nothing changes on disk during
the 5 s that follow: no restore behind the user's back."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import GitRepo
from tests.core.helpers import disk_state
from tests.hooks.helpers import configure, git_proc, install_hooks, label, no_bad_gate

_QUIET_S = 5.0
_SAMPLE_S = 0.2


def _state(repo: GitRepo) -> tuple[object, ...]:
    """Everything a user sees: bytes and modes on disk, HEAD, its branch, the
    index entries, and the status (staged vs unstaged vs untracked)."""
    return (disk_state(repo.path), repo.git("rev-parse", "HEAD"), repo.git("symbolic-ref", "-q", "HEAD", check=False),
            repo.git("ls-files", "-s"), repo.git("status", "--porcelain"))


def _quiet_for(repo: GitRepo, expected: tuple[object, ...], seconds: float) -> None:
    """Sample the tree for ``seconds``: it must stay exactly ``expected``."""
    deadline = time.monotonic() + seconds
    samples = 0
    while time.monotonic() < deadline:
        assert _state(repo) == expected, f"the worktree changed {samples * _SAMPLE_S:.1f} s after the command"
        samples += 1
        time.sleep(_SAMPLE_S)
    assert samples >= 5


def _upstream(repo: GitRepo, tmp_path: Path) -> None:
    """A remote whose main is ours plus a commit that breaks the gate."""
    up = tmp_path / "upstream"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(up)], check=True)
    (up / "a.py").write_text("x = 1  # BAD upstream\n")
    (up / "up.txt").write_text("from upstream\n")
    subprocess.run(["git", "add", "-A"], cwd=up, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "red upstream"], cwd=up, check=True)
    repo.git("remote", "add", "origin", str(up))


def test_wip_survives_merge_pull_checkout_and_rebase_that_break_the_gate(repo: GitRepo, tmp_path: Path) -> None:
    repo.write("a.py", "x = 1\n")
    repo.write("notes.txt", "notes v1\n")
    repo.write("staged.txt", "staged v1\n")
    repo.commit_all("c0")
    c0 = repo.git("rev-parse", "HEAD")
    configure(repo, no_bad_gate(stages=["pre-commit", "post-merge", "post-checkout", "post-rewrite", "run"]))
    # `old`: a red branch from before main's last commit (a real rebase target).
    repo.git("checkout", "-q", "-b", "old", c0)
    repo.write("a.py", "x = 1  # BAD old\n")
    repo.git("commit", "-q", "-am", "red old")
    repo.git("checkout", "-q", "main")
    repo.write("m.txt", "main's own commit\n")
    repo.commit_all("c1")
    main_head = repo.git("rev-parse", "HEAD")
    # `bad`: main plus a commit that breaks the gate (a fast-forward away).
    repo.git("checkout", "-q", "-b", "bad")
    repo.write("a.py", "x = 1  # BAD\n")
    repo.write("bad.txt", "came with bad\n")
    repo.commit_all("red")
    repo.git("checkout", "-q", "main")
    _upstream(repo, tmp_path)
    install_hooks(repo)

    # The work in progress: untracked, unstaged, staged.
    repo.write("wip-untracked.txt", "not yet added\n")
    repo.write("notes.txt", "notes v1\nunstaged line\n")
    repo.write("staged.txt", "staged v2\n")
    repo.git("add", "staged.txt")
    before = _state(repo)
    assert before[4] == " M notes.txt\nM  staged.txt\n?? wip-untracked.txt"

    steps = [
        ("merge", ["git", "merge", "-q", "bad"], 0),
        ("pull", ["git", "pull", "-q", "--ff-only", "origin", "main"], 0),
        # A failing post-checkout makes checkout exit 1 (githooks(5)).
        ("checkout", ["git", "checkout", "-q", "bad"], 1),
        ("rebase", [sys.executable, "-P", "-m", "recovery", "run", "--", "rebase", "-q", "--autostash", "old"], 2),
    ]
    for name, argv, expected_rc in steps:
        proc = subprocess.run(argv, cwd=repo.path, capture_output=True, text=True, check=False, timeout=120)
        assert proc.returncode == expected_rc, f"{name}: {proc.stderr}"
        assert "undid the" in proc.stderr, f"{name}: {proc.stderr}"
        assert "keep the" in proc.stderr and "git recover undo" in proc.stderr
        # The operation is undone, the work in progress is all there.
        assert _state(repo) == before, name
        assert repo.git("rev-parse", "HEAD") == main_head
        assert repo.git("symbolic-ref", "HEAD") == "refs/heads/main"
        assert repo.read("wip-untracked.txt") == b"not yet added\n"
        assert repo.read("notes.txt") == b"notes v1\nunstaged line\n"
        assert repo.git("show", ":staged.txt") == "staged v2"
        assert not (repo.path / ".git" / "rebase-merge").exists()
        # ... and nothing happens behind the user's back afterwards.
        _quiet_for(repo, before, _QUIET_S)
        # `undo` holds what the operation brought, for `git recover undo`.
        undo = label(repo, "undo")
        assert undo is not None
        assert b"BAD" in subprocess.run(["git", "show", f"{undo}:a.py"], cwd=repo.path, capture_output=True,
                                        check=True).stdout

    events = [json.loads(line) for line in (repo.path / ".git" / "recovery" / "journal.jsonl").read_text().splitlines()]
    failures = [e for e in events if e["event"] == "failure"]
    ends = [e for e in events if e["event"] == "restore" and e.get("phase") == "end"]
    assert [f["stage"] for f in failures] == ["post-merge", "post-merge", "post-checkout", "run"]
    assert all(f["action"] == "undo" for f in failures)
    assert [e["incident"] for e in ends] == [f["incident"] for f in failures]
    assert all(e["verdict"] == "ok" for e in ends)
    # The RPO is measured against the state restored: only what the operation
    # changed is not kept on disk (a.py, and the file it added), never the WIP.
    assert all(e["rpo_files"] in (1, 2) for e in ends), ends


def test_a_plain_rebase_that_breaks_the_gate_changes_nothing_after_git_returns(repo: GitRepo) -> None:
    """git still holds a rebase while post-rewrite runs, so a plain `git rebase`
    is reported with the command that undoes it, never undone later: a file
    written right after the prompt returns stays, the branch stays, and a commit
    made in that window goes through (once a detached restore ~1.5 s later
    removed the file, moved the branch and failed the commit on HEAD's lock)."""
    repo.write("a.py", "x = 1\n")
    repo.commit_all("c0")
    configure(repo, no_bad_gate(stages=["pre-commit", "post-merge", "post-rewrite"]))
    repo.git("checkout", "-q", "-b", "bad")
    repo.write("a.py", "x = 1  # BAD\n")
    repo.commit_all("red")
    repo.git("checkout", "-q", "-b", "topic", "main")
    repo.write("t.txt", "topic\n")
    repo.commit_all("topic")
    before_rebase = repo.git("rev-parse", "HEAD")
    install_hooks(repo)
    proc = git_proc(repo, "rebase", "-q", "bad")
    assert proc.returncode == 0, proc.stderr
    assert "the rebase stands" in proc.stderr and f"git reset --keep {before_rebase[:12]}" in proc.stderr
    rebased = repo.git("rev-parse", "HEAD")
    repo.write("written-after.txt", "saved right after the prompt came back\n")
    repo.write("t.txt", "topic, edited after the rebase\n")
    state = _state(repo)
    assert state[2] == "refs/heads/topic" and state[1] == rebased
    _quiet_for(repo, state, _QUIET_S)
    # A commit made in the window of the old detached restore goes through.
    commit = subprocess.run(["git", "commit", "-q", "--no-verify", "-am", "work after the rebase"], cwd=repo.path,
                            capture_output=True, text=True, check=False)
    assert commit.returncode == 0, commit.stderr
    assert repo.git("rev-parse", "HEAD^") == rebased
    assert repo.read("written-after.txt") == b"saved right after the prompt came back\n"
