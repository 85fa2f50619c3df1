"""The pass cache (a passed gate is not re-run on the same tree with the same
definition) and the tdd built-in run by hand."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from tests.conftest import GitRepo
from tests.hooks.helpers import configure, python_gate


def _counting_gate(counter: Path, exit_code: int = 0, extra: str = "") -> str:
    code = f"open({str(counter)!r}, 'a').write('run\\n'); raise SystemExit({exit_code}){extra}"
    return python_gate("count", code)


def _runs(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def test_same_tree_is_not_tested_twice(repo: GitRepo, tmp_path: Path) -> None:
    counter = tmp_path / "count.log"  # outside the worktree, so it does not change the tree
    configure(repo, _counting_gate(counter))
    repo.recover("gates", "run")
    out = repo.recover("gates", "run").stdout
    assert _runs(counter) == 1
    assert "cached" in out.splitlines()[1]

    repo.write("new.txt", "a different tree\n")  # untracked files are part of the tree
    repo.recover("gates", "run")
    assert _runs(counter) == 2

    repo.recover("gates", "run", "--no-cache")
    assert _runs(counter) == 3


def test_a_new_definition_misses(repo: GitRepo, tmp_path: Path) -> None:
    """Same tree: a new timeout keeps the cached pass (it does not change the result);
    a new command (a git config override here, so the tree stays the same) misses."""
    counter = tmp_path / "count.log"
    configure(repo, _counting_gate(counter))
    repo.recover("gates", "run")
    repo.git("config", "recover.gate.count.timeout", "99")
    repo.recover("gates", "run")
    assert _runs(counter) == 1
    code = f"open({str(counter)!r}, 'a').write('v2\\n')"
    repo.git("config", "recover.gate.count.command", shlex.join([sys.executable, "-c", code]))
    repo.recover("gates", "run")
    assert counter.read_text().splitlines() == ["run", "v2"]


def test_failures_are_cached_like_passes(repo: GitRepo, tmp_path: Path) -> None:
    """A gate runs once per tree: its failure is kept too, with its reason and
    output, and exits 2 every time; --no-cache runs it afresh."""
    counter = tmp_path / "count.log"
    configure(repo, _counting_gate(counter, exit_code=1))
    first = repo.recover("gates", "run", check=False)
    again = repo.recover("gates", "run", check=False)
    assert (first.returncode, again.returncode) == (2, 2)
    assert _runs(counter) == 1
    assert "cached fail" in again.stdout and "exit 1" in again.stdout
    assert repo.recover("gates", "run", "--no-cache", check=False).returncode == 2
    assert _runs(counter) == 2


def test_timeouts_are_not_cached(repo: GitRepo, tmp_path: Path) -> None:
    counter = tmp_path / "count.log"
    code = f"open({str(counter)!r}, 'a').write('run\\n'); import time; time.sleep(30)"
    configure(repo, python_gate("slow", code, timeout=0.5))
    assert repo.recover("gates", "run", check=False).returncode == 2
    assert repo.recover("gates", "run", check=False).returncode == 2
    assert _runs(counter) == 2


def test_tdd_by_hand_compares_the_worktree_with_head(repo: GitRepo) -> None:
    configure(repo, '[gates.tdd]\nbuiltin = "tdd"\nsources = ["lib/**/*.py"]\ntests = ["tests/**"]\n')
    repo.write("lib/a.py", "A = 1\n")
    proc = repo.recover("gates", "run", check=False)
    assert proc.returncode == 2
    assert "1 source file(s) changed without a test change: lib/a.py" in proc.stdout
    repo.write("tests/test_a.py", "def test_a():\n    pass\n")
    assert repo.recover("gates", "run").returncode == 0
