"""`git recover drill`: every scenario detected, recovered and verified byte for byte
in a disposable clone; results journaled; a miss exits non-zero."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from recovery.measure.drill import fixture
from recovery.measure.drill.runner import drill_root, prepare_base, run_scenario
from recovery.measure.drill.sandbox import snapshot
from recovery.measure.drill.scenarios import BY_NAME, Scenario, _failed
from recovery.core.journal import read_events
from recovery.core.repo import Repo
from tests.conftest import GitRepo, run_recover


def _links_available() -> bool:
    try:
        from recovery.links import check  # noqa: F401
    except ImportError:
        return False
    return True


needs_links = pytest.mark.skipif(not _links_available(), reason="recovery.links.check not installed")


def _run(name: str, source: Repo | None = None) -> object:
    with drill_root() as root:
        base = prepare_base(root, source)
        return run_scenario(BY_NAME[name], base, root, 0)


@needs_links
@pytest.mark.parametrize("name", ["corrupted-module", "failing-gate", "hanging-gate", "missing-gate-program",
                                  "large-change-set"])
def test_scenario_is_detected_recovered_and_loses_nothing(name: str) -> None:
    result = _run(name)
    assert result.verdict == "ok", result.error
    assert result.detected and result.evidence
    assert result.lost_paths == () and result.mode_paths == ()
    assert result.rto_s is not None and result.rto_s > 0
    assert result.category == BY_NAME[name].category


@needs_links
@pytest.mark.parametrize("name", ["missing-module", "circular-imports", "cascade"])
def test_link_scenarios_are_detected_by_the_links_gate(name: str) -> None:
    result = _run(name)
    assert result.verdict == "ok", result.error
    assert "gate links failed" in result.evidence


@needs_links
def test_sigkill_lands_inside_the_switch_and_continue_finishes() -> None:
    result = _run("sigkill-restore")
    assert result.verdict == "ok", result.error
    assert "SIGKILLed inside the switch" in result.evidence and "restore --continue finished it" in result.evidence
    assert result.changed_files == BY_NAME["sigkill-restore"].bulk_files


@needs_links
@pytest.mark.skipif(not fixture.unprivileged_available(), reason="needs root and setpriv to run the gate unprivileged")
def test_permission_failure_is_real_under_root() -> None:
    # Root reads any file; the gate runs as uid 65534, so the 000 module really fails it.
    result = _run("permission-error")
    assert result.detected, result.error
    assert "permission denied" in result.evidence.lower()


@needs_links
def test_a_failure_nobody_detects_is_not_counted_as_recovered() -> None:
    silent = Scenario("silent", "quality_gate", "an injection that breaks nothing", "-",
                      inject=lambda inj: None, detected=lambda d: _failed(d, "tests", "regression"))
    with drill_root() as root:
        result = run_scenario(silent, prepare_base(root, None), root, 0)
    assert (result.verdict, result.detected, result.rto_s) == ("undetected", False, None)
    assert "failure not detected (gates: links pass, tests pass, checker pass)" == result.error


@needs_links
@pytest.mark.skipif(shutil.which("setsid") is None, reason="needs setsid(1) to start an escaping process")
def test_a_gate_process_left_running_fails_the_run() -> None:
    escape = Scenario(
        "escape", "quality_gate", "a failing test leaves a daemon behind", "-",
        inject=lambda inj: inj.sandbox.write(
            "recover-drill/tests/test_escape.sh",
            # The gate waits until the daemon is in its own session: killing the
            # gate's group earlier would take the daemon with it (a race under load).
            "#!/bin/sh\nm=$(mktemp -u)\nsetsid sh -c \"touch $m; exec sleep 30\" >/dev/null 2>&1 &\n"
            "while [ ! -f \"$m\" ]; do sleep 0.01; done\nrm -f \"$m\"\n"
            "echo 'regression: expected 4, got 5'\nexit 1\n"),
        detected=lambda d: _failed(d, "tests", "regression"))
    with drill_root() as root:
        result = run_scenario(escape, prepare_base(root, None), root, 0)
    assert result.verdict == "error" and result.detected
    assert "gate processes left running after the gate run" in result.error


@needs_links
def test_drill_outside_a_repository_uses_the_example_project(tmp_path: Path) -> None:
    proc = run_recover(tmp_path, "drill", "--scenario", "failing-gate", "--json")
    data = json.loads(proc.stdout)
    (only,) = data["runs"]
    assert only["verdict"] == "ok" and only["scenario"] == "failing-gate"
    gate = next(r for r in data["report"]["rows"] if r["category"] == "quality_gate")
    assert gate["rto"]["count"] == 1 and gate["status"] == "met"
    assert list(tmp_path.iterdir()) == []  # nothing left behind where it ran


@needs_links
def test_drill_in_a_repository_journals_and_never_touches_the_worktree(repo: GitRepo) -> None:
    repo.write("wip.md", "uncommitted work\n")
    before = snapshot(repo.path)
    refs_before = repo.git("for-each-ref")
    proc = repo.recover("drill", "--scenario", "failing-gate")
    assert re.search(r"^\s+ok  failing-gate\s+RTO", proc.stdout, re.M), proc.stdout
    assert re.search(r"^Quality gate\s+< 120 s\s+1\s.*met$", proc.stdout, re.M), proc.stdout
    assert snapshot(repo.path) == before and repo.git("for-each-ref") == refs_before
    drills = [e for e in read_events(Repo.discover(repo.path)) if e.event == "drill"]
    assert [(e.get("scenario"), e.get("verdict")) for e in drills] == [("failing-gate", "ok")]
    report = repo.recover("report", "--source", "drills").stdout
    assert re.search(r"^Quality gate\s+< 120 s\s+1\s", report, re.M), report


@needs_links
def test_a_missed_target_exits_2(repo: GitRepo) -> None:
    repo.write(".recover.toml", "[metrics.targets]\nquality_gate = 0.000001\n")
    repo.commit_all("tight target")
    proc = repo.recover("drill", "--scenario", "failing-gate", check=False)
    assert proc.returncode == 2
    assert re.search(r"^Quality gate\s+< 1e-06 s\s+1\s.*missed$", proc.stdout, re.M), proc.stdout


def test_scenario_catalogue_covers_every_failure_type_of_the_issue() -> None:
    assert sorted(BY_NAME) == sorted([
        "missing-module", "corrupted-module", "circular-imports", "permission-error", "failing-gate",
        "hanging-gate", "missing-gate-program", "sigkill-restore", "cascade", "large-change-set",
    ])
    from recovery.measure.metrics import DEFAULT_TARGETS_S

    assert {s.category for s in BY_NAME.values()} == set(DEFAULT_TARGETS_S)


@needs_links
def test_a_kill_that_misses_the_switch_is_retried_then_not_measured_never_failed(monkeypatch) -> None:
    from datetime import datetime, timezone

    from recovery.core.journal import Event
    from recovery.measure.drill import runner
    from recovery.measure.metrics import _drill_recovery

    # No wait at all: every kill lands before the restore writes its intent record.
    monkeypatch.setattr(runner, "KILL_WAIT_S", 0.0)
    calls = []
    real_setup = runner._setup
    monkeypatch.setattr(runner, "_setup", lambda *a: calls.append(a[3]) or real_setup(*a))
    result = _run("sigkill-restore")
    assert result.verdict == "not-measured", result.error
    assert calls == ["0", "0-retry1", "0-retry2"]  # retried in fresh clones
    assert "never landed inside the switch" in result.error
    event = Event(datetime.now(timezone.utc), "drill", "main", result.journal_fields())
    assert _drill_recovery(event)[1:] == (0, 0)  # neither lost nor failed
