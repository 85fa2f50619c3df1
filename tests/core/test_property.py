"""Property: for random trees and random mutations, checkpoint -> mutate ->
restore gives back every byte and executable bit, the same `git status`, the
ignored files untouched, and a safety checkpoint that holds the mutated state."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recovery.core.checkpoint import create_checkpoint
from recovery.core.refs import get_label
from recovery.core.repo import Repo
from recovery.core.restore import restore, undo
from tests.conftest import GitRepo
from tests.core.helpers import disk_state, porcelain

# Names that stress quoting and encodings: spaces, unicode, leading dashes, dots.
_NAME = st.sampled_from(["a", "b c", "ünï", "-dash", ".hidden", "日本", "x.bin", "tab\tname", "q'uote", "z"])
_PATH = st.lists(_NAME, min_size=1, max_size=3).map("/".join)
_CONTENT = st.one_of(st.binary(max_size=300), st.text(max_size=200).map(str.encode), st.just(b""))
_ENTRY = st.tuples(_PATH, _CONTENT, st.sampled_from(["file", "exec", "link"]))


def _apply(root: Path, entries: list[tuple[str, bytes, str]]) -> None:
    for rel, content, kind in entries:
        target = root / rel
        # a path may need a directory where a file is, or the reverse: make room
        for parent in list(target.parents)[::-1]:
            if parent != root and (parent.is_file() or parent.is_symlink()):
                parent.unlink()
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        if kind == "link":
            os.symlink(content.hex()[:20] or "dangling", target)
        else:
            target.write_bytes(content)
            target.chmod(0o755 if kind == "exec" else 0o644)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    committed=st.lists(_ENTRY, max_size=8),
    worktree=st.lists(_ENTRY, max_size=6),
    staged=st.booleans(),
    mutation=st.lists(_ENTRY, max_size=6),
    deletions=st.integers(min_value=0, max_value=4),
)
def test_round_trip(tmp_path_factory, committed, worktree, staged, mutation, deletions) -> None:
    path = tmp_path_factory.mktemp("prop")
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    repo.write(".gitignore", "*.ign\nignored-dir/\n")
    _apply(path, committed)
    repo.git("add", "-A")
    repo.git("commit", "-q", "--allow-empty", "-m", "base")
    _apply(path, worktree)
    if staged:
        repo.git("add", "-A")
    repo.write("keep.ign", b"ignored\0bytes")
    repo.write("ignored-dir/deep.txt", "ignored too\n")
    r = Repo.discover(path)
    cp = create_checkpoint(r, "manual")
    before, status_before = disk_state(path), porcelain(repo)
    ignored_before = (repo.read("keep.ign"), repo.read("ignored-dir/deep.txt"))

    _apply(path, mutation)
    files = sorted(p for p in before if not p.endswith(".ign") and not p.startswith("ignored-dir/") and p != ".gitignore")
    for rel in files[:deletions]:
        target = path / rel
        if target.is_symlink() or target.is_file():
            target.unlink()
    subprocess.run(["git", "add", "-A"], cwd=path, capture_output=True)  # a bad state, staged
    mutated = disk_state(path)

    result = restore(r, cp)

    assert disk_state(path) == before
    assert porcelain(repo) == status_before
    assert (repo.read("keep.ign"), repo.read("ignored-dir/deep.txt")) == ignored_before
    assert result.safety is not None
    if get_label(r, "undo") is None:  # the mutation changed nothing a restore could change
        assert mutated == before
    else:
        undo(r)
        assert disk_state(path) == mutated
