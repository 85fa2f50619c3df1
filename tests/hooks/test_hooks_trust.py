"""Automatic recovery a user can trust, finding by finding: an automatic undo
never takes unrelated work with it, a red upstream can be pulled to be fixed
(no loop), a half-restored tree cannot be committed, Ctrl-C says what state it
left, read-only commands are not checkpointed or gated, and the messages name
the policy that applies."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import GitRepo
from tests.core.helpers import checkpoint_refs, disk_state
from tests.hooks.helpers import configure, git_proc, install_hooks, no_bad_gate, python_gate


def _journal(repo: GitRepo) -> list[dict[str, object]]:
    path = repo.path / ".git" / "recovery" / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def _red_upstream(repo: GitRepo, tmp_path: Path) -> str:
    """A remote one commit ahead of main, whose commit breaks the gate; returns it."""
    up = tmp_path / "upstream"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(up)], check=True)
    (up / "a.py").write_text("x = 1  # BAD\n")
    subprocess.run(["git", "commit", "-q", "-am", "red"], cwd=up, check=True)
    repo.git("remote", "add", "origin", str(up))
    repo.git("config", "branch.main.remote", "origin")
    repo.git("config", "branch.main.merge", "refs/heads/main")
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=up, capture_output=True, text=True,
                          check=True).stdout.strip()


def _red_branch(repo: GitRepo) -> str:
    """Branch ``red`` off main: breaks the gate in a.py and adds brought.txt (a
    fast-forward from main); returns its commit and ends on main."""
    repo.git("checkout", "-q", "-b", "red")
    repo.write("a.py", "x = 1  # BAD\n")
    repo.write("brought.txt", "came with the merge\n")
    repo.commit_all("red")
    red = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "main")
    return red


def _gated(repo: GitRepo) -> str:
    repo.write("a.py", "x = 1\n")
    repo.commit_all("a")
    configure(repo, no_bad_gate(stages=["pre-commit", "post-merge", "run"]))
    return repo.git("rev-parse", "HEAD")


def test_pull_of_a_red_upstream_keeps_untracked_work_and_never_loops(repo: GitRepo, tmp_path: Path) -> None:
    head = _gated(repo)
    red = _red_upstream(repo, tmp_path)
    install_hooks(repo)
    repo.write("WIP.txt", "my untracked work\n")

    first = git_proc(repo, "pull", "-q", "--ff-only")
    assert first.returncode == 0, first.stderr
    assert "undid the pull" in first.stderr
    assert "keep the pull anyway (to fix it there): git recover undo" in first.stderr
    assert repo.git("rev-parse", "HEAD") == head
    assert repo.read("WIP.txt") == b"my untracked work\n"  # was `D WIP.txt` once
    assert repo.read("a.py") == b"x = 1\n"

    # Pulling the same red commit again is how a user says they want it: kept.
    second = git_proc(repo, "pull", "-q", "--ff-only")
    assert second.returncode == 0, second.stderr
    assert "this pull result was undone once already, so it is kept this time (no loop)" in second.stderr
    assert f"undo it with: git reset --keep {head[:12]}" in second.stderr
    assert repo.git("rev-parse", "HEAD") == red
    assert repo.read("WIP.txt") == b"my untracked work\n"
    failures = [e for e in _journal(repo) if e["event"] == "failure"]
    assert [f["action"] for f in failures] == ["undo", "keep"]
    ends = [e for e in _journal(repo) if e["event"] == "restore" and e.get("phase") == "end"]
    assert [e["incident"] for e in ends] == [failures[0]["incident"]]


def test_undo_is_the_way_through_after_an_automatic_undo(repo: GitRepo, tmp_path: Path) -> None:
    _gated(repo)
    red = _red_upstream(repo, tmp_path)
    install_hooks(repo)
    repo.write("WIP.txt", "my untracked work\n")
    assert "undid the pull" in git_proc(repo, "pull", "-q", "--ff-only").stderr
    repo.recover("undo")
    assert repo.git("rev-parse", "HEAD") == red
    assert repo.read("a.py") == b"x = 1  # BAD\n"
    assert repo.read("WIP.txt") == b"my untracked work\n"
    # ... to fix it there: the fix commits through the gate.
    repo.write("a.py", "x = 2\n")
    proc = git_proc(repo, "commit", "-q", "-am", "fix")
    assert proc.returncode == 0, proc.stderr


def test_checkout_through_run_is_undone_and_carries_local_changes(repo: GitRepo) -> None:
    _gated(repo)
    repo.write("notes.txt", "tracked\n")
    repo.commit_all("notes")
    head = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("a.py", "x = 1  # BAD\n")
    repo.git("commit", "-q", "-am", "red feature")
    repo.git("checkout", "-q", "main")
    install_hooks(repo)
    repo.write("notes.txt", "tracked\nunstaged edit\n")
    repo.write("WIP.txt", "untracked\n")
    disk = disk_state(repo.path)
    proc = repo.recover("run", "--", "checkout", "-q", "feature", check=False)
    assert proc.returncode == 2, proc.stderr
    assert repo.git("symbolic-ref", "HEAD") == "refs/heads/main"
    assert repo.git("rev-parse", "HEAD") == head
    assert disk_state(repo.path) == disk


def test_read_only_commands_through_run_are_neither_checkpointed_nor_gated(repo: GitRepo, tmp_path: Path) -> None:
    counter = tmp_path / "count.log"
    configure(repo, python_gate("count", f"open({str(counter)!r}, 'a').write('run\\n')",
                                stages=["run"]))
    install_hooks(repo)
    before = checkpoint_refs(repo)
    for args in (["status", "--short"], ["log", "--oneline"], ["diff"], ["show", "--stat"]):
        proc = repo.recover("run", "--", *args)
        assert proc.returncode == 0
    assert checkpoint_refs(repo) == before
    assert not counter.exists()
    journal = repo.path / ".git" / "recovery" / "journal.jsonl"
    assert not journal.exists() or not [e for e in _journal(repo) if e["event"] in ("gate", "checkpoint")]


def test_post_commit_names_the_policy_that_applies(repo: GitRepo) -> None:
    repo.write("a.py", "x = 1  # BAD\n")
    repo.commit_all("bad already")
    configure(repo, no_bad_gate(stages=["post-commit"]))  # policy restore, by default
    install_hooks(repo)
    proc = git_proc(repo, "commit", "-q", "--allow-empty", "-m", "x")
    assert proc.returncode == 0
    assert "gate nobad failed (post-commit, policy restore)" in proc.stderr
    assert "the commit stands: a commit is not undone once made; the pre-commit gates decide whether it is made; " \
           "it is not marked good" in proc.stderr
    assert "policy warn" not in proc.stderr


def test_amend_runs_the_gate_once(repo: GitRepo, tmp_path: Path) -> None:
    counter = tmp_path / "count.log"
    configure(repo, python_gate("count", f"open({str(counter)!r}, 'a').write('run\\n')",
                                stages=["pre-commit", "post-commit", "post-rewrite"]))
    install_hooks(repo)
    repo.write("b.txt", "b\n")
    repo.git("add", "b.txt")
    assert git_proc(repo, "commit", "-q", "-m", "b").returncode == 0
    runs = len(counter.read_text().splitlines())
    repo.write("b.txt", "b amended\n")
    proc = git_proc(repo, "commit", "-q", "-a", "--amend", "-m", "b amended")
    assert proc.returncode == 0, proc.stderr
    assert len(counter.read_text().splitlines()) == runs + 1


_INTERRUPT_AT = textwrap.dedent("""
    import os, signal, sys
    # A terminal's Ctrl-C reaches a process whose SIGINT handling is the default;
    # a test runner's worker may have it ignored, which its children inherit.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import recovery.core.restore as r
    name = sys.argv[1]
    real = getattr(r, name)
    def wrapped(*a, **k):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, delivered at this step
        return real(*a, **k)
    setattr(r, name, wrapped)
    from recovery.cli.main import main
    sys.exit(main(["restore", sys.argv[2]]))
