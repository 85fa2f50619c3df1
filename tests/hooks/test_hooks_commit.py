"""Real ``git commit`` (plain, ``-a``, with paths, ``--amend``) with the hooks
installed: the checkpoint before, the gate, ``good`` after, and the decision for
a ``restore`` gate inside pre-commit, where git holds index.lock (docs/gates.md)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from recovery.core.repo import Repo
from tests.conftest import GitRepo
from tests.core.helpers import checkpoint_refs, disk_state
from tests.hooks.helpers import captures, checkpoints_by_reason, configure, install_hooks, label, no_bad_gate


@pytest.fixture
def hooked(repo: GitRepo) -> GitRepo:
    repo.write("a.py", "x = 1\n")
    repo.write("b.py", "y = 2\n")
    repo.commit_all("files")
    configure(repo, no_bad_gate())
    install_hooks(repo)
    return repo


def _commit(repo: GitRepo, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "commit", "-q", *args], cwd=repo.path, capture_output=True, text=True,
                          check=False)


def _tree_of(repo: GitRepo, sha: str, path: str) -> bytes:
    return subprocess.run(["git", "show", f"{sha}:{path}"], cwd=repo.path, capture_output=True,
                          check=True).stdout


def _gate_runs(repo: GitRepo) -> list[bool]:
    """Whether each gate event of ``repo``'s journal was taken from the cache."""
    from recovery.core.journal import read_events

    return [bool(e.get("cached")) for e in read_events(Repo.discover(repo.path)) if e.event == "gate"]


def test_plain_commit_checkpoints_then_marks_good(hooked: GitRepo) -> None:
    hooked.write("a.py", "x = 10\n")
    hooked.git("add", "a.py")
    hooked.write("b.py", "y = 20  # unstaged\n")  # not committed, must be in the checkpoint
    refs_before = set(checkpoint_refs(hooked))
    proc = _commit(hooked, "-m", "plain")
    assert proc.returncode == 0, proc.stderr
    # One checkpoint per commit: the pre-commit one is the post-commit one minus the
    # commit (same worktree, HEAD^, the commit's tree as index), so it was dropped.
    [after] = set(checkpoint_refs(hooked)) - refs_before
    assert checkpoints_by_reason(hooked, "pre-commit") == []
    good = label(hooked, "good")
    assert good == checkpoints_by_reason(hooked, "post-commit")[0] == after.split()[0]
    assert _tree_of(hooked, good, "b.py") == b"y = 20  # unstaged\n"
    assert hooked.git("rev-parse", f"{good}^1") == hooked.git("rev-parse", "HEAD")
    assert hooked.git("rev-parse", f"{good}^2^{{tree}}") == hooked.git("rev-parse", "HEAD^{tree}")
    # The gate ran once: post-commit found the pre-commit pass in the cache,
    # and did not print that pass a second time.
    assert _gate_runs(hooked) == [False, True]
    assert proc.stderr.count("gate nobad: pass") == 1, proc.stderr


def test_commit_with_paths(hooked: GitRepo) -> None:
    hooked.write("a.py", "x = 3\n")
    hooked.write("b.py", "y = 3\n")
    proc = _commit(hooked, "-m", "only a", "a.py")
    assert proc.returncode == 0, proc.stderr
    assert hooked.git("show", "--name-only", "--format=", "HEAD") == "a.py"
    before = checkpoints_by_reason(hooked, "pre-commit")[0]
    assert _tree_of(hooked, before, "b.py") == b"y = 3\n"
    assert label(hooked, "good") is not None


