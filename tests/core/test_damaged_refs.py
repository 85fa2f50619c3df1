"""A damaged checkpoint, an absurd checkpoint name, a restore still running:
each gets a precise answer and leaves every other checkpoint usable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import GitRepo
from tests.core.helpers import checkpoint_refs


def _two_checkpoints(repo: GitRepo) -> tuple[str, str]:
    """Checkpoints #1 and #2 of two different states; their ids."""
    repo.write("README.md", "first\n")
    repo.recover("checkpoint", "-m", "x")
    repo.write("README.md", "second\n")
    repo.recover("checkpoint", "-m", "y")
    listing = json.loads(repo.recover("list", "--json").stdout)
    by_number = {cp["number"]: cp["sha"] for cp in listing}
    return by_number[1], by_number[2]


def _object_file(repo: GitRepo, sha: str) -> Path:
    return repo.path / ".git/objects" / sha[:2] / sha[2:]


@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_a_damaged_checkpoint_commit_is_skipped_and_the_rest_work(repo: GitRepo, damage: str) -> None:
    intact, broken = _two_checkpoints(repo)
    path = _object_file(repo, broken)
    if damage == "missing":
        path.unlink()
    else:
        data = path.read_bytes()
        path.chmod(0o644)
        path.write_bytes(data[:20])
    assert repo.git("cat-file", "-t", broken, check=False) == ""  # the damage landed
    ref = f"refs/recovery/main/cp/{broken}"
    warning = f"remove it with `git update-ref -d {ref}`"

    listed = repo.recover("list", "--json")
    assert [cp["sha"] for cp in json.loads(listed.stdout)] == [intact]
    assert ref in listed.stderr and warning in listed.stderr
    assert len([line for line in listed.stderr.splitlines() if ref in line]) == 1
    status = repo.recover("status")
    assert "newest checkpoint:" in status.stdout and intact[:10] in status.stdout

    verified = repo.recover("verify", check=False)
    assert verified.returncode == 2, verified
    assert f"{ref}: commit missing or corrupt" in verified.stdout
    assert f"{intact[:10]}: " in verified.stdout and "all intact" in verified.stdout

    repo.write("README.md", "third\n")
    repo.recover("checkpoint", "-m", "z")
    restored = repo.recover("restore", "1")
    assert len([line for line in restored.stderr.splitlines() if ref in line]) == 1
    assert repo.read("README.md") == b"first\n"
    repo.recover("gc")
    aborted = repo.recover("restore", "--abort", check=False)
    assert "for-each-ref" not in aborted.stderr and "no interrupted restore" in aborted.stderr
    assert f"{broken} {ref}" in checkpoint_refs(repo)  # never removed behind the user's back
