"""SHA-256 repositories: ids 64 hex digits long, their own null id and empty tree."""

from __future__ import annotations

from pathlib import Path

from recovery.core.model import ObjectFormat
from recovery.core.repo import Repo
from tests.conftest import GitRepo


def _sha256_repo(tmp_path: Path, first_commit: bool = True) -> GitRepo:
    repo = GitRepo(tmp_path / "s256")
    repo.path.mkdir()
    repo.git("init", "-q", "-b", "main", "--object-format=sha256")
    if first_commit:
        repo.write("a.txt", "one\n")
        repo.commit_all("first")
    return repo


def test_the_special_ids_are_git_s_own(tmp_path: Path) -> None:
    repo = _sha256_repo(tmp_path)
    fmt = Repo.discover(repo.path).object_format
    assert fmt is ObjectFormat.SHA256 and fmt.hex_len == 64
    assert fmt.empty_tree == repo.git("hash-object", "-t", "tree", "/dev/null")
    assert fmt.null_id == "0" * 64 and fmt.is_id(repo.git("rev-parse", "HEAD"))
    sha1 = GitRepo(tmp_path / "s1")
    sha1.path.mkdir()
    sha1.git("init", "-q")
    assert ObjectFormat.SHA1.empty_tree == sha1.git("hash-object", "-t", "tree", "/dev/null")
    assert Repo.discover(sha1.path).object_format is ObjectFormat.SHA1


def test_checkpoint_restore_and_undo_in_a_sha256_repository(tmp_path: Path) -> None:
    repo = _sha256_repo(tmp_path)
    repo.write("a.txt", "two\n")
    repo.write("new.txt", "untracked\n")
    repo.recover("checkpoint")
    repo.write("a.txt", "lost?\n")
    (repo.path / "new.txt").unlink()
    repo.git("commit", "-qam", "moved on")  # HEAD moves: restore must compare-and-swap with 64-digit ids
    done = repo.recover("restore", "last")
    assert "OK, byte-identical" in done.stdout
    assert repo.read("a.txt") == b"two\n" and repo.read("new.txt") == b"untracked\n"
    repo.recover("undo")
    assert repo.read("a.txt") == b"lost?\n" and not (repo.path / "new.txt").exists()
    # verify re-hashes with SHA-256 here: every object of the checkpoint checks out.
    proc = repo.recover("verify", check=False)
    assert proc.returncode == 0 and "all intact" in proc.stdout, proc.stderr


def test_show_on_an_unborn_branch_diffs_against_the_sha256_empty_tree(tmp_path: Path) -> None:
    repo = _sha256_repo(tmp_path, first_commit=False)
    repo.write("f.txt", "x\n")
    repo.recover("checkpoint")
    shown = repo.recover("show").stdout
    assert "changes against HEAD (1):\n  A f.txt\n" in shown
