"""The journal: durable JSON lines, a lock, rotation, torn lines skipped."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
import time
from datetime import timezone
from pathlib import Path

import pytest

from recovery.core import journal
from recovery.core.repo import Repo
from tests.conftest import GitRepo


def _write_many(toplevel: str, writer: int, count: int) -> None:
    repo = Repo.discover(Path(toplevel))
    for n in range(count):
        journal.record(repo, "checkpoint", writer=writer, n=n, duration_s=0.01)


def test_record_appends_one_json_line_with_utc_time_and_worktree(repo: GitRepo) -> None:
    r = Repo.discover(repo.path)
    journal.record(r, "gate", gate="pytest", status="fail", duration_s=1.25, tree="abc")
    journal.record(r, "restore", phase="end", verdict="ok", path=Path("x/y"))

    lines = (r.state_dir / "journal.jsonl").read_bytes().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["event"] == "gate" and first["worktree"] == "main"
    assert first["duration_s"] == 1.25 and first["status"] == "fail"
    assert json.loads(lines[1])["path"] == "x/y"  # non-JSON values written with str()

    events = journal.read_events(r)
    assert [e.event for e in events] == ["gate", "restore"]
    assert events[0].time.tzinfo is not None
    assert events[0].time.utcoffset() == timezone.utc.utcoffset(None)
    assert events[0].get("gate") == "pytest" and events[1].get("missing", 7) == 7


def test_reserved_field_names_are_refused(repo: GitRepo) -> None:
    with pytest.raises(ValueError, match="time"):
        journal.record(Repo.discover(repo.path), "gate", time="now")


def test_no_journal_reads_as_empty(repo: GitRepo) -> None:
    assert journal.read_events(Repo.discover(repo.path)) == []


def test_torn_last_line_is_skipped_with_a_warning_and_fenced_off(repo: GitRepo) -> None:
    r = Repo.discover(repo.path)
    journal.record(r, "checkpoint", n=1)
    path = r.state_dir / "journal.jsonl"
    with path.open("ab") as handle:  # a crash mid-write: half a line, no newline
        handle.write(b'{"time":"2026-01-01T00:00:00+00:00","event":"chec')
    warnings: list[str] = []
    assert [e.get("n") for e in journal.read_events(r, warnings.append)] == [1]
    assert warnings == ["journal journal.jsonl:2: torn last line skipped"]

    journal.record(r, "checkpoint", n=2)  # must not be glued to the fragment
    warnings.clear()
    assert [e.get("n") for e in journal.read_events(r, warnings.append)] == [1, 2]
    assert warnings == ["journal journal.jsonl:2: unreadable line skipped"]


def test_default_warning_goes_to_stderr(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    r = Repo.discover(repo.path)
    r.state_dir.mkdir(parents=True)
    (r.state_dir / "journal.jsonl").write_bytes(b"[1, 2]\n")
    assert journal.read_events(r) == []
    assert "git-recover: warning: journal journal.jsonl:1: unreadable line skipped" in capsys.readouterr().err


def test_rotation_keeps_n_old_files_and_reads_them_in_order(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal, "MAX_BYTES", 400)
    monkeypatch.setattr(journal, "KEEP_ROTATED", 2)
    r = Repo.discover(repo.path)
    for n in range(40):
        journal.record(r, "checkpoint", n=n, pad="x" * 40)
    names = sorted(p.name for p in r.state_dir.glob("journal.jsonl*"))
    assert names == ["journal.jsonl", "journal.jsonl.1", "journal.jsonl.2"]
    assert all(p.stat().st_size <= 400 for p in r.state_dir.glob("journal.jsonl*"))
    kept = [e.get("n") for e in journal.read_events(r)]
    # The newest events survive, oldest first and contiguous; the oldest were dropped.
    assert kept == list(range(40 - len(kept), 40)) and 0 < len(kept) < 40


def test_concurrent_writers_lose_no_line(repo: GitRepo) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(str(repo.path), w, 40)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    events = journal.read_events(Repo.discover(repo.path), warn=pytest.fail)
    assert sorted((e.get("writer"), e.get("n")) for e in events) == [
        (w, n) for w in range(4) for n in range(40)
    ]


def test_linked_worktree_has_its_own_journal(repo: GitRepo, tmp_path: Path) -> None:
    repo.git("worktree", "add", "-q", str(tmp_path / "wt"), "-b", "side")
    main, linked = Repo.discover(repo.path), Repo.discover(tmp_path / "wt")
    journal.record(linked, "checkpoint")
    assert journal.read_events(main) == []
    assert [e.worktree for e in journal.read_events(linked)] == ["wt-wt"]


def test_writing_the_journal_does_not_import_filelock(tmp_path: Path) -> None:
    # The hooks write the journal on every commit (module docstring); the
    # holder in the next test is filelock itself, so the two locks interoperate.
    code = (f"import sys, pathlib, recovery.core.journal as j; j.append_line(pathlib.Path({str(tmp_path)!r}), b'{{}}\\n'); "
            "print('filelock' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_held_lock_costs_a_short_wait_then_the_event_is_queued_not_lost(
        repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    r = Repo.discover(repo.path)
    journal.record(r, "checkpoint", n=0)
    lock = r.state_dir / journal.LOCK_NAME
    holder = subprocess.Popen(
        [sys.executable, "-c", "import filelock, sys, time\n"
         f"with filelock.FileLock({str(lock)!r}):\n    print('held', flush=True)\n    time.sleep(30)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        journal.record_or_warn(r, "checkpoint", n=1)
        journal.record_or_warn(r, "checkpoint", n=2)
        waited = time.monotonic() - started
        # two events, each waiting LOCK_TIMEOUT_S (0.5 s), not 10 s; room for a loaded machine
        assert waited < 6, waited
        assert "queued" in capsys.readouterr().err
        assert [e.get("n") for e in journal.read_events(r)] == [0, 1, 2]  # readers see queued events
    finally:
        holder.kill()
        holder.wait()
    journal.record(r, "checkpoint", n=3)  # the next writer appends the queue first, in order
    assert [e.get("n") for e in journal.read_events(r)] == [0, 1, 2, 3]
    assert not list((r.state_dir / journal.QUEUE_DIR).glob("*.jsonl"))
    lines = journal.journal_path(r.state_dir).read_bytes().splitlines()
    assert [json.loads(line)["n"] for line in lines] == [0, 1, 2, 3]