def test_commit_a_with_failing_restore_gate_blocks_and_changes_nothing(hooked: GitRepo) -> None:
    """Inside `git commit -a`'s pre-commit, git holds index.lock: the `restore`
    policy blocks instead of restoring (never half-done). The commit is refused,
    HEAD, index and files are untouched, and the failing state is a checkpoint."""
    _commit(hooked, "--allow-empty", "-m", "good")
    head = hooked.git("rev-parse", "HEAD")
    hooked.write("a.py", "x = 1  # BAD\n")
    hooked.write("b.py", "y = 2  # edit\n")
    disk = disk_state(hooked.path)
    index = hooked.git("ls-files", "-s")
    proc = _commit(hooked, "-a", "-m", "bad")
    assert proc.returncode != 0
    assert "gate nobad failed (pre-commit, policy restore)" in proc.stderr
    assert "pre-commit blocked by gate nobad (git holds the index during a commit, so nothing is restored; " \
           "the commit is refused instead): nothing was changed" in proc.stderr
    # The advice is the gate's own fix, not a restore that would take the change away.
    assert f"gate nobad: fix what `{shlex.join([sys.executable, '-c'])}" in proc.stderr
    assert "restore good" not in proc.stderr
    assert hooked.git("rev-parse", "HEAD") == head
    assert disk_state(hooked.path) == disk
    assert hooked.git("ls-files", "-s") == index
    assert not (hooked.path / ".git" / "index.lock").exists()
    failing = checkpoints_by_reason(hooked, "pre-commit")[0]
    assert _tree_of(hooked, failing, "a.py") == b"x = 1  # BAD\n"
    assert _tree_of(hooked, failing, "b.py") == b"y = 2  # edit\n"
    # `good` stays an explicit target, and works once git has let go of the index.
    hooked.recover("restore", "good")
    assert hooked.read("a.py") == b"x = 1\n"
    assert hooked.git("rev-parse", "HEAD") == head


def test_amend(hooked: GitRepo) -> None:
    _commit(hooked, "--allow-empty", "-m", "to amend")
    hooked.write("b.py", "y = 5\n")
    proc = _commit(hooked, "--amend", "-am", "amended")
    assert proc.returncode == 0, proc.stderr
    assert hooked.git("log", "-1", "--format=%s") == "amended"
    good = label(hooked, "good")
    assert good is not None and hooked.git("rev-parse", f"{good}^1") == hooked.git("rev-parse", "HEAD")


def test_warn_policy_lets_the_commit_through(repo: GitRepo) -> None:
    repo.write("a.py", "x = 1  # BAD\n")
    repo.commit_all("bad already")
    configure(repo, no_bad_gate(policy="warn"))
    install_hooks(repo)
    proc = _commit(repo, "--allow-empty", "-m", "warned")
    assert proc.returncode == 0, proc.stderr
    assert "gate nobad failed (pre-commit, policy warn)" in proc.stderr
    assert "this state stands; it is not marked good" in proc.stderr
    assert repo.git("log", "-1", "--format=%s") == "warned"
    assert label(repo, "good") is None  # never marked good while a required gate fails


def test_tdd_gate_names_the_files(repo: GitRepo) -> None:
    configure(repo, '[gates.tdd]\nbuiltin = "tdd"\nsources = ["src/**/*.py"]\ntests = ["tests/**/*.py"]\n'
                    'policy = "block"\n')
    install_hooks(repo)
    repo.write("src/pkg/core.py", "def f():\n    return 1\n")
    repo.write("src/pkg/util.py", "X = 1\n")
    repo.git("add", "src")
    proc = _commit(repo, "-m", "no tests")
    assert proc.returncode != 0
    assert "2 source file(s) changed without a test change: src/pkg/core.py, src/pkg/util.py" in proc.stderr
    # Its advice is the fix for its own failure (a restore would remove the source change).
    assert "gate tdd: add or change a test (tests/**/*.py) with the source change, and stage it" in proc.stderr
    assert "restore good" not in proc.stderr
    repo.write("tests/test_core.py", "def test_f():\n    assert True\n")
    repo.git("add", "tests")
    proc = _commit(repo, "-m", "with tests")
    assert proc.returncode == 0, proc.stderr
    # Only staged changes count: an unstaged source edit does not trip the rule.
    repo.write("src/pkg/util.py", "X = 2\n")
    repo.write("README.md", "more\n")
    repo.git("add", "README.md")
    proc = _commit(repo, "-m", "docs only")
    assert proc.returncode == 0, proc.stderr


