"""Recursion and our own failures: internal git calls and nested hooks never
re-enter git-recover; a checkpoint failure or a bug never blocks git; a gate does."""

from __future__ import annotations

import json

import pytest

from tests.conftest import GitRepo
from tests.hooks.helpers import configure, git_proc, install_hooks, no_bad_gate, python_gate

COUNTER = "#!/bin/sh\necho \"$*\" >> \"$(git rev-parse --git-dir)/post-checkout.log\"\n"



def test_a_gate_that_commits_does_not_reenter(repo: GitRepo) -> None:
    """A post-commit gate that itself commits: without the guard every inner commit
    would run the gate again, forever."""
    code = ("import subprocess; subprocess.run(['git', 'commit', '-q', '--allow-empty', '-m', 'inner'], "
            "check=True)")
    configure(repo, python_gate("committer", code, stages=["post-commit"], policy="warn"))
    install_hooks(repo)
    before = int(repo.git("rev-list", "--count", "HEAD"))
    proc = git_proc(repo, "commit", "-q", "--allow-empty", "-m", "outer")
    assert proc.returncode == 0, proc.stderr
    assert int(repo.git("rev-list", "--count", "HEAD")) == before + 2
    assert repo.git("log", "-2", "--format=%s").splitlines() == ["inner", "outer"]


def test_restore_does_not_fire_hooks_again(repo: GitRepo) -> None:
    """The restore after a failing post-checkout moves HEAD with internal git calls:
    neither our hook nor the chained foreign one runs for it."""
    repo.write("a.py", "x = 1\n")
    repo.commit_all("a")
    configure(repo, no_bad_gate(stages=["pre-commit", "post-checkout"]))
    hooks = repo.path / ".git" / "hooks"
    (hooks / "post-checkout").write_text(COUNTER)
    (hooks / "post-checkout").chmod(0o755)
    install_hooks(repo)
    repo.git("commit", "-q", "--allow-empty", "-m", "good")
    repo.git("checkout", "-q", "-b", "bad")
    repo.write("a.py", "x = 1  # BAD\n")
    repo.git("commit", "-q", "--no-verify", "-am", "bad")
    log = repo.path / ".git" / "post-checkout.log"
    log.unlink()
    proc = git_proc(repo, "checkout", "-q", "main")  # passes: a.py is good on main
    assert "restored" not in proc.stderr
    proc = git_proc(repo, "checkout", "-q", "bad")
    assert "undid the checkout" in proc.stderr
    assert repo.git("symbolic-ref", "HEAD") == "refs/heads/main"
    assert len(log.read_text().splitlines()) == 2  # the two user checkouts, not the restore
    assert proc.stderr.count("gate nobad failed") == 1


def test_checkpoint_failure_never_blocks(repo: GitRepo) -> None:
    configure(repo, no_bad_gate(path="README.md"))
    install_hooks(repo)
    repo.git("config", "recover.captureAttempts", "many")  # the capture cannot start
    repo.write("README.md", "changed\n")
    proc = git_proc(repo, "commit", "-qam", "goes through")
    assert proc.returncode == 0, proc.stderr
    assert "warning: no pre-commit checkpoint" in proc.stderr
    assert "the operation goes on" in proc.stderr
    assert repo.git("log", "-1", "--format=%s") == "goes through"


def test_a_bug_in_our_hook_never_blocks_but_a_gate_does(repo: GitRepo) -> None:
    configure(repo, no_bad_gate(path="README.md"))
    install_hooks(repo)
    state = repo.path / ".git" / "recovery"
    if state.exists():
        for item in sorted(state.rglob("*"), reverse=True):
            item.unlink() if item.is_file() else item.rmdir()
        state.rmdir()
    state.write_text("not a directory\n")  # our own state directory is unusable: an OSError, a bug path
    repo.write("README.md", "changed\n")
    proc = git_proc(repo, "commit", "-qam", "despite the bug")
    assert proc.returncode == 0, proc.stderr
    assert "internal error in the pre-commit hook" in proc.stderr
    assert "git goes on without git-recover this time" in proc.stderr
    assert repo.git("log", "-1", "--format=%s") == "despite the bug"

    state.unlink()
    repo.write("README.md", "BAD\n")
    proc = git_proc(repo, "commit", "-qam", "blocked")
    assert proc.returncode != 0
    assert "pre-commit blocked by gate nobad" in proc.stderr
    assert repo.git("log", "-1", "--format=%s") == "despite the bug"


def test_hook_command_exits_at_once_when_internal(repo: GitRepo) -> None:
    proc = repo.recover("hook", "pre-commit", env={"GIT_RECOVER_INTERNAL": "1"})
    assert (proc.stdout, proc.stderr) == ("", "")
    assert repo.git("for-each-ref", "refs/recovery/") == ""


@pytest.mark.parametrize("event", ["gate", "failure"])
def test_gate_runs_are_journaled(repo: GitRepo, event: str) -> None:
    repo.write("a.py", "BAD\n")
    repo.commit_all("bad")
    configure(repo, no_bad_gate())
    install_hooks(repo)
    repo.recover("checkpoint")  # an earlier recovery point, for the RPO fields
    repo.write("later.txt", "after the checkpoint\n")  # so the commit's state is a new one
    git_proc(repo, "commit", "-q", "--allow-empty", "-m", "x")
    lines = [json.loads(line) for line in (repo.path / ".git" / "recovery" / "journal.jsonl").read_text().splitlines()]
    found = [e for e in lines if e["event"] == event]
    assert found, lines
    if event == "gate":
        assert found[-1]["gate"] == "nobad" and found[-1]["status"] == "fail" and found[-1]["stage"] == "pre-commit"
        assert found[-1]["required"] is True and found[-1]["policy"] == "restore"
        assert len(found[-1]["tree"]) == 40
    else:
        assert found[-1]["kind"] == "gate:nobad" and found[-1]["stage"] == "pre-commit"
        assert len(found[-1]["incident"]) == 32
        assert found[-1]["action"] == "block" and found[-1]["policy"] == "restore"
