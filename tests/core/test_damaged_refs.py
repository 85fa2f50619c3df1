"""A damaged checkpoint, an absurd checkpoint name, a restore still running:
each gets a precise answer and leaves every other checkpoint usable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import GitRepo
from tests.core.helpers import checkpoint_refs


def _two_checkpoints(repo: GitRepo) -> tuple[str, str]:
    """Checkpoints #1 and #2 of two different states; their ids."""
    repo.write("README.md", "first\n")
    repo.recover("checkpoint", "-m", "x")
    repo.write("README.md", "second\n")
    repo.recover("checkpoint", "-m", "y")
    listing = json.loads(repo.recover("list", "--json").stdout)
    by_number = {cp["number"]: cp["sha"] for cp in listing}
    return by_number[1], by_number[2]


def _object_file(repo: GitRepo, sha: str) -> Path:
    return repo.path / ".git/objects" / sha[:2] / sha[2:]


@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_a_damaged_checkpoint_commit_is_skipped_and_the_rest_work(repo: GitRepo, damage: str) -> None:
    intact, broken = _two_checkpoints(repo)
    path = _object_file(repo, broken)
    if damage == "missing":
        path.unlink()
    else:
        data = path.read_bytes()
        path.chmod(0o644)
        path.write_bytes(data[:20])
    assert repo.git("cat-file", "-t", broken, check=False) == ""  # the damage landed
    ref = f"refs/recovery/main/cp/{broken}"
    warning = f"remove it with `git update-ref -d {ref}`"

    listed = repo.recover("list", "--json")
    assert [cp["sha"] for cp in json.loads(listed.stdout)] == [intact]
    assert ref in listed.stderr and warning in listed.stderr
    assert len([line for line in listed.stderr.splitlines() if ref in line]) == 1
    status = repo.recover("status")
    assert "newest checkpoint:" in status.stdout and intact[:10] in status.stdout

    verified = repo.recover("verify", check=False)
    assert verified.returncode == 2, verified
    assert f"{ref}: commit missing or corrupt" in verified.stdout
    assert f"{intact[:10]}: " in verified.stdout and "all intact" in verified.stdout

    repo.write("README.md", "third\n")
    repo.recover("checkpoint", "-m", "z")
    restored = repo.recover("restore", "1")
    assert len([line for line in restored.stderr.splitlines() if ref in line]) == 1
    assert repo.read("README.md") == b"first\n"
    repo.recover("gc")
    aborted = repo.recover("restore", "--abort", check=False)
    assert "for-each-ref" not in aborted.stderr and "no interrupted restore" in aborted.stderr
    assert f"{broken} {ref}" in checkpoint_refs(repo)  # never removed behind the user's back


def test_a_huge_or_non_ascii_number_is_a_one_line_error(repo: GitRepo) -> None:
    _two_checkpoints(repo)
    nines = "9" * 5000
    for name in (nines, f"#{nines}", f"@{{{nines}}}"):
        proc = repo.recover("show", name, check=False)
        assert proc.returncode == 3, proc.stderr[-300:]
        assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr
        assert len(proc.stderr) < 200
    arabic_one = "\u0661"
    for name in (arabic_one, f"#{arabic_one}", f"@{{{arabic_one}}}"):
        proc = repo.recover("show", name, check=False)
        assert proc.returncode == 3 and proc.stdout == "", name
    assert repo.recover("show", "#1").stdout.startswith("checkpoint #1 ")


def test_show_names_a_missing_head_commit(repo: GitRepo) -> None:
    repo.write("a.txt", "a\n")
    head = repo.commit_all("second")
    repo.write("a.txt", "b\n")
    repo.recover("checkpoint", "-m", "x")
    repo.git("reset", "-q", "--hard", "HEAD^")
    repo.git("reflog", "expire", "--expire=now", "--all")
    _object_file(repo, head).unlink()
    proc = repo.recover("show", "1", check=False)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"git-recover: the HEAD commit {head} of checkpoint #1 is missing, so its changes cannot be listed "
        f"(`git recover verify {json.loads(repo.recover('list', '--json').stdout)[0]['short']}` "
        "names every missing object)"]