def _traced_commit(repo: GitRepo, trace: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """``git commit -q ARGS`` with git's trace2 event log on; returns it and the
    argv of every git process it started (hooks included), joined by spaces."""
    trace.unlink(missing_ok=True)
    proc = subprocess.run(["git", "commit", "-q", *args], cwd=repo.path, capture_output=True, text=True,
                          check=False, env={**os.environ, "GIT_TRACE2_EVENT": str(trace)})
    started = [" ".join(event["argv"][1:]) for event in map(json.loads, trace.read_text().splitlines())
               if event["event"] == "start"]
    return proc, started


def _is_the_state_now(repo: GitRepo, sha: str) -> None:
    """A fresh capture of the worktree equals checkpoint ``sha`` (HEAD, branch,
    index, every file): `checkpoint` writes nothing new."""
    out = repo.recover("checkpoint").stdout
    assert out.startswith(f"checkpoint {sha[:10]} ") and "unchanged" in out, out


@pytest.mark.parametrize("how", ["plain", "all", "paths", "amend"])
def test_a_hooked_commit_with_gates_costs_one_capture(hooked: GitRepo, tmp_path: Path, how: str) -> None:
    """pre-commit captures (the gates need the state); post-commit (and
    post-rewrite after --amend) build their checkpoint from that capture, since a
    commit changes HEAD and the index, not the files."""
    hooked.write("a.py", "x = 5\n")
    hooked.write("b.py", "y = 5  # not staged\n")
    hooked.write("new.txt", "untracked\n")
    args = {"plain": ["-m", "plain"], "all": ["-a", "-m", "all"], "paths": ["-m", "paths", "a.py"],
            "amend": ["--amend", "--no-edit"]}[how]
    if how in ("plain", "amend"):
        hooked.git("add", "a.py")
    before = len(_gate_runs(hooked))
    proc, started = _traced_commit(hooked, tmp_path / "trace.json", *args)
    assert proc.returncode == 0, proc.stderr
    assert captures(started) == 1, "\n".join(started)
    runs = _gate_runs(hooked)[before:]  # the gate itself ran once, the post-hooks took it from the cache
    assert runs[0] is False and len(runs) >= 2 and all(runs[1:]), runs
    assert proc.stderr.count("gate nobad: pass") == 1, proc.stderr
    good = label(hooked, "good")
    assert good is not None and good == checkpoints_by_reason(hooked, "post-commit")[0]
    assert hooked.git("rev-parse", f"{good}^1") == hooked.git("rev-parse", "HEAD")
    assert _tree_of(hooked, good, "b.py") == b"y = 5  # not staged\n"
    assert _tree_of(hooked, good, "new.txt") == b"untracked\n"
    _is_the_state_now(hooked, good)


@pytest.mark.parametrize("hook", ["pre-commit.pre-recover", "prepare-commit-msg"])
def test_a_file_changed_during_the_commit_is_captured_again(hooked: GitRepo, tmp_path: Path, hook: str) -> None:
    """A hook that rewrites a file after our pre-commit checkpoint (a chained
    formatter), or a file saved while the message editor is open: the
    post-commit checkpoint cannot come from the pre-commit capture, and holds
    the bytes on disk."""
    script = hooked.path / ".git" / "hooks" / hook
    script.write_text("#!/bin/sh\nprintf 'y = 6  # rewritten during the commit\\n' > b.py\n"
                      "printf 'late\\n' > late.txt\n")
    script.chmod(0o755)
    hooked.write("a.py", "x = 6\n")
    hooked.git("add", "a.py")
    proc, started = _traced_commit(hooked, tmp_path / "trace.json", "-m", "changed during")
    assert proc.returncode == 0, proc.stderr
    assert captures(started) == 2, "\n".join(started)
    good = label(hooked, "good")
    assert good is not None and hooked.git("rev-parse", f"{good}^1") == hooked.git("rev-parse", "HEAD")
    assert _tree_of(hooked, good, "b.py") == b"y = 6  # rewritten during the commit\n"
    assert _tree_of(hooked, good, "late.txt") == b"late\n"
    _is_the_state_now(hooked, good)


def test_the_checkpoint_a_blocked_commit_named_survives_the_commit_made_anyway(hooked: GitRepo) -> None:
    """A commit blocked by a gate names its failing state's checkpoint; made with
    `--no-verify` after all, the post-commit checkpoint holds the same state, and
    the named one must not be merged away under the user's eyes."""
    hooked.write("a.py", "x = 1  # BAD\n")
    hooked.git("add", "a.py")
    blocked = _commit(hooked, "-m", "bad")
    assert blocked.returncode != 0
    named = re.search(r"the failing state is checkpoint (\w+) \(#(\d+)\)", blocked.stderr)
    assert named, blocked.stderr
    made = _commit(hooked, "--no-verify", "-m", "bad anyway")
    assert made.returncode == 0, made.stderr
    shown = hooked.recover("show", named.group(2))
    assert named.group(1) in shown.stdout
    assert _tree_of(hooked, named.group(1), "a.py") == b"x = 1  # BAD\n"
    # The commit's own checkpoint exists too: nothing was lost to make room.
    assert checkpoints_by_reason(hooked, "post-commit")


def test_a_hook_with_no_gate_configuration_loads_no_gate_module(repo: GitRepo) -> None:
    """With neither project file nor a ``recover.gate.*`` key no gate can run: the
    pre-commit hook checkpoints without importing the gate modules (about 15 ms
    of every commit). One override key brings the whole check back, and with it
    the error for a gate the project does not define. Nor does the hook import
    ``dataclasses`` (with ``inspect``) or ``traceback`` (13-15 and 2 ms of every hook)."""
    repo.write("a.py", "x = 1\n")
    repo.commit_all("files")
    repo.write("a.py", "x = 2  # work\n")
    code = ("import sys; from recovery.cli.main import main; rc = main(['hook', 'pre-commit']); "
            "print(rc, 'recovery.gates.config' in sys.modules, 'dataclasses' in sys.modules, 'traceback' in sys.modules)")

    def hook() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code], cwd=repo.path, capture_output=True, text=True)

    proc = hook()
    assert proc.stdout.split() == ["0", "False", "False", "False"], proc.stderr
    [sha] = checkpoints_by_reason(repo, "pre-commit")
    assert _tree_of(repo, sha, "a.py") == b"x = 2  # work\n"
    repo.git("config", "recover.gate.nope.timeout", "3")
    proc = hook()
    assert proc.stdout.split()[0] != "0"
    assert "git config recover.gate.nope.timeout: no gate named 'nope'" in proc.stderr


@pytest.mark.parametrize(("pyproject", "blocks"), [
    ('[project]\nname = "x"\nversion = \n', False),
    ('[project]\nname = "x"\n[tool.git-recover.gates.t]\ncommand = ["true"\n', True),
], ids=["another-tool-s", "git-recover-s"])
def test_a_half_edited_pyproject_blocks_a_commit_only_when_it_configures_git_recover(
        repo: GitRepo, pyproject: str, blocks: bool) -> None:
    """A pyproject.toml that does not parse, saved half-edited, blocked every
    commit of a project without gates (new-user trial); one that configures
    git-recover still does, naming the file (its gates cannot be read)."""
    repo.write("pyproject.toml", '[project]\nname = "x"\n')
    repo.write("a.py", "x = 1\n")
    repo.commit_all("base")
    install_hooks(repo)
    repo.write("pyproject.toml", pyproject)  # not staged
    repo.write("a.py", "x = 2\n")
    repo.git("add", "a.py")
    proc = _commit(repo, "-m", "edit")
    assert (proc.returncode != 0) is blocks, proc.stderr
    assert ("pyproject.toml: invalid TOML" in proc.stderr) is blocks, proc.stderr
    assert "Traceback" not in proc.stderr
