"""RTO, RPO, MTTR and the target table computed from journal events."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from recovery.base.errors import UsageError
from recovery.core.journal import Event
from recovery.measure.metrics import DEFAULT_TARGETS_S, build_report, category_of, load_targets

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def ev(offset_s: float, name: str, **fields: Any) -> Event:
    return Event(T0 + timedelta(seconds=offset_s), name, "main", fields)


def incident(at_s: float, inc: str, kind: str, rto_s: float, restore_s: float = 0.5,
             rpo_s: float = 30.0, rpo_files: int = 2) -> list[Event]:
    """A failure detected at ``at_s`` and a verified restore ending ``rto_s`` later."""
    return [
        ev(at_s, "failure", incident=inc, kind=kind, stage="pre-commit", rpo_s=rpo_s, rpo_files=rpo_files),
        ev(at_s + rto_s - restore_s, "restore", phase="start", incident=inc, target="c1"),
        ev(at_s + rto_s, "restore", phase="end", incident=inc, target="c1", duration_s=restore_s,
           verify_s=0.1, verdict="ok"),
    ]


def row(report: Any, key: str) -> Any:
    return next(r for r in report.rows if r.category == key)


def test_rto_runs_from_detection_to_the_verified_restore_of_the_same_incident() -> None:
    events = incident(0, "a", "gate:pytest", rto_s=8.0) + incident(100, "b", "links", rto_s=3.0)
    report = build_report(events)
    gate, links, rollback = row(report, "quality_gate"), row(report, "link_resolution"), row(report, "atomic_rollback")
    assert (gate.rto.count, gate.rto.max_s) == (1, pytest.approx(8.0))
    assert (links.rto.count, links.rto.max_s) == (1, pytest.approx(3.0))
    # Rollbacks are the restores themselves: switch plus integrity check.
    assert rollback.rto.count == 2 and rollback.rto.max_s == pytest.approx(0.6)
    assert report.mttr_s == pytest.approx(5.5)  # mean of 8 and 3; rollbacks excluded
    assert row(report, "full_system").status == "no data"
    assert report.open_incidents == ()


def test_median_p95_max_over_many_incidents() -> None:
    rtos = [float(n) for n in range(1, 21)]
    events = [e for i, r in enumerate(rtos) for e in incident(i * 100, f"i{i}", "gate:x", r)]
    stats = row(build_report(events), "quality_gate").rto
    assert stats.count == 20
    assert stats.median_s == pytest.approx(statistics.median(rtos))
    assert stats.p95_s == pytest.approx(19.05)  # rank 0.95 * 19 = 18.05 between 19 s and 20 s
    assert stats.max_s == pytest.approx(20.0)
    assert stats.mean_s == pytest.approx(10.5)


def test_status_compares_the_maximum_with_the_target() -> None:
    events = incident(0, "a", "links", rto_s=10.0) + incident(50, "b", "links", rto_s=31.0)
    assert row(build_report(events), "link_resolution").status == "missed"
    report = build_report(events, {**DEFAULT_TARGETS_S, "link_resolution": 40.0})
    assert row(report, "link_resolution").status == "met" and report.ok


def test_rpo_falls_back_to_the_failure_events_of_older_journals() -> None:
    events = incident(0, "a", "links", 2.0, rpo_s=10.0, rpo_files=1) + incident(9, "b", "links", 2.0, rpo_s=50.0,
                                                                              rpo_files=7)
    report = build_report(events)
    assert report.rpo_age.median_s == pytest.approx(30.0) and report.rpo_age.max_s == pytest.approx(50.0)
    assert report.rpo_files.max_s == 7 and report.rpo_files.count == 2


def test_failed_continued_aborted_and_interrupted_restores_are_counted() -> None:
    events = [
        ev(0, "failure", incident="k", kind="gate:pytest", rpo_s=1.0, rpo_files=0),
        ev(1, "restore", phase="start", incident="k", target="c1"),  # killed here
        ev(5, "restore", phase="resume", action="continue", incident="k", target="c1"),
        ev(7, "restore", phase="end", incident="k", target="c1", duration_s=1.0, verify_s=0.5, verdict="ok"),
        ev(10, "restore", phase="start", target="c2"),
        ev(11, "restore", phase="end", target="c2", verdict="mismatch", duration_s=1.0, verify_s=0.1),
        ev(20, "restore", phase="start", target="c3"),
        ev(21, "restore", phase="resume", action="abort", target="c3"),
        ev(22, "restore", phase="end", target="c3", verdict="ok", duration_s=0.2, verify_s=0.1),
        ev(30, "restore", phase="start", target="c4"),  # killed, never continued
    ]
    report = build_report(events)
    r = report.restores
    assert (r.ok, r.failed, r.continued, r.aborted, r.interrupted) == (2, 1, 1, 1, 1)
    assert row(report, "quality_gate").rto.max_s == pytest.approx(7.0)  # includes the --continue


def test_a_failure_without_a_verified_restore_stays_open() -> None:
    events = [
        ev(0, "failure", incident="x", kind="links"),
        ev(1, "restore", phase="start", incident="x", target="c"),
        ev(2, "restore", phase="end", incident="x", target="c", verdict="error", error="boom"),
    ]
    report = build_report(events)
    assert report.open_incidents == ("x",)
    assert row(report, "link_resolution").rto.count == 0


def test_data_loss_and_failed_drills_make_the_report_fail() -> None:
    drills = [
        ev(0, "drill", scenario="missing-module", category="module_recovery", verdict="ok", detected=True,
           rto_s=1.5, rpo_s=0.2, rpo_files=1, lost_paths=[]),
        ev(5, "drill", scenario="hanging-gate", category="quality_gate", verdict="undetected", detected=False,
           lost_paths=[]),
    ]
    report = build_report(drills)
    assert row(report, "module_recovery").rto.max_s == pytest.approx(1.5)
    assert report.recoveries[0].source == "drill"
    assert report.failed_drills == 1 and not report.ok
    hanging = row(report, "quality_gate")
    assert (hanging.status, hanging.failed_runs, hanging.rto.count) == ("missed", 1, 0)
    assert report.drill_failures == ("hanging-gate: undetected: ",)
    assert build_report(drills[:1]).ok

    lost = build_report([ev(0, "drill", scenario="large-change-set", category="atomic_rollback", verdict="lost",
                            detected=True, rto_s=2.0, lost_paths=["a.md"]), ev(1, "data_loss", paths=["b"])])
    assert lost.data_loss_events == 2 and not lost.ok


def test_source_separates_incidents_from_drills() -> None:
    events = incident(0, "a", "links", 2.0) + [
        ev(10, "drill", scenario="circular-imports", category="link_resolution", verdict="ok", detected=True,
           rto_s=1.0)]
    assert row(build_report(events, source="drills"), "link_resolution").rto.count == 1
    assert row(build_report(events, source="incidents"), "link_resolution").rto.max_s == pytest.approx(2.0)
    assert row(build_report(events, source="all"), "link_resolution").rto.count == 2
    with pytest.raises(UsageError):
        build_report(events, source="nope")


@pytest.mark.parametrize(("kind", "explicit", "expected"), [
    ("links", None, "link_resolution"),
    ("gate:pytest", None, "quality_gate"),
    ("module:missing", None, "module_recovery"),
    ("restore", None, "command_engine"),
    ("cascade", None, "full_system"),
    ("gate:pytest", "full_system", "full_system"),
    ("gate:pytest", "bogus", "quality_gate"),
])
def test_category_of(kind: str, explicit: str | None, expected: str) -> None:
    assert category_of(kind, explicit) == expected


def test_targets_default_to_the_documented_ones_and_are_overridable() -> None:
    assert load_targets({}) == {
        "atomic_rollback": 60.0, "link_resolution": 30.0, "module_recovery": 60.0,
        "quality_gate": 120.0, "command_engine": 90.0, "full_system": 300.0,
    }
    assert load_targets({"targets": {"quality_gate": 45}})["quality_gate"] == 45.0
    for bad in ({"targets": {"nope": 1}}, {"targets": {"quality_gate": -1}},
                {"targets": {"quality_gate": True}}, {"targets": 5}):
        with pytest.raises(UsageError):
            load_targets(bad)


def test_impossible_durations_are_not_counted_as_met() -> None:
    events = [
        ev(0, "failure", incident="a", kind="gate:pytest", stage="run"),
        ev(-3600, "restore", phase="end", incident="a", target="c1", duration_s=float("nan"),
           verify_s=0.1, verdict="ok"),  # dated before its failure, NaN duration
        ev(10, "restore", phase="end", target="c2", duration_s=-5.0, verify_s=0.1, verdict="ok"),
    ]
    report = build_report(events)
    assert row(report, "quality_gate").rto.count == 0
    assert row(report, "atomic_rollback").rto.count == 0
    assert row(report, "quality_gate").status != "met"


def test_session_state_rpo_row_per_protection_mode() -> None:
    def sample(at: float, mode: str, rpo: Any, recovered: bool = True) -> Event:
        return ev(at, "session_rpo", mode=mode, step="delete-dir", rpo_s=rpo, checkpoint_age_s=1.0,
                  rpo_files=0, recovered=recovered, source="drill")

    met = build_report([sample(0, "watch", 0.0), sample(1, "watch", 42.0), sample(2, "agent", 0.0)])
    watch, agent = met.session
    assert (watch.mode, watch.rpo.count, watch.rpo.max_s, watch.status) == ("watch", 2, 42.0, "met")
    assert (agent.rpo.max_s, agent.status) == (0.0, "met")
    assert met.ok
    over = build_report([sample(0, "watch", 61.0)])
    assert over.session[0].status == "missed" and not over.ok
    lost = build_report([sample(0, "agent", 0.0, recovered=False)])
    assert lost.session[1].status == "missed" and lost.session[1].not_recovered == 1
    # no checkpoint at all before the event: no RPO to count, never a met target
    none = build_report([sample(0, "agent", None, recovered=False)])
    assert none.session[1].status == "missed"
    assert build_report([]).session[0].status == "no data"
    assert build_report([sample(0, "watch", 0.0)], source="incidents").session[0].status == "no data"


def test_session_state_rpo_in_the_html_report() -> None:
    from recovery.measure.report_html import render_html

    missed = build_report([ev(0, "session_rpo", mode="watch", rpo_s=75.0, recovered=True, source="drill")])
    html = render_html(missed)
    assert "Session state RPO (git recover watch)" in html and "session state (git recover watch)" in html
def test_rpo_is_measured_against_the_checkpoint_restored() -> None:
    """The failure event once carried the newest checkpoint (rpo_files=0) while
    the restore went to an older one that differed in 2 files: the restore's
    own end event is the measure now."""
    events = incident(0, "a", "gate:pytest", 2.0, rpo_s=1.0, rpo_files=0)
    events[-1].fields.update(rpo_s=600.0, rpo_files=2)
    report = build_report(events)
    assert report.rpo_files.max_s == 2 and report.rpo_age.max_s == pytest.approx(600.0)
    assert [r.rpo_files for r in report.recoveries if r.category == "quality_gate"] == [2]


def test_a_blocked_operation_is_resolved_by_the_block() -> None:
    events = [ev(0, "failure", incident="blocked", kind="gate:x", stage="pre-commit", action="block"),
              ev(5, "failure", incident="warned", kind="gate:x", stage="post-commit", action="warn")]
    report = build_report(events)
    assert report.open_incidents == ("warned",)
    assert report.blocked == 1


def test_drills_are_counted_apart_from_the_users_own_figures() -> None:
    from recovery.measure.report import render_text
    from recovery.measure.report_html import render_html

    events = incident(0, "a", "links", 2.0) + [
        ev(50, "drill", scenario="links", category="link_resolution", verdict="ok", detected=True, rto_s=1.0)]
    report = build_report(events, source="incidents")
    assert row(report, "link_resolution").rto.count == 1 and report.drill_runs == 1
    assert "Drill runs: 1 in the journal, not counted here (--source drills or all)" in render_text(report)
    assert "every target met, no open incident, nothing lost" in render_html(report)
    opened = build_report(events + [ev(90, "failure", incident="b", kind="links", stage="post-merge",
                                       action="keep")], source="incidents")
    assert "1 open incidents" in render_html(opened)
    assert "every target met" not in render_html(opened)
