"""The scripted end-to-end scenario: good commit -> bad merge that
fails a gate -> automatic restore of the last good checkpoint, with timing and the
integrity verdict printed -> ``git recover undo`` brings the bad state back byte
for byte."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import GitRepo
from tests.core.helpers import disk_state
from tests.hooks.helpers import configure, install_hooks, label, no_bad_gate


def test_good_commit_bad_merge_restore_then_undo(repo: GitRepo) -> None:
    configure(repo, no_bad_gate())
    install_hooks(repo)

    # A branch whose commit breaks the gate (committed without verification).
    repo.write("a.py", "x = 1\n")
    repo.commit_all("a")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("a.py", "x = 1  # BAD\n")
    repo.write("docs.txt", "new file from the feature\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "--no-verify", "-m", "bad")
    feature_head = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "main")

    # A good commit: the gate passes in pre-commit, post-commit marks it good.
    repo.write("other.txt", "main moved on\n")
    repo.git("add", "other.txt")
    repo.git("commit", "-q", "-m", "good")
    good_head = repo.git("rev-parse", "HEAD")
    good = label(repo, "good")
    assert good is not None
    assert repo.git("rev-parse", f"{good}^1") == good_head  # the good checkpoint's HEAD
    good_disk = disk_state(repo.path)
    expected_bad_disk = {**good_disk, "a.py": ("-", b"x = 1  # BAD\n"),
                         "docs.txt": ("-", b"new file from the feature\n")}

    # The bad merge (a real merge commit): post-merge runs the gate, which fails.
    proc = subprocess.run(["git", "merge", "--no-ff", "--no-edit", "feature"], cwd=repo.path,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    assert "gate nobad failed (post-merge), detected in" in err
    assert re.search(r"detected in \d+\.\d\d s", err)
    assert re.search(r"restored the last good checkpoint \w+ \(post-commit\) in \d+\.\d\d s "
                     r"\(detection \d+\.\d\d s, integrity check \d+\.\d\d s\): integrity OK, byte-identical", err)
    assert "bring the failing state back with: git recover undo" in err

    # Restored: HEAD, branch, index and worktree exactly as at the good commit.
    assert repo.git("rev-parse", "HEAD") == good_head
    assert repo.git("symbolic-ref", "HEAD") == "refs/heads/main"
    assert disk_state(repo.path) == good_disk
    assert repo.git("status", "--porcelain") == ""
    assert label(repo, "good") == good

    # undo: the merge commit and its files come back byte for byte.
    repo.recover("undo")
    merge = repo.git("rev-parse", "HEAD")
    assert repo.git("log", "-1", "--format=%P", merge) == f"{good_head} {feature_head}"
    assert repo.git("symbolic-ref", "HEAD") == "refs/heads/main"
    assert disk_state(repo.path) == expected_bad_disk
    assert repo.git("status", "--porcelain") == ""
