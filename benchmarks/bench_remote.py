"""Replication at scale: many machines pushing checkpoints to one remote.

    .venv/bin/python benchmarks/bench_remote.py                      # 50 machines x 200 checkpoints
    .venv/bin/python benchmarks/bench_remote.py --machines 10 --checkpoints 50

One clone plays every machine in turn: it sets ``recover.machineId``, drops its
local checkpoints, takes ``--checkpoints`` new ones (each with a file of its own,
so every machine's data is distinct) and runs ``git recover push`` to one bare
remote. Then, with every machine on the remote, it times whole processes:

- the first machine's full push against the last one's (the remote held 0 vs
  N-1 other machines): pushing must cost what the machine sends, not what the
  remote holds;
- an incremental push of one new checkpoint;
- ``git recover fetch --machine M`` (one machine: protocol v2 asks the remote
  for that ref prefix only) against ``git recover fetch`` of every machine, and
  ``git fetch`` of one plain branch as git's own floor.

Prints a table of medians (ms) and the ratios the claims rest on.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def recover(cwd: Path, *args: str) -> float:
    """Seconds one ``git-recover`` process takes."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-P", "-m", "recovery", *args], cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def take_checkpoints(clone: Path, machine: int, count: int) -> None:
    """``count`` checkpoints in-process (the setup, not what is measured)."""
    from recovery.core.checkpoint import create_checkpoint
    from recovery.core.repo import Repo

    repo = Repo.discover(clone)
    for i in range(count):
        (clone / "work" / "state.txt").write_text(f"machine {machine} checkpoint {i}\n" * 50)
        create_checkpoint(repo, "bench", None)


def drop_local_checkpoints(clone: Path) -> None:
    refs = git(clone, "for-each-ref", "--format=delete %(refname)", "refs/recovery/main/")
    subprocess.run(["git", "update-ref", "--stdin"], cwd=clone, input=refs, text=True, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=50)
    parser.add_argument("--checkpoints", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5, help="repetitions of each timed step")
    opts = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    work = Path(tempfile.mkdtemp(prefix="bench-remote-"))
    try:
        env_home = work / "home"
        env_home.mkdir()
        os.environ.update(HOME=str(env_home), GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="bench",
                          GIT_AUTHOR_EMAIL="bench@example.com", GIT_COMMITTER_NAME="bench",
                          GIT_COMMITTER_EMAIL="bench@example.com")
        bare = work / "store.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
        clone = work / "clone"
        clone.mkdir()
        git(clone, "init", "-q", "-b", "main")
        for i in range(200):
            (clone / "src" / f"m{i % 10}").mkdir(parents=True, exist_ok=True)
            (clone / "src" / f"m{i % 10}" / f"f{i}.py").write_text(f"x = {i}\n" * 20)
        (clone / "work").mkdir()
        git(clone, "add", "-A")
        git(clone, "commit", "-q", "-m", "base")
        git(clone, "remote", "add", "backup", bare.as_uri())
        git(clone, "push", "-q", "backup", "main")

        push_s: list[float] = []
        setup_started = time.perf_counter()
        for m in range(opts.machines):
            git(clone, "config", "recover.machineId", f"m{m:03d}")
            drop_local_checkpoints(clone)
            take_checkpoints(clone, m, opts.checkpoints)
            push_s.append(recover(clone, "push", "backup"))
        setup_s = time.perf_counter() - setup_started

        incremental, fetch_one, fetch_all, fetch_branch = [], [], [], []
        reader = work / "reader"
        subprocess.run(["git", "clone", "-q", bare.as_uri(), str(reader)], check=True)
        last = f"m{opts.machines - 1:03d}"
        for run in range(opts.runs):
            (clone / "work" / "state.txt").write_text(f"incremental {run}\n")
            take_checkpoints(clone, opts.machines, 1)
            incremental.append(recover(clone, "push", "backup"))
            git(reader, "update-ref", "-d", f"refs/recovery/remotes/origin/{last}/main")
            fetch_one.append(recover(reader, "fetch", "origin", "--machine", last))
            refs = git(reader, "for-each-ref", "--format=delete %(refname)", "refs/recovery/remotes/")
            subprocess.run(["git", "update-ref", "--stdin"], cwd=reader, input=refs, text=True, check=True)
            fetch_all.append(recover(reader, "fetch", "origin"))
            git(reader, "update-ref", "-d", "refs/remotes/origin/main")
            started = time.perf_counter()
            git(reader, "fetch", "-q", "origin", "main")
            fetch_branch.append(time.perf_counter() - started)

        remote_refs = len(git(bare, "for-each-ref", "refs/recovery/").splitlines())
        ms = lambda values: statistics.median(values) * 1000  # noqa: E731
        first, final = push_s[0], push_s[-1]
        rows = [
            ("machines x checkpoints", f"{opts.machines} x {opts.checkpoints}"),
            ("refs on the remote", str(remote_refs)),
            ("setup (checkpoints + pushes)", f"{setup_s:.0f} s"),
            ("first machine's push, empty remote", f"{first * 1000:.0f} ms"),
            (f"last machine's push, {opts.machines - 1} machines there", f"{final * 1000:.0f} ms"),
            ("  ratio last / first", f"{final / first:.2f}x"),
            ("median push of every machine", f"{ms(push_s):.0f} ms"),
            ("incremental push, 1 new checkpoint", f"{ms(incremental):.0f} ms"),
            ("fetch --machine (one machine)", f"{ms(fetch_one):.0f} ms"),
            (f"fetch (all {opts.machines} machines)", f"{ms(fetch_all):.0f} ms"),
            ("git fetch of one branch (floor)", f"{ms(fetch_branch):.0f} ms"),
            ("  ratio one machine / all", f"{ms(fetch_one) / ms(fetch_all):.2f}x"),
        ]
        width = max(len(name) for name, _ in rows)
        for name, value in rows:
            print(f"{name:<{width}}  {value:>12}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
