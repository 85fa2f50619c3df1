"""A checkpoint reported as written survives a power cut: every object it needs
and its ref reach the disk (fsync) before the ref is published, and the ref's
directory is synced after. Observed with strace on the real processes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import GitRepo

_CALL = re.compile(r"^(\d+) +(\w+)\((.*)\) = (-?\d+)")
_FD_PATH = re.compile(r"^\d+<(.*)>")
_OBJECT = re.compile(r"/objects/[0-9a-f]{2}/[0-9a-f]{38}$")


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_objects_and_ref_are_synced_before_the_checkpoint_is_published(repo: GitRepo, tmp_path: Path) -> None:
    repo.write("README.md", "edited\n")
    repo.write("new/file.txt", "untracked\n")
    log = tmp_path / "strace.log"
    subprocess.run(["strace", "-f", "--seccomp-bpf", "-y", "-qq", "-o", str(log),
                    "-e", "trace=fsync,fdatasync,sync_file_range,link,linkat,rename,renameat,renameat2",
                    sys.executable, "-P", "-m", "recovery", "checkpoint"], cwd=repo.path, check=True,
                   capture_output=True)
    ref = repo.git("for-each-ref", "--format=%(refname)", "refs/recovery/main/cp/")
    assert ref.startswith("refs/recovery/main/cp/")
    synced: set[str] = set()       # files fsynced so far
    bulk_flushed: set[str] = set()  # git's batch-mode directories whose flush fsync ran
    objects_placed = 0
    ref_published = ref_dir_synced = False
    for line in log.read_text().splitlines():
        match = _CALL.match(line)
        if not match or match.group(4).startswith("-"):
            continue
        call, args = match.group(2), match.group(3)
        if call in ("fsync", "fdatasync"):
            path = _FD_PATH.match(args)
            assert path, line
            synced.add(path.group(1))
            if "/bulk_fsync_" in path.group(1):
                bulk_flushed.add(path.group(1).rsplit("/", 1)[0])
            if ref_published and path.group(1) == str(repo.path / ".git/refs/recovery/main/cp"):
                ref_dir_synced = True
        elif call in ("link", "rename", "linkat", "renameat", "renameat2"):
            source, target = re.findall(r'"([^"]*)"', args)[:2]
            if _OBJECT.search(target) and "tmp_objdir" not in target:
                assert not ref_published, f"object written after the ref: {line}"
                bulk = re.search(r"(.*/tmp_objdir-bulk-fsync-[^/]+)/", source)
                assert (bulk and bulk.group(1) in bulk_flushed) or source in synced, \
                    f"object placed before it was synced: {line}"
                objects_placed += 1
            elif target == str(repo.path / ".git" / ref):
                assert source + "" in synced, "the ref's lock file was not synced before its rename"
                ref_published = True
    assert objects_placed >= 3  # at least the blob, the tree and the checkpoint commits
    assert ref_published and ref_dir_synced
