"""Recovery figures over many machines: one report per machine and worktree
from the journals they pushed, and one over all of them.

Each journal is measured on its own (an incident and its restore always happen
on one machine), then the events of all are measured together for the overall
row, so MTTR, RTO and RPO overall are over every recovery of every machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from recovery.core.journal import Event
from recovery.measure.metrics import Report, Stats, build_report
from recovery.base.output import seconds
from recovery.measure.report import render_json, render_text


@dataclass(frozen=True)
class Source:
    """One machine's worktree and the report of its journal."""

    machine: str
    worktree: str
    report: Report


@dataclass(frozen=True)
class FleetReport:
    """Every source's report and the overall one."""

    sources: tuple[Source, ...]
    overall: Report


def build_fleet_report(journals: Iterable[tuple[str, str, Sequence[Event]]],
                       targets: Mapping[str, float] | None, source: str) -> FleetReport:
    """Measure each ``(machine, worktree, events)`` journal and all of them together.

    Args:
        journals: the events of each machine's worktree, oldest first.
        targets: seconds per failure type (``None``: the defaults).
        source: ``all``, ``incidents`` or ``drills``.
    """
    sources = []
    everything: list[Event] = []
    for machine, worktree, events in journals:
        sources.append(Source(machine, worktree, build_report(events, targets, source)))
        everything.extend(events)
    everything.sort(key=lambda ev: ev.time)
    return FleetReport(tuple(sources), build_report(everything, targets, source))


_HEADER = ("machine/worktree", "recoveries", "MTTR", "RTO p95", "RPO median", "failed restores",
           "open incidents", "data lost")


def render_fleet_text(fleet: FleetReport) -> str:
    """A table with one line per machine and the overall line, then the overall report."""
    rows = [_HEADER, *(_cells(f"{s.machine}/{s.worktree}", s.report) for s in fleet.sources),
            _cells("all machines", fleet.overall)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADER))]
    lines = ["  ".join([r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:], widths[1:]))]).rstrip()
             for r in rows]
    return "\n".join(lines) + "\n\n" + render_text(fleet.overall)


def render_fleet_json(fleet: FleetReport) -> str:
    """The per-machine reports and the overall one as one JSON document."""
    return json.dumps({
        "machines": [{"machine": s.machine, "worktree": s.worktree, "report": json.loads(render_json(s.report))}
                     for s in fleet.sources],
        "overall": json.loads(render_json(fleet.overall)),
    }, indent=2) + "\n"


def _cells(name: str, report: Report) -> tuple[str, ...]:
    rto = Stats.of([r.rto_s for r in report.recoveries])
    return (name, str(len(report.recoveries)), seconds(report.mttr_s), seconds(rto.p95_s),
            seconds(report.rpo_age.median_s), str(report.restores.failed), str(len(report.open_incidents)),
            str(report.data_loss_events))


