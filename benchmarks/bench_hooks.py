"""Benchmark of the hook overhead of a commit: a one-file commit in a
repository of 1,000 tracked files, with git-recover's hooks installed and no gates
configured, against the same commit without hooks. Target: at most 150 ms added.

    .venv/bin/python benchmarks/bench_hooks.py            # 15 commits each, prints a table
    .venv/bin/python benchmarks/bench_hooks.py --runs 30 --files 1000

With hooks, a commit pays for: one ``sh`` and one Python start per hook git runs
(pre-commit, post-commit), the pre-commit checkpoint (a capture of the worktree
and a ref), and reading the gate configuration. Times are medians of whole
``git commit`` processes, the way a user waits for them; the two series are
interleaved so machine noise hits both alike. The hooks run this interpreter
(``git recover install`` writes it into them), so PATH does not matter.

Exit status 1 if the target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_ADDED_MS = 150.0


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(path: Path, files: int) -> None:
    """A repository with ``files`` small tracked files in 20 directories, one commit."""
    path.mkdir(parents=True)
    _git(path, "init", "-q", "-b", "main")
    for key, value in (("user.name", "bench"), ("user.email", "bench@example.com"), ("commit.gpgsign", "false")):
        _git(path, "config", key, value)
    for i in range(files):
        target = path / f"dir{i % 20:02d}" / f"file{i:04d}.txt"
        target.parent.mkdir(exist_ok=True)
        target.write_text(f"line {i}\n" * 20)
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "base")


def time_commit(path: Path, n: int) -> float:
    """Seconds for one ``git commit -a`` of a changed file."""
    (path / "dir00" / "file0000.txt").write_text(f"change {n}\n")
    started = time.perf_counter()
    subprocess.run(["git", "commit", "-q", "-a", "-m", f"change {n}"], cwd=path, check=True,
                   capture_output=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="commits measured per series")
    parser.add_argument("--files", type=int, default=1000, help="tracked files in the repository")
    args = parser.parse_args()
    env_home = tempfile.mkdtemp(prefix="bench-hooks-home-")
    os.environ.update(HOME=env_home, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    with tempfile.TemporaryDirectory(prefix="bench-hooks-") as tmp:
        plain, hooked = Path(tmp) / "plain", Path(tmp) / "hooked"
        make_repo(plain, args.files)
        make_repo(hooked, args.files)
        subprocess.run([sys.executable, "-m", "recovery", "install"], cwd=hooked, check=True, capture_output=True)
        for warm in range(2):  # page cache, first-import byte-compilation
            time_commit(plain, -1 - warm)
            time_commit(hooked, -1 - warm)
        without, with_hooks = [], []
        for n in range(args.runs):
            without.append(time_commit(plain, n))
            with_hooks.append(time_commit(hooked, n))
    base_ms = statistics.median(without) * 1000
    hooked_ms = statistics.median(with_hooks) * 1000
    added_ms = hooked_ms - base_ms
    ok = added_ms <= TARGET_ADDED_MS
    print(f"hook overhead of `git commit -a` ({args.files} files, {args.runs} commits each, medians)")
    print(f"{'case':<34}{'median ms':>10}{'p90 ms':>10}")
    print(f"{'git commit, no hooks':<34}{base_ms:>10.1f}{_p90(without):>10.1f}")
    print(f"{'git commit, git-recover hooks':<34}{hooked_ms:>10.1f}{_p90(with_hooks):>10.1f}")
    print(f"{'added by the hooks':<34}{added_ms:>10.1f}")
    print(f"target: <= {TARGET_ADDED_MS:.0f} ms added: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


def _p90(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=10)[-1] * 1000


if __name__ == "__main__":
    sys.exit(main())
