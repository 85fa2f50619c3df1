"""Checkpoint and restore against git's own floor, on synthetic repositories.

For each size (1k, 10k, 80k tracked files; 100 modified, 50 untracked) this
prints, side by side in one run:

* ``git recover checkpoint`` as a whole command (Python start-up included) and
  its in-process capture time, against the plumbing floor for the same capture
  (copy the index, ``git add -A`` into the copy, ``write-tree``, ``commit-tree``,
  ``update-ref``) and against ``git stash create`` (which skips untracked files);
* ``git recover restore`` (safety checkpoint + switch + integrity check) and the
  switch + check alone, against ``git read-tree -m -u`` between the same two trees.

Targets: checkpoint <= 1.25x the floor at 80k files; <= 150 ms wall
for 1k files; restore with integrity check < 1 s at 80k files.

Usage: python benchmarks/bench_core.py [--sizes 1000,10000,80000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
       "GIT_COMMITTER_EMAIL": "b@b", "GIT_CONFIG_NOSYSTEM": "1"}
RECOVER = [sys.executable, "-P", "-m", "recovery"]
FLOOR = """set -e
cp .git/index .git/bench-index
export GIT_INDEX_FILE=.git/bench-index
git add -A
t=$(git write-tree)
c=$(git commit-tree "$t" -p HEAD -m floor)
git update-ref refs/bench/floor "$c"
rm -f .git/bench-index
"""


def sh(cmd: list[str] | str, cwd: Path, shell: bool = False) -> str:
    return subprocess.run(cmd, cwd=cwd, env=ENV, shell=shell, check=True, capture_output=True, text=True).stdout


def timed(cmd: list[str] | str, cwd: Path, runs: int, shell: bool = False) -> tuple[float, str]:
    """Median wall time in seconds over ``runs``, and the last stdout."""
    times, out = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        out = sh(cmd, cwd, shell)
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def build(root: Path, files: int) -> Path:
    repo = root / f"repo-{files}"
    repo.mkdir()
    sh(["git", "init", "-q", "-b", "main"], repo)
    for i in range(files):
        d = repo / f"d{i % 100}" / f"e{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}.txt").write_text(f"file {i}\n" * 4)
    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "-q", "-m", "base"], repo)
    sh(["git", "status", "--porcelain"], repo)  # a fresh stat cache, as in a working repo
    for i in range(0, files, max(1, files // 100))[:100]:
        (repo / f"d{i % 100}" / f"e{i % 7}" / f"f{i}.txt").write_text(f"modified {i}\n")
    for i in range(50):
        (repo / "untracked").mkdir(exist_ok=True)
        (repo / "untracked" / f"u{i}.txt").write_text(f"untracked {i}\n")
    return repo


def bench(files: int, runs: int, root: Path) -> dict[str, float]:
    repo = build(root, files)
    floor, _ = timed(FLOOR, repo, runs, shell=True)
    stash, _ = timed(["git", "stash", "create"], repo, runs)
    checkpoint, out = timed(RECOVER + ["checkpoint"], repo, runs)
    capture_ms = float(re.search(r"(\d+) ms", out).group(1))
    target = sh(RECOVER + ["list", "-n", "1", "--json"], repo)
    target_id = re.search(r'"short": "(\w+)"', target).group(1)
    # The mutated state to restore from: 100 files differ from the checkpoint.
    for i in range(0, files, max(1, files // 100))[:100]:
        (repo / f"d{i % 100}" / f"e{i % 7}" / f"f{i}.txt").write_text(f"broken again {i}\n")
    restore_times, inner = [], []
    for _ in range(runs):
        start = time.perf_counter()
        out = sh(RECOVER + ["restore", target_id], repo)
        restore_times.append(time.perf_counter() - start)
        m = re.search(r"restore (\d+) ms, integrity check (\d+) ms", out)
        inner.append((int(m.group(1)) + int(m.group(2))) / 1000)
        sh(RECOVER + ["undo"], repo)
    # git's own switch between the same two trees, in a scratch index
    old = sh(RECOVER + ["list", "-n", "1", "--json"], repo)
    now_tree = re.search(r'"worktree_tree": "(\w+)"', old).group(1)
    target_tree = re.search(r'"worktree_tree": "(\w+)"', target).group(1)
    read_tree = []
    for _ in range(runs):
        script = (f"set -e; export GIT_INDEX_FILE=.git/bench-rt; git read-tree {now_tree}; "
                  f"git update-index -q --refresh >/dev/null || true; ")
        sh(script, repo, shell=True)
        start = time.perf_counter()
        sh(f"GIT_INDEX_FILE=.git/bench-rt git read-tree -m -u {now_tree} {target_tree}", repo, shell=True)
        read_tree.append(time.perf_counter() - start)
        sh(f"GIT_INDEX_FILE=.git/bench-rt git read-tree -m -u {target_tree} {now_tree}; rm -f .git/bench-rt", repo,
           shell=True)
    shutil.rmtree(repo)
    return {
        "files": files, "floor": floor, "stash": stash, "checkpoint": checkpoint, "capture": capture_ms / 1000,
        "restore": statistics.median(restore_times), "switch_check": statistics.median(inner),
        "read_tree": statistics.median(read_tree),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,80000")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-core-"))
    rows = []
    try:
        for files in [int(s) for s in args.sizes.split(",")]:
            rows.append(bench(files, args.runs, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ms = lambda s: f"{s * 1000:8.0f}"  # noqa: E731
    print(f"git {sh(['git', '--version'], Path('.')).split()[-1]}, {os.cpu_count()} cores, median of {args.runs} runs (ms)")
    print("| files | floor | stash create | checkpoint (cmd) | capture (in-process) | ratio cmd/floor | "
          "ratio capture/floor | restore+check (cmd) | switch+check | read-tree -m -u |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['files']} | {ms(r['floor'])} | {ms(r['stash'])} | {ms(r['checkpoint'])} | {ms(r['capture'])} | "
              f"{r['checkpoint'] / r['floor']:.2f}x | {r['capture'] / r['floor']:.2f}x | {ms(r['restore'])} | "
              f"{ms(r['switch_check'])} | {ms(r['read_tree'])} |")
    big = rows[-1]
    small = rows[0]
    print(f"targets: checkpoint <= 1.25x floor at {big['files']} files: {big['checkpoint'] / big['floor']:.2f}x "
          f"(in-process capture {big['capture'] / big['floor']:.2f}x); "
          f"<= 150 ms wall at {small['files']} files: {small['checkpoint'] * 1000:.0f} ms; "
          f"restore+check < 1 s at {big['files']} files: {big['restore'] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
