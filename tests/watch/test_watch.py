"""`git recover watch` on real trees with real git and real inotify events.

Every test runs the watcher as its own process, as a user does, and asserts on
refs and on the bytes the checkpoints hold. Times are generous (a loaded
2-core machine): the settle period is short, the waits are long.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from recovery.watch.watcher import Settler
from tests.conftest import GitRepo
from tests.core.helpers import checkpoint_refs

WAIT_S = 30.0


def wait_for(predicate: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def cp_shas(repo: GitRepo) -> list[str]:
    return [line.split()[0] for line in checkpoint_refs(repo)]


def show(repo: GitRepo, sha: str, path: str) -> bytes:
    return subprocess.run(["git", "show", f"{sha}:{path}"], cwd=repo.path, capture_output=True,
                          check=True).stdout


def tree_files(repo: GitRepo, sha: str) -> set[str]:
    return set(repo.git("ls-tree", "-r", "--name-only", sha).splitlines())


class Background:
    """A watcher started with `git recover watch start`, stopped at the end."""

    def __init__(self, repo: GitRepo, settle: float = 0.3, max_wait: float = 60.0) -> None:
        self.repo = repo
        proc = repo.recover("watch", "start", "--settle", str(settle), "--max-wait", str(max_wait))
        assert "watcher started: pid " in proc.stdout
        self.pid = json.loads((repo.path / ".git/recovery/watch.pid").read_text())["pid"]

    def log(self) -> str:
        return (self.repo.path / ".git/recovery/watch.log").read_text()

    def stop(self) -> None:
        if _alive(self.pid):
            self.repo.recover("watch", "stop")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie child of ours is dead too
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


@pytest.fixture
def watcher(repo: GitRepo) -> Iterator[Callable[..., Background]]:
    started: list[Background] = []

    def start(**kw: float) -> Background:
        bg = Background(repo, **kw)
        started.append(bg)
        return bg

    yield start
    for bg in started:
        bg.stop()


def test_settler_waits_for_quiet_and_bounds_continuous_change() -> None:
    s = Settler(settle_s=2.0, max_wait_s=60.0)
    assert s.wait_s(0.0) is None  # nothing pending: the watcher sleeps without a timeout
    s.change(10.0)
    assert s.wait_s(10.5) == pytest.approx(1.5)
    for t in range(11, 80):  # a change every second for 70 s
        s.change(float(t))
        if s.wait_s(float(t)) == 0.0:
            break
    assert t == 70  # due 60 s after the first change, although changes never settled
    s.done()
    assert s.wait_s(100.0) is None


def test_edits_settle_into_one_checkpoint_with_the_final_bytes(repo: GitRepo, watcher: Callable[..., Background]) -> None:
    bg = watcher(settle=2.0)  # long enough that a loaded machine never splits the burst
    for i in range(20):
        repo.write("README.md", f"edit {i}\n")
        repo.write(f"new/{i}.txt", f"n{i}\n")
    assert wait_for(lambda: len(cp_shas(repo)) == 1)
    time.sleep(3.0)  # nothing else may follow
    [sha] = cp_shas(repo)
    assert show(repo, sha, "README.md") == b"edit 19\n"
    assert show(repo, sha, "new/19.txt") == b"n19\n"
    assert "checkpoint " in bg.log()


def test_editor_rename_save_is_captured(repo: GitRepo, watcher: Callable[..., Background]) -> None:
    watcher(settle=1.0)

    def captured(content: bytes) -> bool:
        """Some checkpoint holds README.md with ``content`` and no other file."""
        return any(tree_files(repo, sha) == {"README.md"} and show(repo, sha, "README.md") == content
                   for sha in cp_shas(repo))

    # vim's default: rename the original away, write a new file, delete the backup
    os.rename(repo.path / "README.md", repo.path / "README.md~")
    repo.write("README.md", "saved by rename\n")
    os.unlink(repo.path / "README.md~")
    assert wait_for(lambda: captured(b"saved by rename\n"))
    # an editor writing a temporary file then renaming it over the original
    repo.write(".README.md.tmp123", "second save\n")
    os.replace(repo.path / ".README.md.tmp123", repo.path / "README.md")
    assert wait_for(lambda: captured(b"second save\n"))  # neither the backup nor the temporary file


def test_a_10k_file_burst_is_one_checkpoint(repo: GitRepo, watcher: Callable[..., Background]) -> None:
    watcher(settle=3.0)
    for i in range(10_000):
        repo.write(f"burst/d{i % 100}/f{i}.txt", f"{i}\n")
    assert wait_for(lambda: len(cp_shas(repo)) >= 1, 120)
    time.sleep(5.0)
    shas = cp_shas(repo)
    assert len(shas) == 1, f"{len(shas)} checkpoints for one burst"
    assert len(tree_files(repo, shas[0])) == 10_001


def test_an_ignored_node_modules_install_takes_no_checkpoint(repo: GitRepo,
                                                             watcher: Callable[..., Background]) -> None:
    repo.write(".gitignore", "node_modules/\n")
    repo.commit_all("ignore")
    bg = watcher(settle=0.3)
    for i in range(3000):
        repo.write(f"node_modules/pkg{i % 30}/lib/f{i}.js", "x" * 100)
    time.sleep(4.0)
    assert cp_shas(repo) == [], bg.log()
    # the watcher was alive and seeing events all along: a real change is captured
    repo.write("src/app.js", "real work\n")
    assert wait_for(lambda: len(cp_shas(repo)) == 1)
    files = tree_files(repo, cp_shas(repo)[0])
    assert "src/app.js" in files and not any(f.startswith("node_modules/") for f in files)


def test_continuous_change_is_checkpointed_at_least_every_max_wait(repo: GitRepo,
                                                                   watcher: Callable[..., Background]) -> None:
    watcher(settle=1.0, max_wait=1.5)
    end = time.monotonic() + 6.0
    i = 0
    while time.monotonic() < end:  # never 1 s of quiet
        repo.write("log.txt", f"line {i}\n")
        i += 1
        time.sleep(0.2)
    assert len(cp_shas(repo)) >= 2


def test_waits_while_git_holds_index_lock_and_never_takes_it(repo: GitRepo,
                                                             watcher: Callable[..., Background]) -> None:
    watcher(settle=0.2, max_wait=30)
    lock = repo.path / ".git/index.lock"
    lock.write_bytes(b"")  # another git process is writing the index
    repo.write("README.md", "during the operation\n")
    time.sleep(2.0)
    assert cp_shas(repo) == []
    lock.unlink()
    repo.write("README.md", "after the operation\n")
    assert wait_for(lambda: len(cp_shas(repo)) == 1)
    assert show(repo, cp_shas(repo)[0], "README.md") == b"after the operation\n"
    # git's own index writers never find the lock taken by the watcher
    for i in range(25):
        repo.write(f"c{i}.txt", f"{i}\n")
        repo.git("add", f"c{i}.txt")
        repo.git("commit", "-q", "-m", f"c{i}")
        time.sleep(0.05)
    assert wait_for(lambda: len(cp_shas(repo)) >= 2)


def test_sigterm_checkpoints_pending_changes_and_removes_the_record(repo: GitRepo) -> None:
    bg = Background(repo, settle=60.0)
    repo.write("README.md", "not yet settled\n")
    time.sleep(0.5)
    assert cp_shas(repo) == []
    assert repo.recover("watch", "stop").stdout.strip() == f"watcher stopped (pid {bg.pid})"
    assert not _alive(bg.pid)
    assert show(repo, cp_shas(repo)[0], "README.md") == b"not yet settled\n"
    assert not (repo.path / ".git/recovery/watch.pid").exists()
    assert "no watcher is running" in repo.recover("watch", "status").stdout


def test_a_second_watcher_is_refused(repo: GitRepo, watcher: Callable[..., Background]) -> None:
    bg = watcher()
    second = repo.recover("watch", "start", check=False)
    assert second.returncode == 1
    assert f"a watcher is already running for this worktree (pid {bg.pid}" in second.stderr
    foreground = repo.recover("watch", check=False)
    assert foreground.returncode == 1 and f"(pid {bg.pid}" in foreground.stderr
    assert f"watcher running: pid {bg.pid}" in repo.recover("watch", "status").stdout
    assert _alive(bg.pid)


def test_kill_9_leaves_no_partial_ref_and_a_restart_works(repo: GitRepo) -> None:
    bg = Background(repo, settle=0.05)
    # keep the watcher capturing, and kill it in the middle of that
    for i in range(2000):
        repo.write(f"many/{i}.txt", f"{i}\n" * 50)
    time.sleep(0.3)
    for i in range(200):
        repo.write(f"many/{i}.txt", "changed\n")
        if i == 100:
            os.kill(bg.pid, signal.SIGKILL)
    assert wait_for(lambda: not _alive(bg.pid), 10)
    for sha in cp_shas(repo):  # every published ref is a complete checkpoint
        assert "git-recover-metadata: " in repo.git("cat-file", "commit", sha)
        repo.git("ls-tree", "-r", sha)
    assert subprocess.run(["git", "fsck", "--no-dangling"], cwd=repo.path, capture_output=True).returncode == 0
    assert "stale record of a killed one remains" in repo.recover("watch", "status").stdout
    restart = repo.recover("watch", "start", "--settle", "0.3")
    assert "removed the stale record of a watcher that is no longer running" in restart.stderr
    new = json.loads((repo.path / ".git/recovery/watch.pid").read_text())["pid"]
    try:
        before = set(cp_shas(repo))
        repo.write("after-restart.txt", "seen\n")
        assert wait_for(lambda: any("after-restart.txt" in tree_files(repo, s)
                                    for s in set(cp_shas(repo)) - before))
    finally:
        repo.recover("watch", "stop")
    assert not _alive(new)


def test_no_cpu_when_idle(repo: GitRepo, watcher: Callable[..., Background]) -> None:
    bg = watcher()

    def cpu_ticks() -> int:
        fields = Path(f"/proc/{bg.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    time.sleep(0.5)
    before = cpu_ticks()
    time.sleep(3.0)
    assert cpu_ticks() - before <= 2  # at most 20 ms in 3 s: nothing polls


def test_foreground_watcher_stops_on_sigterm(repo: GitRepo) -> None:
    proc = subprocess.Popen([sys.executable, "-P", "-m", "recovery", "watch", "--settle", "0.2"],
                            cwd=repo.path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert "watching " in proc.stdout.readline()
    repo.write("fg.txt", "x\n")
    assert wait_for(lambda: len(cp_shas(repo)) == 1)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped; 1 checkpoint(s) taken" in out
