"""README's headline guarantees, each tested here on repositories this file
builds: all-or-nothing checkpoints under SIGINT and SIGKILL, the racing writer,
the conflicted merge round trip (the interrupted restore is
tests/core/test_kill.py). The checks are functions so that test_cases.py runs
the same ones on the ../shared/cases repositories, as an extra.

Every kill test proves its kill landed while the process was still working:
a test whose process had already finished would test nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from recovery.core.checkpoint import create_checkpoint
from recovery.core.repo import Repo
from recovery.core.restore import restore
from tests.conftest import GitRepo
from tests.core.helpers import checkpoint_refs, disk_state, porcelain

_TRACKED, _UNTRACKED = 3000, 200


# The points of a checkpoint's run a signal is sent at, as fractions of how
# long a whole run takes on this machine at this moment: fixed delays missed a
# checkpoint that had become faster than most of them.
INTERRUPT_AT = (0.0, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95)


def _start_checkpoint(repo: GitRepo) -> subprocess.Popen[bytes]:
    """`git recover checkpoint` in a process group of its own, with SIGINT's
    default handling (a test runner's worker may ignore SIGINT, and its
    children inherit that: Ctrl-C would never reach them)."""
    return subprocess.Popen([sys.executable, "-P", "-m", "recovery", "checkpoint"], cwd=repo.path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _interrupt_checkpoint(repo: GitRepo, sig: int, delay_s: float, seen: list[str], attempts: int = 5) -> bool:
    """Start `git recover checkpoint`, send ``sig`` to its process group after
    ``delay_s``; True when the signal reached it while it was still running.
    A checkpoint that finished first (a loaded machine can sleep this process
    well past ``delay_s`` while the checkpoint runs) is let be, and another
    one is started, up to ``attempts`` in all. ``seen`` gets each run's exit
    status and duration, for the failure message."""
    for _ in range(attempts):
        started = time.perf_counter()
        proc = _start_checkpoint(repo)
        time.sleep(delay_s)
        landed = proc.poll() is None
        if landed:
            os.killpg(proc.pid, sig)  # the whole group: git children die with it
        _, err = proc.communicate()
        seen.append(f"{sig}@{delay_s:.3f}s: {'signalled, ' if landed else ''}exit {proc.returncode} after "
                    f"{time.perf_counter() - started:.2f}s {err.decode(errors='replace').strip()[:120]}")
        if landed:
            return proc.returncode != 0
    return False


def check_all_or_nothing(repo: GitRepo, files: int, untracked: str) -> None:
    """SIGINT and SIGKILL at each point of :data:`INTERRUPT_AT`: a published
    ref is complete (``files`` paths), the index and files are untouched, fsck
    is clean, and a later checkpoint works (``untracked``: a path it must hold)."""
    index_before = (repo.path / ".git/index").read_bytes()
    disk_before = disk_state(repo.path)
    runs = []
    for _ in range(2):  # the first writes the objects; the signalled ones find them written
        started = time.perf_counter()
        _start_checkpoint(repo).wait()
        runs.append(time.perf_counter() - started)
    seen: list[str] = [f"a whole run: {runs[-1]:.3f}s"]
    landed = sum(_interrupt_checkpoint(repo, sig, at * runs[-1], seen)
                 for at in INTERRUPT_AT for sig in (signal.SIGINT, signal.SIGKILL))
    assert landed >= len(INTERRUPT_AT), (f"only {landed} of {2 * len(INTERRUPT_AT)} signals reached a running "
                                         "checkpoint:\n" + "\n".join(seen))
    for line in checkpoint_refs(repo):
        sha = line.split()[0]
        # a published checkpoint is complete: its tree has every file
        assert len(repo.git("ls-tree", "-r", "--name-only", sha).splitlines()) == files
    assert (repo.path / ".git/index").read_bytes() == index_before
    assert disk_state(repo.path) == disk_before
    repo.git("fsck", "--no-dangling", "--strict")
    cp = create_checkpoint(Repo.discover(repo.path), "manual")  # a later checkpoint works
    assert repo.git("cat-file", "blob", f"{cp.worktree_tree}:{untracked}") == untracked.rsplit("/", 1)[-1][:-4]


def check_conflict_round_trip(repo: GitRepo) -> None:
    """A merge stopped on ``conflict.txt`` comes back with its stages, MERGE_HEAD
    and status, and can be finished."""
    conflicted = repo.read("conflict.txt")
    stages = repo.git("ls-files", "-u")
    merge_head = repo.read(".git/MERGE_HEAD")
    status = porcelain(repo)
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    assert cp.conflict_commit is not None
    repo.git("merge", "--abort")
    assert not (repo.path / ".git/MERGE_HEAD").exists()
    restore(r, cp)
    assert repo.read("conflict.txt") == conflicted and b"<<<<<<<" in conflicted
    assert repo.git("ls-files", "-u") == stages and len(stages.splitlines()) == 3
    assert repo.read(".git/MERGE_HEAD") == merge_head
    assert porcelain(repo) == status
    repo.git("add", "conflict.txt")  # and the user can finish the merge
    repo.git("commit", "-q", "--no-edit")
    assert len(repo.git("rev-list", "--parents", "-n1", "HEAD").split()) == 3


def check_racing_writer(repo: GitRepo, writer: list[str], endless: bool = True) -> None:
    """20 checkpoints while ``writer`` rewrites ``hot.log``: each succeeds with a
    state the file had, or fails loudly with no ref. ``endless``: the writer
    never stops by itself, so it must still be running at the end (proof that
    every checkpoint raced it)."""
    proc = subprocess.Popen(writer, cwd=repo.path, start_new_session=True)
    results = []
    try:
        for _ in range(20):
            results.append(repo.recover("checkpoint", check=False))
    finally:
        still_running = proc.poll() is None
        if still_running:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert still_running or not endless, "the writer stopped before the checkpoints ended: nothing raced"
    refs = checkpoint_refs(repo)
    succeeded = [p for p in results if p.returncode == 0]
    # every success has its ref (a new one, or the newest when the state was unchanged), every failure none
    new = [p for p in succeeded if " unchanged: " not in p.stdout]
    assert len(refs) == len(new)
    assert {p.stdout.split()[1] for p in succeeded} == {line.split()[0][:10] for line in refs}
    for p in results:
        if p.returncode != 0:
            assert p.stderr.startswith("git-recover: checkpoint failed") and "no checkpoint was written" in p.stderr
    for line in refs:
        sha = line.split()[0]
        content = repo.git("cat-file", "blob", f"{sha}:hot.log")
        assert content == "start" or set(content) <= {"x"}  # a state the file had, never a mix
        assert repo.git("cat-file", "blob", f"{sha}:other.txt") == "v1"
    assert not list((repo.path / ".git").glob("*.lock"))
    assert not list((repo.path / ".git/recovery/tmp").iterdir())
    repo.git("fsck", "--no-dangling")


def test_interrupted_checkpoint_is_all_or_nothing(tmp_path: Path) -> None:
    # 3,000 committed files, every seventh edited, 200 untracked: a capture that
    # takes long enough to be interrupted in the middle.
    repo = GitRepo.init(tmp_path / "r")
    for i in range(1, _TRACKED + 1):
        repo.write(f"f{i}.txt", f"line {i}\n")
    repo.commit_all("base")
    for i in range(7, _TRACKED + 1, 7):
        with open(repo.path / f"f{i}.txt", "a") as out:
            out.write("edited\n")
    for i in range(1, _UNTRACKED + 1):
        repo.write(f"new/u{i}.txt", f"u{i}\n")
    check_all_or_nothing(repo, _TRACKED + _UNTRACKED, "new/u7.txt")


def test_merge_stopped_on_a_conflict_round_trips(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "m")
    repo.write("conflict.txt", "base\n")
    repo.commit_all("base")
    repo.git("checkout", "-q", "-b", "other")
    repo.write("conflict.txt", "other\n")
    repo.commit_all("other")
    repo.git("checkout", "-q", "main")
    repo.write("conflict.txt", "main\n")
    repo.commit_all("main")
    assert subprocess.run(["git", "merge", "other"], cwd=repo.path, capture_output=True).returncode == 1
    check_conflict_round_trip(repo)


_WRITER = """
while True:  # killed by the test
    with open("hot.log", "w") as out:
        out.write("x" * 2_000_000)
    open("hot.log", "w").close()
"""


def test_a_file_rewritten_during_checkpoints_never_gives_a_stale_tree(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "w")
    repo.write("hot.log", "start\n")
    repo.write("other.txt", "v1\n")
    repo.commit_all("base")
    check_racing_writer(repo, [sys.executable, "-c", _WRITER])
