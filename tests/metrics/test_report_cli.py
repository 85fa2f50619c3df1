"""`git recover report`: text, --json, --html and --check from a real journal."""

from __future__ import annotations

import json
import os
import re
import uuid

from recovery.core.checkpoint import create_checkpoint
from recovery.core.journal import record
from recovery.core.refs import resolve
from recovery.core.repo import Repo
from recovery.core.restore import restore
from tests.conftest import GitRepo


def _real_incident(repo: GitRepo) -> str:
    """A failure journaled against a real checkpoint, then a real verified restore."""
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.write("README.md", "broken\n")
    incident = uuid.uuid4().hex
    record(r, "failure", incident=incident, kind="gate:pytest", stage="pre-commit",
           checkpoint=cp.short, rpo_s=1.0, rpo_files=1)
    restore(r, resolve(r, cp.short), incident=incident)
    assert repo.read("README.md") == b"hello\n"
    return incident


def test_text_report_measures_a_real_restore(repo: GitRepo) -> None:
    _real_incident(repo)
    out = repo.recover("report").stdout
    assert re.search(r"^Quality gate\s+< 120 s\s+1\s", out, re.M), out
    assert re.search(r"^Atomic rollback\s+< 60 s\s+1\s.*met$", out, re.M), out
    assert "Restores: 1 ok, 0 failed" in out
    assert re.search(r"^MTTR: \d+\.\d+ s over 1 recovered failure$", out, re.M), out
    assert "Data-loss events: 0 (must be 0)" in out


def test_restores_asked_for_are_no_recovered_failures(repo: GitRepo) -> None:
    """Two restores nobody's failure asked for: timed as atomic rollbacks, and
    the MTTR line says so rather than "over 0 recovered failures" under them."""
    repo.write("f.txt", "v1\n")
    repo.recover("checkpoint")
    for content in ("v2\n", "v3\n"):
        repo.write("f.txt", content)
        repo.recover("restore", "last")
    out = repo.recover("report").stdout
    assert re.search(r"^Atomic rollback\s+< 60 s\s+2\s", out, re.M), out
    assert ("MTTR: no detected failure recovered yet (every verified restore, asked for or not, is timed under "
            "Atomic rollback)") in out


def test_json_report_is_parseable_and_consistent(repo: GitRepo) -> None:
    incident = _real_incident(repo)
    data = json.loads(repo.recover("report", "--json").stdout)
    gate = next(r for r in data["rows"] if r["category"] == "quality_gate")
    assert gate["rto"]["count"] == 1 and gate["rto"]["max_s"] > 0
    assert [r["ref"] for r in data["recoveries"] if r["category"] == "quality_gate"] == [incident]
    assert data["ok"] is True and data["restores"]["ok"] == 1


def test_targets_come_from_the_project_config_and_check_fails_on_a_miss(repo: GitRepo) -> None:
    _real_incident(repo)
    repo.write(".recover.toml", "[metrics.targets]\nquality_gate = 0.000001\n")
    proc = repo.recover("report", "--check", check=False)
    assert proc.returncode == 2
    assert re.search(r"^Quality gate\s+< 1e-06 s.*missed$", proc.stdout, re.M), proc.stdout
    assert repo.recover("report", check=False).returncode == 0  # without --check: informational

    repo.write(".recover.toml", "[metrics.targets]\nquality_gaet = 5\n")
    bad = repo.recover("report", check=False)
    assert bad.returncode == 3 and ".recover.toml: metrics.targets.quality_gaet: unknown failure type" in bad.stderr


def test_html_page_is_self_contained(repo: GitRepo) -> None:
    _real_incident(repo)
    page = repo.path.parent / "report.html"
    proc = repo.recover("report", "--html", str(page))
    html = page.read_text(encoding="utf-8")
    assert f"wrote {page}" in proc.stderr
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == 6
    assert "<circle" in html and "Quality gate" in html
    # No network: nothing is fetched, no script runs.
    assert not re.search(r"<script|<link|src=|href=|@import|url\(", html)


def test_torn_journal_warns_and_still_reports(repo: GitRepo) -> None:
    _real_incident(repo)
    journal = Repo.discover(repo.path).state_dir / "journal.jsonl"
    with journal.open("ab") as handle:
        handle.write(b'{"time":"2026-')
    proc = repo.recover("report")
    assert "warning: journal journal.jsonl:" in proc.stderr and "torn last line skipped" in proc.stderr
    assert "Restores: 1 ok" in proc.stdout


def test_empty_journal_reports_no_data(repo: GitRepo) -> None:
    out = repo.recover("report").stdout
    assert "empty journal" in out and out.count("no data") == 7  # six failure types and the session state
    assert "Session state RPO (target < 60 s): no data (run `git recover drill`)" in out


def test_a_field_with_bytes_that_are_not_utf8_is_journalled_and_read_back(repo: GitRepo) -> None:
    """git names paths raw in its messages, and an error event carries the
    message: a byte that is not UTF-8 (a surrogate escape here) failed the
    journal write with a traceback instead of recording the event."""
    from recovery.core.journal import read_events

    r = Repo.discover(repo.path)
    message = "git add failed: " + os.fsdecode(b"caf\xe9") + ": Permission denied"
    assert record(r, "error", stage="pre-commit", error=message)
    assert read_events(r)[-1].fields["error"] == message
    assert b"\\udce9" in (r.state_dir / "journal.jsonl").read_bytes()
