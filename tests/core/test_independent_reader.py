"""A checkpoint read back by a reader that shares no code with git.

Everything else in the suite reads checkpoints with the real ``git`` command,
the same program that wrote them, so a fault in how git-recover assembles its
trees (the temporary index, the untracked pass, the merge state tree) would be
read back the way it was written. dulwich parses loose objects and packs on its
own (zlib, SHA-1, its own tree and commit parsers), so here it checks, from the
object database alone, that the checkpoint's worktree tree holds every file on
disk byte for byte with its mode, its index tree the staged content, and that
every object hashes to its name.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.conftest import GitRepo

dulwich_repo = pytest.importorskip("dulwich.repo", reason="dulwich (a test dependency) is not installed")
from dulwich.objects import Blob, Commit, Tree  # noqa: E402


def _files_in(store: object, tree_id: bytes, prefix: str = "") -> dict[str, tuple[int, bytes]]:
    """``{path: (mode, content)}`` of every blob and symlink under ``tree_id``, read by dulwich."""
    tree = store[tree_id]  # type: ignore[index]
    assert isinstance(tree, Tree)
    assert tree.id == tree_id and tree.sha().hexdigest().encode() == tree_id  # hashed by dulwich itself
    found: dict[str, tuple[int, bytes]] = {}
    for entry in tree.iteritems():
        path = prefix + entry.path.decode("utf-8", "surrogateescape")
        if stat.S_ISDIR(entry.mode):
            found.update(_files_in(store, entry.sha, path + "/"))
            continue
        blob = store[entry.sha]  # type: ignore[index]
        assert isinstance(blob, Blob) and blob.sha().hexdigest().encode() == entry.sha
        found[path] = (entry.mode, blob.as_raw_string())
    return found


def _on_disk(top: Path) -> dict[str, tuple[int, bytes]]:
    """``{path: (git mode, content)}`` of every file and symlink below ``top`` outside ``.git``."""
    found: dict[str, tuple[int, bytes]] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            full = Path(dirpath) / name
            rel = full.relative_to(top).as_posix()
            info = full.lstat()
            if stat.S_ISLNK(info.st_mode):
                found[rel] = (0o120000, os.readlink(full).encode())
            else:
                found[rel] = (0o100755 if info.st_mode & 0o100 else 0o100644, full.read_bytes())
    return found


def test_a_checkpoint_read_by_dulwich_is_the_disk_byte_for_byte(repo: GitRepo) -> None:
    repo.write(".gitignore", "build/\n")
    repo.write("src/app.py", "print('v1')\n")
    repo.write("bin/run.sh", "#!/bin/sh\necho run\n", mode=0o755)
    repo.write("data/blob.bin", bytes(range(256)) * 64)
    repo.commit_all("base")
    repo.write("src/app.py", "print('staged')\n")
    repo.git("add", "src/app.py")
    repo.write("src/app.py", "print('unstaged, on disk')\n")  # staged and worktree content differ
    repo.write("notes/new file.txt", "untracked, with a space\n")
    repo.write("data/blob.bin", b"\x00binary\xff" * 1000)
    (repo.path / "link").symlink_to("src/app.py")
    repo.write("build/out.o", "ignored: never captured\n")
    (repo.path / "bin/run.sh").unlink()

    cp = json.loads(repo.recover("checkpoint", "--json").stdout)
    store = dulwich_repo.Repo(str(repo.path)).object_store
    commit = store[cp["sha"].encode()]
    assert isinstance(commit, Commit) and commit.tree.decode() == cp["worktree_tree"]

    captured = _files_in(store, cp["worktree_tree"].encode())
    expected = {path: entry for path, entry in _on_disk(repo.path).items() if not path.startswith("build/")}
    assert captured == expected
    assert "build/out.o" not in captured and "bin/run.sh" not in captured

    staged = _files_in(store, cp["index_tree"].encode())
    assert staged["src/app.py"] == (0o100644, b"print('staged')\n")
    assert "notes/new file.txt" not in staged and staged["bin/run.sh"][0] == 0o100755
