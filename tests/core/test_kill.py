"""SIGKILL during a restore, at chosen steps and at random instants: afterwards
nothing is lost, `git fsck` is clean, and `restore --continue` (or `--abort`)
finishes the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from recovery.core.checkpoint import create_checkpoint
from recovery.core.repo import Repo
from tests.conftest import GitRepo
from tests.core.helpers import disk_state


def _big_repo(path: Path, files: int) -> tuple[GitRepo, str, dict, dict]:
    """A repo, a checkpoint of it, and the disk states before and after a large change."""
    path.mkdir()
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    for i in range(files):
        repo.write(f"d{i % 20}/f{i}.txt", f"line {i}\n" * 20)
    repo.commit_all("base")
    repo.write("d0/f0.txt", "unstaged work\n")
    cp = create_checkpoint(Repo.discover(path), "manual")
    at_checkpoint = disk_state(path)
    for i in range(0, files, 2):
        repo.write(f"d{i % 20}/f{i}.txt", f"changed {i}\n")
    for i in range(1, files, 10):
        (path / f"d{i % 20}/f{i}.txt").unlink()
    for i in range(files // 10):
        repo.write(f"new/n{i}.txt", f"new {i}\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "bad change")
    return repo, cp.sha, at_checkpoint, disk_state(path)


def _settle(repo: GitRepo, at_checkpoint: dict, mutated: dict) -> None:
    """After a kill: finish or confirm, then prove nothing was lost."""
    repo.git("fsck", "--no-dangling")
    intent = repo.path / ".git/recovery/restore-intent.json"
    if intent.exists():
        status = repo.recover("status").stdout
        assert "INTERRUPTED RESTORE" in status
        refused = repo.recover("restore", check=False)
        assert refused.returncode == 1 and "--continue" in refused.stderr
        repo.recover("restore", "--continue")
        assert not intent.exists()
        assert disk_state(repo.path) == at_checkpoint
    else:
        assert disk_state(repo.path) in (at_checkpoint, mutated)
    if disk_state(repo.path) == at_checkpoint:
        assert not (repo.path / ".git/index.lock").exists()
        repo.recover("undo")  # the state the restore replaced is whole
        assert disk_state(repo.path) == mutated
    repo.git("fsck", "--no-dangling")


_KILL_AT = textwrap.dedent("""
    import os, signal, sys
    import recovery.core.restore as r
    step = sys.argv[1]
    def killer(name):
        real = getattr(r, name)
        def wrapped(*a, **k):
            if step == name + ":after":
                real(*a, **k)
            os.kill(os.getpid(), signal.SIGKILL)
        return wrapped
    name = step.split(":")[0]
    setattr(r, name, killer(name))
    from recovery.cli.main import main
    sys.exit(main(["restore", sys.argv[2]]))
""")


@pytest.mark.parametrize("step", [
    "_switch_worktree_and_index:before",
    "_install_index:before",
    "_install_index:after",
    "_move_head:after",
    "_write_state_files:after",
    "check_state:before",
])
def test_kill_at_each_step_then_continue(tmp_path: Path, step: str) -> None:
    repo, cp, at_checkpoint, mutated = _big_repo(tmp_path / "r", 200)
    proc = subprocess.run([sys.executable, "-P", "-c", _KILL_AT, step, cp], cwd=repo.path, capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert (repo.path / ".git/recovery/restore-intent.json").exists()
    _settle(repo, at_checkpoint, mutated)


def test_kill_holding_index_lock_is_cleaned_by_continue(tmp_path: Path) -> None:
    repo, cp, at_checkpoint, mutated = _big_repo(tmp_path / "r", 50)
    script = _KILL_AT.replace("real(*a, **k)\n", "real(*a, **k)\n").replace(
        "if step == name + \":after\":", "if step == 'never':")
    # kill after git's index.lock was created by us but before the rename
    script = script.replace("import recovery.core.restore as r", "import recovery.core.restore as r\nimport shutil")
    script = script.replace("setattr(r, name, killer(name))", textwrap.dedent("""\
        real_copy = shutil.copyfileobj
        def copy_then_die(src, dst, *a):
            real_copy(src, dst, *a)
            os.kill(os.getpid(), signal.SIGKILL)
        r.shutil.copyfileobj = copy_then_die"""))
    proc = subprocess.run([sys.executable, "-P", "-c", script, "_install_index:x", cp], cwd=repo.path, capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert (repo.path / ".git/index.lock").exists()
    _settle(repo, at_checkpoint, mutated)


@pytest.mark.parametrize("delay_s", [0.15, 0.25, 0.35, 0.45, 0.55, 0.7])
def test_kill_at_random_instants(tmp_path: Path, delay_s: float) -> None:
    repo, cp, at_checkpoint, mutated = _big_repo(tmp_path / "r", 1500)
    proc = subprocess.Popen([sys.executable, "-P", "-m", "recovery", "restore", cp], cwd=repo.path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(delay_s)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    _settle(repo, at_checkpoint, mutated)


def test_abort_returns_to_the_state_before_the_restore(tmp_path: Path) -> None:
    repo, cp, at_checkpoint, mutated = _big_repo(tmp_path / "r", 100)
    proc = subprocess.run([sys.executable, "-P", "-c", _KILL_AT, "_move_head:before", cp], cwd=repo.path,
                          capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    repo.recover("restore", "--abort")
    assert disk_state(repo.path) == mutated
    assert repo.git("log", "-1", "--format=%s") == "bad change"
    assert not (repo.path / ".git/recovery/restore-intent.json").exists()


def test_damaged_intent_record_can_be_aborted(tmp_path: Path) -> None:
    repo, cp, at_checkpoint, mutated = _big_repo(tmp_path / "r", 30)
    proc = subprocess.run([sys.executable, "-P", "-c", _KILL_AT, "_move_head:before", cp], cwd=repo.path,
                          capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    (repo.path / ".git/recovery/restore-intent.json").write_text("{ torn")
    assert "is damaged" in repo.recover("status").stdout
    refused = repo.recover("restore", cp, check=False)
    assert refused.returncode == 1 and "--abort" in refused.stderr and "Traceback" not in refused.stderr
    repo.recover("restore", "--abort")
    assert disk_state(repo.path) == mutated


def test_kill_while_git_holds_head_lock_is_cleaned_by_continue(tmp_path: Path) -> None:
    # git locks HEAD as well when it moves the branch HEAD points to; a kill in
    # that moment leaves HEAD.lock behind, and every later restore would fail.
    repo, cp, at_checkpoint, mutated = _big_repo(tmp_path / "r", 30)
    script = _KILL_AT.replace("setattr(r, name, killer(name))", textwrap.dedent("""\
        real_move = r._move_head
        def move_then_leave_lock(repo, *a, **k):
            real_move(repo, *a, **k)
            (repo.git_dir / "HEAD.lock").write_text("")
            os.kill(os.getpid(), signal.SIGKILL)
        r._move_head = move_then_leave_lock"""))
    proc = subprocess.run([sys.executable, "-P", "-c", script, "_move_head:x", cp], cwd=repo.path, capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert (repo.path / ".git/HEAD.lock").exists()
    _settle(repo, at_checkpoint, mutated)
