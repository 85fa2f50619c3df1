"""Text and JSON renderings of a :class:`recovery.measure.metrics.Report`.

The HTML page lives in :mod:`recovery.measure.report_html`; both read the same Report so
the three outputs never disagree.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from recovery.base.output import seconds
from recovery.measure.metrics import Report, Row, Stats

TABLE_HEADER = ("Failure type", "Target", "Count", "Median", "p95", "Max", "Status")


def table_cells(row: Row) -> tuple[str, ...]:
    """One table row as display strings, in TABLE_HEADER's order."""
    rto = row.rto
    status = f"{row.status} ({row.failed_runs} not recovered)" if row.failed_runs else row.status
    return (row.label, f"< {row.target_s:g} s", str(rto.count), seconds(rto.median_s),
            seconds(rto.p95_s), seconds(rto.max_s), status)


def render_table(rows: tuple[Row, ...]) -> str:
    """The measured-versus-target table as aligned plain text (no trailing newline)."""
    lines = [TABLE_HEADER, *(table_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(TABLE_HEADER))]
    out = []
    for line in lines:
        cells = [line[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(line[1:-1], widths[1:-1], strict=True)]
        out.append("  ".join([*cells, line[-1]]).rstrip())
    return "\n".join(out)


def render_text(report: Report) -> str:
    """The whole report as text, ending with a newline."""
    window = "empty journal"
    if report.first_event and report.last_event:
        total = sum(report.event_counts.values())
        window = f"{_stamp(report.first_event)} .. {_stamp(report.last_event)}, {total} events"
    r = report.restores
    lines = [
        f"Recovery report (source: {report.source}; {window})",
        "",
        render_table(report.rows),
        "",
        _mttr_line(report),
        f"RPO: age of the checkpoint restored {_stats_line(report.rpo_age, seconds)}; "
        f"files not kept on disk {_stats_line(report.rpo_files, _files)}",
        *session_lines(report),
        f"Restores: {r.ok} ok, {r.failed} failed, {r.continued} needed --continue, {r.aborted} aborted, "
        f"{r.interrupted} interrupted",
        f"Open incidents (neither blocked nor restored): {len(report.open_incidents)}; "
        f"resolved by blocking the operation: {report.blocked}",
        f"Data-loss events: {report.data_loss_events} (must be 0)",
    ]
    if report.source == "incidents" and report.drill_runs:
        lines.append(f"Drill runs: {report.drill_runs} in the journal, not counted here (--source drills or all)")
    if report.failed_drills:
        lines.append(f"Drill runs that failed (undetected, not recovered, lost or error): "
                     f"{report.failed_drills} (must be 0)")
        lines.extend(f"  {line}" for line in report.drill_failures)
    return "\n".join(lines) + "\n"


def session_lines(report: Report) -> list[str]:
    """The audit's "session state" row: RPO at destructive events between commits."""
    rows = [row for row in report.session if row.status != "no data"]
    if not rows:
        return ["Session state RPO (target < 60 s): no data (run `git recover drill`)"]
    return [f"Session state RPO (target < 60 s), {row.label}: {row.rpo.count} destructive events, "
            f"median {seconds(row.rpo.median_s)}, max {seconds(row.rpo.max_s)}, "
            f"{row.not_recovered} not recovered byte for byte: {row.status}" for row in rows]


def render_json(report: Report) -> str:
    """The report as a JSON document (seconds as numbers, times as ISO 8601 UTC)."""
    data = dataclasses.asdict(report)
    data["ok"] = report.ok
    return json.dumps(data, indent=2, default=_json_default) + "\n"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _stats_line(stats: Stats, fmt: Any) -> str:
    if not stats.count:
        return "not measured"
    return f"median {fmt(stats.median_s)}, p95 {fmt(stats.p95_s)}, max {fmt(stats.max_s)} (n={stats.count})"


def _files(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _count_incidents(report: Report) -> int:
    return sum(1 for r in report.recoveries if r.category != "atomic_rollback")


def _mttr_line(report: Report) -> str:
    """The MTTR line; with no recovered failure it says where the restores went
    (a new user read "MTTR over 0 recovered failures" under two timed restores
    as a contradiction)."""
    count = _count_incidents(report)
    if count:
        return f"MTTR: {seconds(report.mttr_s)} over {count} recovered failure{'s' if count > 1 else ''}"
    return ("MTTR: no detected failure recovered yet (every verified restore, asked for or not, is timed "
            "under Atomic rollback)")


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%SZ")
