"""Drill sandboxes: disposable clones and the byte-level snapshots."""

from __future__ import annotations

import os

from recovery.measure.drill.runner import drill_root
from recovery.measure.drill.sandbox import blob_id, clone, differences, snapshot, tree_blobs
from recovery.core.repo import Repo
from tests.conftest import GitRepo


def test_blob_id_is_gits_own(repo: GitRepo) -> None:
    data = b"caf\xc3\xa9\x00binary\n"
    repo.write("x.bin", data)
    assert blob_id(data) == repo.git("hash-object", "x.bin")


def test_snapshot_matches_the_committed_tree_and_skips_dot_git(repo: GitRepo) -> None:
    repo.write("docs/a.md", "alpha\n")
    repo.write("run.sh", "#!/bin/sh\n", mode=0o755)
    os.symlink("docs/a.md", repo.path / "link")
    repo.commit_all("files")
    snap = snapshot(repo.path)
    assert not any(p.startswith(".git/") for p in snap)
    tree = tree_blobs(Repo.discover(repo.path), repo.git("rev-parse", "HEAD^{tree}"))
    assert {p: s.blob for p, s in snap.items()} == tree
    assert snap["run.sh"].mode & 0o111 and snap["link"].size_bytes == len("docs/a.md")


def test_differences_sees_bytes_presence_and_modes(repo: GitRepo) -> None:
    before = snapshot(repo.path)
    repo.write("README.md", "hello!\n")
    repo.write("new.txt", "n\n")
    assert differences(before, snapshot(repo.path)) == ["README.md", "new.txt"]
    repo.write("README.md", "hello\n")
    (repo.path / "new.txt").unlink()
    (repo.path / "README.md").chmod(0)
    assert differences(before, snapshot(repo.path), check_mode=False) == []
    assert differences(before, snapshot(repo.path)) == ["README.md"]


def test_clone_is_disposable_and_leaves_the_source_alone(repo: GitRepo) -> None:
    repo.write("wip.txt", "uncommitted work\n")
    source_before = snapshot(repo.path)
    old_umask = os.umask(0o077)  # a private umask must not hide the clone from an unprivileged gate
    try:
        with drill_root() as root:
            box = clone(repo.path, root / "box")
            box.write("README.md", "changed in the clone\n")
            box.commit_all("drill change")
            assert snapshot(repo.path) == source_before
            assert not (box.top / "wip.txt").exists()  # only committed history is cloned
            assert box.repo.toplevel == root / "box"
            assert root.stat().st_mode & 0o005 == 0o005
            assert (box.top / "README.md").stat().st_mode & 0o004
        assert not root.exists()
    finally:
        assert os.umask(old_umask) == 0o077  # drill_root put the caller's umask back
