"""SIGKILL during a restore, at chosen steps and at random instants: afterwards
nothing is lost, `git fsck` is clean, and `restore --continue` (or `--abort`)
finishes the job."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from recovery.base.errors import RecoverError
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
    "check_switch:before",
])
def test_kill_at_each_step_then_continue(tmp_path: Path, step: str) -> None:
    repo, cp, at_checkpoint, mutated = _big_repo(tmp_path / "r", 200)
    proc = subprocess.run([sys.executable, "-P", "-c", _KILL_AT, step, cp], cwd=repo.path, capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert (repo.path / ".git/recovery/restore-intent.json").exists()
    _settle(repo, at_checkpoint, mutated)


def _killed_holding_index_lock(cp: str) -> list[str]:
    """The command of a restore to ``cp`` that kills itself after filling git's
    ``index.lock`` with the new index, before the rename."""
    script = _KILL_AT.replace("real(*a, **k)\n", "real(*a, **k)\n").replace(
        "if step == name + \":after\":", "if step == 'never':")
    script = script.replace("import recovery.core.restore as r", "import recovery.core.restore as r\nimport shutil")
    script = script.replace("setattr(r, name, killer(name))", textwrap.dedent("""\
        real_copy = shutil.copyfileobj
        def copy_then_die(src, dst, *a):
            real_copy(src, dst, *a)
            os.kill(os.getpid(), signal.SIGKILL)
        r.shutil.copyfileobj = copy_then_die"""))
    return [sys.executable, "-P", "-c", script, "_install_index:x", cp]


def test_kill_holding_index_lock_is_cleaned_by_continue(tmp_path: Path) -> None:
    repo, cp, at_checkpoint, mutated = _big_repo(tmp_path / "r", 50)
    proc = subprocess.run(_killed_holding_index_lock(cp), cwd=repo.path, capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert (repo.path / ".git/index.lock").exists()
    _settle(repo, at_checkpoint, mutated)


def test_a_killed_restore_not_yet_reaped_does_not_hold_the_index(tmp_path: Path) -> None:
    """A killed restore whose parent has not reaped it (a parent that never
    waits, a container's PID 1) is a zombie: its pid exists, but it holds no
    file and writes nothing, so the first ``--continue`` takes its index.lock
    over and finishes."""
    repo, cp, at_checkpoint, _ = _big_repo(tmp_path / "r", 50)
    proc = subprocess.Popen(_killed_holding_index_lock(cp), cwd=repo.path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while Path(f"/proc/{proc.pid}/stat").read_bytes().rpartition(b")")[2].split()[0] != b"Z":
            assert time.monotonic() < deadline, "the restore neither died nor finished"
            time.sleep(0.02)
        assert (repo.path / ".git/index.lock").exists()
        repo.recover("restore", "--continue")
        assert disk_state(repo.path) == at_checkpoint
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL  # the kill landed where it was meant to


def test_kill_at_random_instants(tmp_path: Path) -> None:
    """Kills at fixed delays from the start (before, during or after the switch,
    whatever the machine's speed) and at random instants after the intent record
    appeared (inside the switch); at least one kill must land mid-restore, else
    the test has tested nothing and fails."""
    template, cp, at_checkpoint, mutated = _big_repo(tmp_path / "template", 1500)
    rng = random.Random()
    mid_restore = 0
    for attempt, delay_s in enumerate([0.15, 0.35, 0.55, 0.7, None, None, None, None]):
        path = tmp_path / f"a{attempt}"
        shutil.copytree(template.path, path, symlinks=True)
        repo = GitRepo(path)
        intent = path / ".git/recovery/restore-intent.json"
        proc = subprocess.Popen([sys.executable, "-P", "-m", "recovery", "restore", cp], cwd=path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        if delay_s is None:
            deadline = time.monotonic() + 120  # generous: a loaded machine
            while not intent.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.001)
            time.sleep(rng.uniform(0.0, 0.05))
        else:
            time.sleep(delay_s)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        mid_restore += intent.exists()
        _settle(repo, at_checkpoint, mutated)
    assert mid_restore >= 1, "no kill landed while a restore was switching: nothing was tested"


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


def test_a_file_changed_while_continue_runs_keeps_the_interrupted_restore(tmp_path: Path, monkeypatch) -> None:
    repo, cp, at_checkpoint, mutated = _big_repo(tmp_path / "r", 30)
    proc = subprocess.run([sys.executable, "-P", "-c", _KILL_AT, "_switch_worktree_and_index:before", cp],
                          cwd=repo.path, capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    intent = repo.path / ".git/recovery/restore-intent.json"
    assert intent.exists()
    import recovery.core.restore as r

    real_preflight = r._preflight

    def edit_in_the_window(*args, **kwargs):
        real_preflight(*args, **kwargs)
        repo.write("d0/f0.txt", "an editor saved this during --continue\n")  # a path the switch writes

    monkeypatch.setattr(r, "_preflight", edit_in_the_window)
    with pytest.raises(RecoverError, match="still pending"):
        r.continue_restore(Repo.discover(repo.path))
    assert intent.exists()
    status = repo.recover("status").stdout
    assert f"INTERRUPTED RESTORE of {cp[:10]} (#1) started" in status, status
    monkeypatch.setattr(r, "_preflight", real_preflight)
    repo.recover("restore", "--continue")
    assert not intent.exists()
    assert disk_state(repo.path) == at_checkpoint
    # the edit made during the failed --continue is in a checkpoint: nothing lost
    found = repo.git("log", "--format=%H", "--all", "--grep=restore --continue").split()
    assert any(repo.git("cat-file", "blob", f"{sha}:d0/f0.txt", check=False)
               == "an editor saved this during --continue" for sha in found)
    repo.git("fsck", "--no-dangling")


def test_undo_after_abort_brings_back_what_the_abort_replaced(tmp_path: Path) -> None:
    repo, cp, at_checkpoint, mutated = _big_repo(tmp_path / "r", 60)
    proc = subprocess.run([sys.executable, "-P", "-c", _KILL_AT, "_move_head:before", cp], cwd=repo.path,
                          capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    half_switched = disk_state(repo.path)
    assert half_switched != mutated
    before_abort = repo.git("rev-parse", "refs/recovery/main/undo")
    aborted = repo.recover("restore", "--abort")
    assert "undo with: git recover undo (it brings back the half-restored state --abort replaced)" in aborted.stdout
    assert disk_state(repo.path) == mutated
    undo_now = repo.git("rev-parse", "refs/recovery/main/undo")
    assert undo_now != before_abort  # not the aborted restore's safety checkpoint
    repo.recover("undo")
    assert disk_state(repo.path) == half_switched
    repo.git("fsck", "--no-dangling")


def test_ctrl_c_says_what_state_it_left(tmp_path: Path) -> None:
    repo, cp, at_checkpoint, mutated = _big_repo(tmp_path / "r", 200)
    intent = repo.path / ".git/recovery/restore-intent.json"
    # SIGINT (what Ctrl-C sends) delivered at a fixed step inside the switch, so the
    # interrupt lands mid-restore on a fast machine and a loaded one alike.
    # A terminal's Ctrl-C reaches a process whose SIGINT handling is the default;
    # a test runner's worker may have it ignored, which its children inherit.
    script = "import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n" + \
        _KILL_AT.replace("SIGKILL", "SIGINT")
    proc = subprocess.run([sys.executable, "-P", "-c", script, "_move_head:before", cp], cwd=repo.path,
                          capture_output=True, text=True)
    err = proc.stderr
    assert intent.exists(), (proc.returncode, err)
    assert proc.returncode in (1, 130), err
    assert "--continue" in err and "--abort" in err and "aborted" not in err.replace("--abort", "")
    assert "Traceback" not in err
    _settle(repo, at_checkpoint, mutated)
    # Ctrl-C of a checkpoint: nothing to resolve, and it says so
    proc = subprocess.Popen([sys.executable, "-P", "-m", "recovery", "checkpoint"], cwd=repo.path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(0.4)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate()
    if proc.returncode == 130:
        assert "no restore is half-done" in err


def _children(pid: int) -> list[tuple[int, str]]:
    """``(pid, command line)`` of the live children of ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append((int(entry.name), cmdline))
    return found


def _running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_git_child_dies_with_git_recover_and_first_continue_succeeds(tmp_path: Path) -> None:
    """SIGKILL to git-recover alone (not its group) while `git read-tree -u`
    writes files: the child must die with it, so the first `--continue` finds a
    quiet worktree and finishes."""
    path = tmp_path / "r"
    path.mkdir()
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    slow = tmp_path / "slow"
    # A smudge filter that takes a second per file while `slow` exists: the
    # read-tree of the switch is then still running when its parent is killed.
    repo.git("config", "filter.slow.clean", "cat")
    repo.git("config", "filter.slow.smudge", f"sh -c 'test -e {slow} && sleep 1; cat'")
    repo.write(".gitattributes", "*.txt filter=slow\n")
    for i in range(20):
        repo.write(f"f{i}.txt", f"old {i}\n")
    repo.commit_all("base")
    cp = create_checkpoint(Repo.discover(path), "manual")
    at_checkpoint = disk_state(path)
    for i in range(20):
        repo.write(f"f{i}.txt", f"new {i}\n")
    repo.commit_all("bad change")
    mutated = disk_state(path)
    slow.touch()
    proc = subprocess.Popen([sys.executable, "-P", "-m", "recovery", "restore", cp.sha], cwd=path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    read_tree = None
    while read_tree is None and time.monotonic() < deadline and proc.poll() is None:
        read_tree = next((pid for pid, cmd in _children(proc.pid) if "read-tree" in cmd and " -u " in cmd), None)
        time.sleep(0.01)
    assert read_tree is not None, "the switch's git read-tree was never seen running"
    time.sleep(0.5)  # mid-switch: some files written, most not
    proc.send_signal(signal.SIGKILL)  # the process alone, not its group
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # The child got SIGKILL from the kernel when its parent died; without that it
    # would keep writing for up to 20 s more.
    gone_by = time.monotonic() + 5
    while _running(read_tree) and time.monotonic() < gone_by:
        time.sleep(0.05)
    assert not _running(read_tree), "git read-tree outlived git-recover"
    assert (path / ".git/recovery/restore-intent.json").exists()
    slow.unlink()
    first = repo.recover("restore", "--continue", check=False)
    assert first.returncode == 0, first.stderr
    assert disk_state(path) == at_checkpoint
    repo.recover("undo")
    assert disk_state(path) == mutated
    repo.git("fsck", "--no-dangling")


@pytest.mark.parametrize("action", ["--continue", "--abort"])
def test_a_file_the_restore_left_alone_survives_its_continue_and_abort(tmp_path: Path, action: str) -> None:
    """An untracked file over the size cap is left alone by a restore. Killed
    mid-switch, the restore was finished (or aborted) with a plan that lacked
    the file; once the cap was raised the new capture held it, and the switch
    deleted it with no checkpoint `undo` reaches holding it."""
    repo, cp, _, _ = _big_repo(tmp_path / "r", 100)
    repo.git("config", "recover.maxUntrackedSize", "100")
    repo.write("big.bin", b"b" * 500)
    proc = subprocess.run([sys.executable, "-P", "-c", _KILL_AT, "_move_head:before", cp], cwd=repo.path,
                          capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert (repo.path / ".git/recovery/restore-intent.json").exists()
    repo.git("config", "recover.maxUntrackedSize", "1k")
    out = repo.recover("restore", action).stdout
    assert repo.read("big.bin") == b"b" * 500
    assert "not covered: big.bin: left as they were" in out
    repo.git("fsck", "--no-dangling")