""")


def _interrupt(repo: GitRepo, step: str, target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _INTERRUPT_AT, step, target], cwd=repo.path, capture_output=True,
                          text=True, check=False)


def _half_restorable(repo: GitRepo) -> str:
    """A checkpoint, then a change; returns the checkpoint id."""
    repo.write("a.py", "x = 1\n")
    repo.commit_all("a")
    cp = repo.recover("checkpoint").stdout.split()[1]
    for i in range(20):
        repo.write(f"f{i}.txt", f"changed {i}\n")
    repo.write("a.py", "x = 2\n")
    return cp


def test_ctrl_c_before_any_change_says_nothing_changed(repo: GitRepo) -> None:
    cp = _half_restorable(repo)
    disk = disk_state(repo.path)
    proc = _interrupt(repo, "take", cp)
    assert proc.returncode == 130, proc.stderr
    assert "restore interrupted before it changed anything: HEAD, the index and every file are as they were" \
        in proc.stderr
    assert "aborted" not in proc.stderr
    assert disk_state(repo.path) == disk
    assert not (repo.path / ".git" / "recovery" / "restore-intent.json").exists()


def test_ctrl_c_half_way_blocks_commits_merges_rebases_and_says_so_everywhere(repo: GitRepo) -> None:
    configure(repo, no_bad_gate())
    install_hooks(repo)
    cp = _half_restorable(repo)
    head = repo.git("rev-parse", "HEAD")
    proc = _interrupt(repo, "_install_index", cp)
    assert proc.returncode == 130, proc.stderr
    assert "restore interrupted half-way: some or all files on disk are switched; the index may or may not be, " \
           "HEAD and its branch are as before; run `git recover restore --continue` to finish it, or " \
           "`git recover restore --abort`" in proc.stderr
    assert (repo.path / ".git" / "recovery" / "restore-intent.json").exists()

    commit = git_proc(repo, "commit", "-q", "-am", "half-restored")
    assert commit.returncode != 0
    assert "commit refused: a restore was interrupted" in commit.stderr
    assert "git recover restore --continue" in commit.stderr
    assert repo.git("rev-parse", "HEAD") == head
    ahead = repo.git("commit-tree", "HEAD^{tree}", "-p", "HEAD", "-m", "ahead")
    repo.git("branch", "other", ahead)
    rebase = git_proc(repo, "rebase", "other")
    assert rebase.returncode != 0 and "rebase refused: a restore was interrupted" in rebase.stderr
    assert repo.git("rev-parse", "HEAD") == head
    wrapped = repo.recover("run", "--", "merge", "other", check=False)
    assert wrapped.returncode == 2 and "refused: a restore was interrupted" in wrapped.stderr
    listed = repo.recover("list")
    assert "a restore was interrupted and the worktree is half-restored" in listed.stderr

    repo.recover("restore", "--continue")
    assert git_proc(repo, "commit", "-q", "--allow-empty", "-m", "after").returncode == 0
    assert "interrupted" not in repo.recover("list").stderr


def test_a_path_typo_is_not_an_interrupted_restore(repo: GitRepo) -> None:
    repo.recover("checkpoint")
    refs = checkpoint_refs(repo)
    proc = repo.recover("restore", "last", "--", "nonexistent/", check=False)
    assert proc.returncode == 3  # bad arguments
    assert "no file matches nonexistent" in proc.stderr
    assert checkpoint_refs(repo) == refs  # no safety checkpoint for a refused restore
    assert not [e for e in _journal(repo) if e["event"] == "restore"]
    report = repo.recover("report", "--json").stdout
    assert json.loads(report)["restores"]["interrupted"] == 0


def test_an_undo_that_would_touch_local_changes_is_not_done(repo: GitRepo) -> None:
    """`git checkout -m` merges local changes into the branch checked out; going
    back would have to merge them again: nothing is undone, and the message
    names the command that would undo it."""
    repo.write("a.py", "x = 1\n")
    repo.write("notes.txt", "one\ntwo\nthree\nfour\nfive\n")
    repo.commit_all("base")
    configure(repo, no_bad_gate(stages=["pre-commit", "post-checkout"]))
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("a.py", "x = 1  # BAD\n")
    repo.write("notes.txt", "one (feature)\ntwo\nthree\nfour\nfive\n")
    repo.git("commit", "-q", "-am", "red feature")
    feature = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "main")
    install_hooks(repo)
    repo.write("notes.txt", "one\ntwo\nthree\nfour\nfive (my edit)\n")
    proc = git_proc(repo, "checkout", "-q", "-m", "feature")
    assert "gate nobad failed (post-checkout, policy restore)" in proc.stderr
    assert "the checkout was NOT undone: your local changes to notes.txt touch what the operation changed, " \
           "and undoing it would change them; undo it yourself with: git checkout main" in proc.stderr
    assert repo.git("symbolic-ref", "HEAD") == "refs/heads/feature"
    assert repo.git("rev-parse", "HEAD") == feature
    assert repo.read("notes.txt") == b"one (feature)\ntwo\nthree\nfour\nfive (my edit)\n"
    reasons = [e["reason"] for e in _journal(repo) if e["event"] == "checkpoint"]
    assert "restore-safety" not in reasons and "before-checkout" not in reasons
    assert [e["action"] for e in _journal(repo) if e["event"] == "failure"] == ["undo"]


def test_the_report_is_true_after_an_undone_merge_a_blocked_commit_and_a_path_typo(repo: GitRepo) -> None:
    """The figures once said `rpo_files=0` for an undo that reverted 2 files,
    kept blocked commits open for ever and counted a path typo as an
    interrupted restore; measured here on a real journal."""
    _gated(repo)
    _red_branch(repo)
    install_hooks(repo)
    repo.write("WIP.txt", "mine\n")
    merge = git_proc(repo, "merge", "-q", "red")
    assert "undid the merge" in merge.stderr, merge.stderr
    [end] = [e for e in _journal(repo) if e["event"] == "restore" and e.get("phase") == "end"]
    # Not kept on disk: the merge's a.py and brought.txt; WIP.txt is kept.
    assert end["rpo_files"] == 2 and end["verdict"] == "ok"
    assert isinstance(end["rpo_s"], float) and end["rpo_s"] >= 0
    assert repo.read("WIP.txt") == b"mine\n" and not (repo.path / "brought.txt").exists()

    repo.write("a.py", "x = 2  # BAD\n")
    blocked = git_proc(repo, "commit", "-q", "-am", "red commit")
    assert blocked.returncode != 0 and "pre-commit blocked by gate nobad" in blocked.stderr
    typo = repo.recover("restore", "1", "--", "nonexistent/", check=False)
    assert typo.returncode == 3 and "no file matches nonexistent" in typo.stderr, typo.stderr

    report = json.loads(repo.recover("report", "--json").stdout)
    assert report["open_incidents"] == [] and report["blocked"] == 1
    assert report["restores"]["ok"] == 1 and report["restores"]["interrupted"] == 0
    assert report["rpo_files"]["max_s"] == 2
    assert [r["rpo_files"] for r in report["recoveries"] if r["category"] == "quality_gate"] == [2]
    html = repo.path / "report.html"
    repo.recover("report", "--html", str(html))
    assert "no open incident" in html.read_text() and "nothing lost" in html.read_text()


_SIGNAL_IN_UNDO = textwrap.dedent("""
    # Loaded by site at interpreter start (PYTHONPATH): sends the hook process
    # itself a signal when the automatic undo is about to move HEAD, after the
    # files and the index are switched (phase `head` of the intent record).
    import importlib.abc, importlib.machinery, os, signal, sys

    class _Patch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name != "recovery.core.restore":
                return None
            sys.meta_path.remove(self)
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            run = spec.loader.exec_module

            def exec_module(module):
                run(module)
                real = module._move_head

                def move_head(*args):
                    if os.environ.get("GIT_RECOVER_HOOK") != "post-merge":
                        return real(*args)
                    number = getattr(signal, os.environ["RECOVER_TEST_SIGNAL"])
                    signal.signal(signal.SIGINT, signal.default_int_handler)  # a test runner may ignore it
                    open(os.environ["RECOVER_TEST_MARK"], "w").write("signalled")
                    os.kill(os.getpid(), number)
                    return real(*args)
                module._move_head = move_head
            spec.loader.exec_module = exec_module
            return spec

    if os.environ.get("RECOVER_TEST_SIGNAL"):
        sys.meta_path.insert(0, _Patch())