# Runs `git recover restore CP` and parks it inside the switch (intent record
# written, lock held) until the file named by argv[3] appears, or kills itself
# there with SIGKILL when argv[4] is "kill".
_PARK = textwrap.dedent("""
    import os, signal, sys, time
    from pathlib import Path
    import recovery.core.restore as r
    real = r._switch_worktree_and_index
    def parked(*a, **k):
        Path(sys.argv[2]).write_text("parked")
        if sys.argv[4] == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        while not Path(sys.argv[3]).exists():
            time.sleep(0.02)
        return real(*a, **k)
    r._switch_worktree_and_index = parked
    from recovery.cli.main import main
    sys.exit(main(["restore", sys.argv[1]]))
""")


def _park(repo: GitRepo, tmp_path: Path, cp: str, mode: str) -> tuple[subprocess.Popen[bytes], Path, Path]:
    parked, release = tmp_path / "parked", tmp_path / "release"
    proc = subprocess.Popen([sys.executable, "-P", "-c", _PARK, cp, str(parked), str(release), mode],
                            cwd=repo.path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not parked.exists():
        assert proc.poll() is None or mode == "kill", proc.communicate()
        assert time.monotonic() < deadline, "the restore never reached the switch"
        time.sleep(0.02)
    return proc, parked, release


def test_a_running_restore_is_in_progress_not_interrupted(repo: GitRepo, tmp_path: Path) -> None:
    first, _ = _two_checkpoints(repo)
    proc, _, release = _park(repo, tmp_path, first, "wait")
    try:
        assert (repo.path / ".git/recovery/restore-intent.json").exists()
        status = repo.recover("status")
        assert f"a restore is in progress (pid {proc.pid})" in status.stdout
        assert "INTERRUPTED" not in status.stdout and "--continue" not in status.stdout + status.stderr
        assert f"a restore is in progress (pid {proc.pid})" in status.stderr
        assert json.loads(repo.recover("status", "--json").stdout)["restore_in_progress"] == proc.pid
        listed = repo.recover("list")
        assert "in progress" in listed.stderr and "half-restored" not in listed.stderr
    finally:
        release.write_text("go")
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert repo.read("README.md") == b"first\n"
    assert "restore" not in repo.recover("status").stderr


def test_a_killed_restore_is_interrupted_even_when_its_pid_is_reused(repo: GitRepo, tmp_path: Path) -> None:
    first, _ = _two_checkpoints(repo)
    proc, _, _ = _park(repo, tmp_path, first, "kill")
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL  # the kill landed mid-restore
    record = repo.path / ".git/recovery/restore-intent.json"
    # Another process now owns the dead restore's pid: a live stranger.
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        data = json.loads(record.read_text())
        data["pid"] = stranger.pid
        record.write_text(json.dumps(data))
        status = repo.recover("status")
        assert "INTERRUPTED RESTORE" in status.stdout and "in progress" not in status.stdout
        assert "a restore was interrupted" in status.stderr
        assert json.loads(repo.recover("status", "--json").stdout)["restore_in_progress"] is None
    finally:
        stranger.kill()
        stranger.wait()
    repo.recover("restore", "--continue")
    assert repo.read("README.md") == b"first\n" and not record.exists()
    assert os.path.exists(repo.path / ".git/recovery/lock")


def test_a_commit_with_hooks_still_checkpoints_past_a_damaged_checkpoint(repo: GitRepo) -> None:
    _, broken = _two_checkpoints(repo)
    _object_file(repo, broken).unlink()
    repo.recover("install")
    repo.write("README.md", "committed\n")
    proc = subprocess.run(["git", "commit", "-qam", "goes through"], cwd=repo.path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "no pre-commit checkpoint" not in proc.stderr
    listing = json.loads(repo.recover("list", "--json").stdout)
    assert len(listing) == 2 and listing[0]["reason"] != "manual"  # the hook's checkpoint, beside #1
    assert repo.git("cat-file", "-p", f"{listing[0]['worktree_tree']}:README.md") == "committed"


def _kill_mid_update(repo: GitRepo, ref: str, old: str, new: str) -> Path:
    """Start a real ``git update-ref --stdin`` transaction that locks ``ref``
    (``prepare`` takes the lock and waits for ``commit``), kill it with
    SIGKILL there, and return the lock file it left (asserted to be there)."""
    proc = subprocess.Popen(["git", "update-ref", "--stdin"], cwd=repo.path, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(f"start\nupdate {ref} {new} {old}\nprepare\n")
    proc.stdin.flush()
    assert proc.stdout.readline() == "start: ok\n" and proc.stdout.readline() == "prepare: ok\n"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lock = repo.path / ".git" / f"{ref}.lock"
    assert proc.returncode == -signal.SIGKILL and lock.is_file(), "the killed git left no lock: nothing was tested"
    return lock


def test_a_lock_a_killed_git_left_on_a_label_is_removed_once_stale(repo: GitRepo) -> None:
    """A git killed while it held ``refs/recovery/<wt>/undo.lock`` made every
    later restore fail ("File exists"), with nothing to continue or abort
    (hostile testing). A minute on, the lock is nobody's: the restore removes
    it, says so, and restores; a younger lock fails the restore before any
    change, named, and is left alone."""
    repo.write("a.txt", "v1\n")
    repo.commit_all("base")
    first = json.loads(repo.recover("checkpoint", "--json").stdout)["sha"]
    repo.write("a.txt", "v2\n")
    second = json.loads(repo.recover("checkpoint", "--json").stdout)["sha"]
    repo.recover("restore", first)
    undo = repo.git("rev-parse", "refs/recovery/main/undo")
    lock = _kill_mid_update(repo, "refs/recovery/main/undo", undo, second)

    repo.write("a.txt", "v3: young lock\n")
    young = repo.recover("restore", second, check=False)
    assert young.returncode != 0 and "undo.lock" in young.stderr and "Traceback" not in young.stderr, young.stderr
    assert repo.read("a.txt") == b"v3: young lock\n" and lock.is_file()

    aged = time.time() - 120
    os.utime(lock, (aged, aged))
    stale = repo.recover("restore", second, check=False)
    assert stale.returncode == 0, stale.stderr
    assert f"removed {lock}" in stale.stderr and not lock.exists()
    assert repo.read("a.txt") == b"v2\n"
    assert repo.git("rev-parse", "refs/recovery/main/undo") != undo  # the new safety checkpoint


def test_gc_removes_a_stale_lock_a_killed_git_left_on_a_checkpoint_ref(repo: GitRepo) -> None:
    """A gc killed while it deleted checkpoint refs left their locks, and every
    later gc (the automatic one too) failed on them."""
    repo.write("a.txt", "v0\n")
    repo.commit_all("base")
    shas = []
    for i in range(3):
        repo.write("a.txt", f"v{i + 1}\n")
        shas.append(json.loads(repo.recover("checkpoint", "--json").stdout)["sha"])
    oldest = f"refs/recovery/main/cp/{shas[0]}"
    lock = _kill_mid_update(repo, oldest, shas[0], repo.git("rev-parse", "HEAD"))
    aged = time.time() - 120
    os.utime(lock, (aged, aged))
    proc = repo.recover("gc", "--keep", "1", check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"removed {lock}" in proc.stderr and not lock.exists()
    assert [line.split()[-1] for line in checkpoint_refs(repo)] == [f"refs/recovery/main/cp/{shas[2]}"]
