"""The failure cases in ../shared/cases/, each turned into its guarantee
(checkpoint and restore parts; the hook parts of 01 and 08 live in tests/hooks/).
An extra: every headline guarantee is also tested on repositories built in this
repository (tests/core/test_guarantees.py, whose checks 02, 05 and 07 reuse)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from recovery.core.checkpoint import create_checkpoint
from recovery.core.refs import list_checkpoints
from recovery.core.repo import Repo
from recovery.core.restore import restore
from tests.conftest import CASES, GitRepo, needs_shared
from tests.core.test_guarantees import check_all_or_nothing, check_conflict_round_trip, check_racing_writer


def build_case(name: str, path: Path) -> GitRepo:
    """Run the case script ``name`` to build its repository at ``path``."""
    script = needs_shared(CASES / name)
    subprocess.run(["bash", str(script), str(path)], check=True, capture_output=True)
    return GitRepo(path)


def test_01_unstaged_edit_survives_in_checkpoint(tmp_path: Path) -> None:
    repo = build_case("01-unstaged-edit-and-failing-gate.sh", tmp_path / "c1")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "pre-commit")
    unstaged = b"y = 2\n'''unstaged work'''\n"
    assert repo.git("cat-file", "blob", f"{cp.worktree_tree}:b.py").encode() + b"\n" == unstaged
    assert repo.git("cat-file", "blob", f"{cp.index_tree}:a.py") == "x = 1  # BAD"
    repo.git("stash", "-q")  # a tool that loses the edit
    assert repo.read("b.py") == b"y = 2\n"
    restore(r, cp)
    assert repo.read("b.py") == unstaged
    assert repo.git("diff", "--cached", "--name-only") == "a.py"


def test_02_interrupted_checkpoint_is_all_or_nothing(tmp_path: Path) -> None:
    repo = build_case("02-interrupt-during-checkpoint.sh", tmp_path / "c2")
    check_all_or_nothing(repo, 3000 + 200, "new/u7.txt")


def test_03_ignored_inside_untracked_is_never_captured_or_touched(tmp_path: Path) -> None:
    repo = build_case("03-ignored-under-untracked.sh", tmp_path / "c3")
    blob = repo.read("vendor/cache/blob.bin")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    names = repo.git("ls-tree", "-r", "--name-only", cp.worktree_tree).splitlines()
    assert "vendor/notes.txt" in names and not any(n.startswith("vendor/cache") for n in names)
    repo.write("tracked.txt", "v2\n")
    (repo.path / "vendor/notes.txt").unlink()
    restore(r, cp)
    assert repo.read("vendor/cache/blob.bin") == blob
    assert repo.read("vendor/notes.txt") == b"mine\n"
    assert repo.read("tracked.txt") == b"v1\n"


def test_04_nested_repo_without_commits_never_gives_a_stale_checkpoint(tmp_path: Path) -> None:
    repo = build_case("04-nested-repo-without-commits.sh", tmp_path / "c4")
    proc = repo.recover("checkpoint")
    assert "sub/ is a nested repository without commits" in proc.stderr
    cp = list_checkpoints(Repo.discover(repo.path))[0]
    assert repo.git("cat-file", "blob", f"{cp.worktree_tree}:file.txt") == "v2"
    assert [(s.path, s.reason) for s in cp.skipped] == [("sub", "nested-repo-without-commits")]
    repo.write("file.txt", "v3\n")
    restore(Repo.discover(repo.path), cp)
    assert repo.read("file.txt") == b"v2\n" and repo.read("sub/inner.txt") == b"inner\n"


def test_05_merge_conflict_round_trips_with_stages_and_merge_head(tmp_path: Path) -> None:
    check_conflict_round_trip(build_case("05-merge-conflict-in-progress.sh", tmp_path / "c5"))


def test_06_large_untracked_file_is_skipped_loudly_and_never_deleted(tmp_path: Path) -> None:
    repo = build_case("06-large-untracked-file.sh", tmp_path / "c6")
    big = (repo.path / "big.bin").stat().st_size
    proc = repo.recover("checkpoint")
    assert "big.bin" in proc.stderr and "recover.maxUntrackedSize" in proc.stderr
    r = Repo.discover(repo.path)
    cp = list_checkpoints(r)[0]
    assert [(s.path, s.size_bytes) for s in cp.skipped] == [("big.bin", big)]
    repo.write("small.txt", "v3\n")
    restore(r, cp)
    assert (repo.path / "big.bin").stat().st_size == big
    assert repo.read("small.txt") == b"v2\n"
    repo.git("config", "recover.maxUntrackedSize", "100m")
    cp2 = create_checkpoint(r, "manual")
    assert cp2.skipped == ()
    assert repo.git("cat-file", "-s", f"{cp2.worktree_tree}:big.bin") == str(big)


def test_07_file_rewritten_during_checkpoints(tmp_path: Path) -> None:
    repo = build_case("07-file-rewritten-during-checkpoint.sh", tmp_path / "c7")
    check_racing_writer(repo, ["bash", "writer.sh"], endless=False)  # the case's writer stops after 30 s


def test_08_restore_after_amend_puts_branch_on_the_user_commit(tmp_path: Path) -> None:
    repo = build_case("08-amend-then-restore.sh", tmp_path / "c8")
    before = repo.git("rev-parse", "main")
    notes = repo.read("notes.txt")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "pre-commit")
    repo.git("commit", "-q", "--amend", "-am", "amended")
    restore(r, cp)
    assert repo.git("rev-parse", "main") == before
    assert repo.git("symbolic-ref", "HEAD") == "refs/heads/main"
    assert repo.read("notes.txt") == notes
    tips = set(repo.git("for-each-ref", "--format=%(objectname)", "refs/heads/").splitlines())
    assert not tips & {c.sha for c in list_checkpoints(r)}