""")


@pytest.mark.parametrize(("signame", "resolution"), [("SIGKILL", "--continue"), ("SIGINT", "--abort")])
def test_a_signal_during_the_automatic_undo_leaves_a_restore_to_continue_or_abort(
        repo: GitRepo, tmp_path: Path, signame: str, resolution: str) -> None:
    """Ctrl-C or kill -9 reaching the post-merge hook half-way through undoing a
    merge: nothing is lost, the half-switched tree cannot be committed, and
    `--continue` finishes the undo while `--abort` gives back the merge, with
    the work in progress in place either way."""
    head = _gated(repo)
    red = _red_branch(repo)
    install_hooks(repo)
    repo.write("WIP.txt", "mine\n")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_SIGNAL_IN_UNDO)
    mark = tmp_path / "signalled"
    env = {**os.environ, "PYTHONPATH": str(site), "RECOVER_TEST_SIGNAL": signame, "RECOVER_TEST_MARK": str(mark)}
    merge = subprocess.run(["git", "merge", "-q", "red"], cwd=repo.path, capture_output=True, text=True,
                           check=False, env=env, timeout=120)
    assert mark.read_text() == "signalled", merge.stderr  # the signal landed inside the undo
    intent = repo.path / ".git" / "recovery" / "restore-intent.json"
    assert intent.exists(), merge.stderr
    if signame == "SIGINT":
        assert "restore interrupted half-way: the files and the index are switched; HEAD and its branch may not " \
               "have moved yet; run `git recover restore --continue`" in merge.stderr
        safety = repo.git("rev-parse", "refs/recovery/main/undo")
        assert re.search(rf"to the state before it \(checkpoint {safety[:10]}, #\d+\)", merge.stderr), merge.stderr
    assert repo.read("WIP.txt") == b"mine\n"
    assert "INTERRUPTED RESTORE" in repo.recover("status").stdout
    commit = git_proc(repo, "commit", "-q", "-am", "half-undone")
    assert commit.returncode != 0 and "commit refused: a restore was interrupted" in commit.stderr
    assert repo.git("rev-parse", "HEAD") == red  # the merge (a fast-forward) is still HEAD

    resolved = repo.recover("restore", resolution)
    assert resolved.returncode == 0, resolved.stderr
    assert not intent.exists()
    merged = {"HEAD": red, "a.py": b"x = 1  # BAD\n", "brought.txt": b"came with the merge\n"}
    undone = {"HEAD": head, "a.py": b"x = 1\n", "brought.txt": None}
    expected = undone if resolution == "--continue" else merged
    assert repo.git("rev-parse", "HEAD") == expected["HEAD"]
    assert repo.read("a.py") == expected["a.py"]
    assert (repo.read("brought.txt") if (repo.path / "brought.txt").exists() else None) == expected["brought.txt"]
    assert repo.read("WIP.txt") == b"mine\n"
    assert repo.git("symbolic-ref", "HEAD") == "refs/heads/main"
    assert git_proc(repo, "commit", "-q", "--no-verify", "--allow-empty", "-m", "after").returncode == 0
