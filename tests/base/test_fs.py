"""atomic_write, scratch_dir and file_lock: the bytes on disk, the mode, no
leftovers, and a lock another process really cannot take."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from recovery.base.fs import LockBusy, atomic_write, file_lock, scratch_dir


def test_atomic_write_replaces_the_content_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "record.json"
    target.write_text("old")
    atomic_write(target, "new \N{SNOWMAN}")
    assert target.read_bytes() == "new \N{SNOWMAN}".encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record.json"]


def test_atomic_write_sets_an_exact_mode_whatever_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "hook"
    old = os.umask(0o077)
    try:
        atomic_write(target, b"#!/bin/sh\n", mode=0o755)
        atomic_write(tmp_path / "plain", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "plain").stat().st_mode) == 0o600  # 0o666 less the umask


def test_a_failed_rename_keeps_the_old_file_and_removes_the_temp_file(tmp_path: Path) -> None:
    # A directory in the way makes the rename fail after the data was written.
    target = tmp_path / "busy"
    (target / "inside").mkdir(parents=True)
    with pytest.raises(OSError):
        atomic_write(target, b"data")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]
    assert (target / "inside").is_dir()


def test_an_interrupted_write_removes_the_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_scratch_dir_is_private_and_removed_even_on_error(tmp_path: Path) -> None:
    seen: list[Path] = []
    with pytest.raises(RuntimeError):
        with scratch_dir(tmp_path / "tmp", "restore") as path:
            seen.append(path)
            (path / "index").write_bytes(b"DIRC")
            assert stat.S_IMODE(path.stat().st_mode) == 0o700
            assert path.name.startswith(f"restore-{os.getpid()}-")
            raise RuntimeError("boom")
    assert not seen[0].exists()
    assert list((tmp_path / "tmp").iterdir()) == []


def _holder(lock: Path) -> subprocess.Popen[str]:
    """Another process that takes ``lock`` with file_lock and holds it until killed."""
    code = ("import sys, time, pathlib\nfrom recovery.base.fs import file_lock\n"
            f"with file_lock(pathlib.Path({str(lock)!r}), 5):\n    print('held', flush=True)\n    time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_file_lock_excludes_another_process_and_dies_with_a_killed_holder(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    holder = _holder(lock)
    try:
        with pytest.raises(LockBusy):
            with file_lock(lock, 0.2):
                pytest.fail("took a lock another process holds")
    finally:
        holder.kill()
        holder.wait()
    # SIGKILL left the lock file behind, but not the lock.
    assert lock.exists()
    with file_lock(lock, 0.2):
        pass


def test_file_lock_is_reentrant_within_a_process_and_released_after_the_outer_block(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    with file_lock(lock, 0.2):
        with file_lock(lock, 0.2):
            pass
        # Still held after the inner block: another process cannot take it.
        probe = subprocess.run([sys.executable, "-c", "import pathlib, sys\nfrom recovery.base.fs import LockBusy, "
                                f"file_lock\ntry:\n    with file_lock(pathlib.Path({str(lock)!r}), 0.1):\n"
                                "        sys.exit(0)\nexcept LockBusy:\n    sys.exit(7)\n"], check=False)
        assert probe.returncode == 7
    holder = _holder(lock)  # released: another process takes it at once
    holder.kill()
    holder.wait()
