"""The hook parts of the shared failure cases 01 and 08: each script builds the
repository, then the test asserts the case's stated guarantee on bytes and refs."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import CASES, GitRepo, needs_shared
from tests.hooks.helpers import checkpoints_by_reason, configure, install_hooks, no_bad_gate


def _case(name: str, path: Path) -> GitRepo:
    script = needs_shared(CASES / name)
    subprocess.run(["bash", str(script), str(path)], check=True, capture_output=True)
    return GitRepo(path)


def _show(repo: GitRepo, spec: str) -> bytes:
    return subprocess.run(["git", "show", spec], cwd=repo.path, capture_output=True, check=True).stdout


def test_case_01_unstaged_edit_and_failing_gate(tmp_path: Path) -> None:
    """Guarantee: the commit is refused, AND b.py's unstaged edit is byte for byte on
    disk and in a checkpoint that `git recover list` shows and `restore` brings back."""
    repo = _case("01-unstaged-edit-and-failing-gate.sh", tmp_path / "case01")
    unstaged = repo.read("b.py")
    head = repo.git("rev-parse", "HEAD")
    configure(repo, no_bad_gate(), commit=False)
    repo.git("add", ".recover.toml")
    install_hooks(repo)

    proc = subprocess.run(["git", "commit", "-m", "bad"], cwd=repo.path, capture_output=True, text=True,
                          check=False)
    assert proc.returncode != 0
    assert repo.git("rev-parse", "HEAD") == head
    assert repo.read("b.py") == unstaged
    assert repo.git("diff", "--cached", "--name-only") == ".recover.toml\na.py"

    checkpoint = checkpoints_by_reason(repo, "pre-commit")[0]
    assert checkpoint[:10] in repo.recover("list").stdout
    assert _show(repo, f"{checkpoint}:b.py") == unstaged
    repo.write("b.py", "overwritten\n")
    repo.recover("restore", checkpoint)
    assert repo.read("b.py") == unstaged


def test_case_08_amend_then_restore(tmp_path: Path) -> None:
    """Guarantee: after `commit --amend` and a restore of the checkpoint taken before
    it, main is exactly the pre-amend commit, HEAD is attached to main, the unstaged
    edit of notes.txt is back, and no checkpoint commit ever became a branch tip."""
    repo = _case("08-amend-then-restore.sh", tmp_path / "case08")
    pre_amend = repo.git("rev-parse", "main")
    notes = repo.read("notes.txt")
    install_hooks(repo)

    repo.git("commit", "-q", "--amend", "-am", "amended")
    assert repo.git("rev-parse", "main") != pre_amend
    before = checkpoints_by_reason(repo, "pre-commit")[0]
    assert repo.git("rev-parse", f"{before}^1") == pre_amend

    repo.write("notes.txt", "edited after the amend\n")
    repo.recover("restore", before)
    assert repo.git("rev-parse", "main") == pre_amend
    assert repo.git("symbolic-ref", "HEAD") == "refs/heads/main"
    assert repo.read("notes.txt") == notes
    assert _show(repo, ":notes.txt") == b"one\ntwo\n"  # the staged version is the pre-amend one

    checkpoint_commits = set(repo.git("for-each-ref", "--format=%(objectname)", "refs/recovery/").split())
    for sha in list(checkpoint_commits):
        checkpoint_commits.update(repo.git("log", "-1", "--format=%P", sha).split()[1:])  # index commits
    tips = set(repo.git("for-each-ref", "--format=%(objectname)", "refs/heads/").split())
    reflog = set(repo.git("reflog", "--format=%H", "main").split())
    assert not tips & checkpoint_commits
    assert not reflog & checkpoint_commits
