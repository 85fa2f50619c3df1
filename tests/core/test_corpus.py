"""Real input: a prompt framework from ../shared/corpora as a repository,
checkpointed, damaged and restored byte for byte."""

from __future__ import annotations

import shutil
from pathlib import Path

from recovery.core.checkpoint import create_checkpoint
from recovery.core.integrity import verify_objects
from recovery.core.repo import Repo
from recovery.core.restore import restore
from tests.conftest import CORPORA, GitRepo, needs_shared
from tests.core.helpers import disk_state, porcelain


def test_modular_prompts_round_trip(tmp_path: Path) -> None:
    source = needs_shared(CORPORA / "modular-prompts-3.0.0")
    path = tmp_path / "framework"
    shutil.copytree(source, path)
    for p in path.rglob("*"):
        if not p.is_symlink():
            p.chmod(0o755 if p.is_dir() else 0o644)  # the shared copy is read-only
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    repo.commit_all("import")
    claude = repo.read("CLAUDE.md")
    repo.write("CLAUDE.md", claude + b"\n@.claude/modules/new-module.md\n")  # work in progress
    repo.write(".claude/modules/new-module.md", "# New module\n")
    r = Repo.discover(path)
    cp = create_checkpoint(r, "manual")
    before, status = disk_state(path), porcelain(repo)

    modules = sorted((path / ".claude").rglob("*.md"))
    assert len(modules) > 100
    for victim in modules[::2]:
        victim.unlink()
    modules[1].write_bytes(b"\xff\xfe\x00 corrupted")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "agent broke the framework")

    result = restore(r, cp)
    assert disk_state(path) == before
    assert porcelain(repo) == status
    assert len(result.changed_paths) >= len(modules) // 2
    report = verify_objects(r, [cp.sha, cp.index_commit, cp.head])
    blobs = {line.split()[2] for line in repo.git("ls-tree", "-r", cp.worktree_tree).splitlines()}
    assert report.ok and report.checked > len(blobs)  # every distinct blob, plus trees and commits
