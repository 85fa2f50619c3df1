"""RTO, RPO and MTTR computed from the journal.

Definitions (docs/metrics.md gives the long form):

- **RTO** of one incident: from its ``failure`` event (the moment a hook or gate
  detected it) to the end of the first ``restore`` with verdict ``ok`` carrying the
  same ``incident`` id, in seconds. A drill's ``drill`` event carries the RTO it
  measured itself (``rto_s``), from the same two moments inside its disposable clone.
- **Atomic rollback** has no failure event: its samples are the durations of the
  restores themselves, safety checkpoint, switch and integrity check
  (``restore`` end, verdict ``ok``, ``duration_s + verify_s``).
- **RPO** of one incident: measured against the checkpoint its restore actually
  went back to, written on that ``restore`` end event: the checkpoint's age when
  the failing state was saved (``rpo_s``) and the files that differ between the
  two (``rpo_files``), i.e. what the user does not keep on disk. Journals from
  before that field fall back to the ``failure`` event's figures.
- An incident **blocked** by a gate (``failure`` with ``action`` ``block``) is
  resolved by the block: the operation never happened.
- **MTTR**: the arithmetic mean of the RTOs of recovered incidents.
- **p95**: the 95th percentile by linear interpolation between closest ranks
  (``statistics.quantiles(..., method="inclusive")``); with one sample it is that sample.
- A row **meets** its target when its *maximum* is under the target and no drill
  run of its type failed to recover: a target is a promise about every recovery,
  not the typical one.

The failure types and default targets are the tool's own, documented in
docs/metrics.md ("Failure types"); projects override the seconds in the ``[metrics.targets]`` table of ``.recover.toml``.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from recovery.base.errors import UsageError
from recovery.core.journal import Event

# (key, label, default target in seconds): the table of docs/metrics.md, in its order.
CATEGORIES: tuple[tuple[str, str, float], ...] = (
    ("atomic_rollback", "Atomic rollback", 60.0),
    ("link_resolution", "Link resolution", 30.0),
    ("module_recovery", "Module recovery", 60.0),
    ("quality_gate", "Quality gate", 120.0),
    ("command_engine", "Command engine", 90.0),
    ("full_system", "Full system", 300.0),
)
LABELS: dict[str, str] = {key: label for key, label, _ in CATEGORIES}
DEFAULT_TARGETS_S: dict[str, float] = {key: target for key, _, target in CATEGORIES}
SOURCES = ("all", "incidents", "drills")
# The audit's "session state" row: between commits, the recovery point at a
# destructive event must be under a minute (docs/continuous.md).
SESSION_RPO_TARGET_S = 60.0
SESSION_MODES = {"watch": "git recover watch", "agent": "agent hooks"}


@dataclass(frozen=True)
class Recovery:
    """One measured recovery.

    Attributes:
        time: when the failure was detected (or the restore began, for rollbacks), UTC.
        category: a key of CATEGORIES.
        kind: the failure kind as journaled (``gate:pytest``, ``links``, ``restore``, a drill scenario).
        rto_s: detection to verified restore, in seconds.
        rpo_s: age of the newest checkpoint at detection, in seconds (None when unknown).
        rpo_files: files changed since that checkpoint (None when unknown).
        source: ``incident`` (from hooks and commands) or ``drill``.
        ref: the incident id or the drill scenario name.
    """

    time: datetime
    category: str
    kind: str
    rto_s: float
    rpo_s: float | None
    rpo_files: int | None
    source: str
    ref: str


@dataclass(frozen=True)
class Stats:
    """Summary of a set of durations in seconds (all None when there are none)."""

    count: int
    median_s: float | None
    p95_s: float | None
    max_s: float | None
    mean_s: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        """Count, median, p95 (see module docstring), maximum and mean of ``values``."""
        if not values:
            return cls(0, None, None, None, None)
        ordered = sorted(values)
        p95 = ordered[0] if len(ordered) == 1 else statistics.quantiles(ordered, n=20, method="inclusive")[18]
        return cls(len(ordered), statistics.median(ordered), p95, ordered[-1], statistics.fmean(ordered))


@dataclass(frozen=True)
class Row:
    """One line of the measured-versus-target table.

    Attributes:
        category: a key of CATEGORIES; label: its display name.
        target_s: the target, in seconds.
        rto: the measured recovery times of this category.
        failed_runs: drill runs of this type that did not recover (an unbounded RTO).
        status: ``met`` (max under target and no failed run), ``missed``, or ``no data``.
    """

    category: str
    label: str
    target_s: float
    rto: Stats
    status: str
    failed_runs: int = 0


@dataclass(frozen=True)
class SessionRow:
    """The session-state RPO of one protection mode (``session_rpo`` events).

    Attributes:
        mode: ``watch`` or ``agent``; label: its display name.
        rpo: statistics of the RPO at each destructive event, in seconds (0 when
            the newest checkpoint held exactly the state destroyed, else its age).
        not_recovered: events whose state was not recovered byte for byte.
        status: ``met`` (max RPO under the target, every state recovered),
            ``missed`` or ``no data``.
    """

    mode: str
    label: str
    rpo: Stats
    not_recovered: int
    status: str


@dataclass(frozen=True)
class RestoreCounts:
    """Outcomes of ``restore`` operations in the journal.

    Attributes:
        ok: ended with verdict ``ok``.
        failed: ended with verdict ``mismatch`` or ``error``.
        continued: resumed by ``git recover restore --continue`` (a ``resume`` phase,
            action ``continue``), after a kill or a failed step.
        aborted: abandoned by ``git recover restore --abort``.
        interrupted: started and never ended nor resumed (a kill not yet continued).
    """

    ok: int = 0
    failed: int = 0
    continued: int = 0
    aborted: int = 0
    interrupted: int = 0


@dataclass(frozen=True)
class Report:
    """Everything ``git recover report`` shows.

    Attributes:
        source: which recoveries were counted (``all``, ``incidents``, ``drills``).
        rows: the measured-versus-target table, in :data:`CATEGORIES`' order.
        mttr_s: mean time to recovery over every counted recovery except rollbacks.
        rpo_age: statistics of ``rpo_s``; rpo_files: of ``rpo_files`` (as float counts).
        restores: restore outcomes.
        open_incidents: ids of failures neither blocked nor followed by a verified restore.
        blocked: failures resolved by blocking the operation.
        drill_runs: drill runs in the journal, counted or not (``source``).
        data_loss_events: ``data_loss`` events plus drills that lost bytes; must be zero.
        failed_drills: drill runs that did not end ``ok`` (failure undetected, not
            recovered, bytes lost, or the run itself failed); must be zero.
        drill_failures: one ``scenario: verdict: error`` line per failed drill run.
        recoveries: every sample, oldest first (the chart's data).
        session: the session-state RPO rows, one per protection mode.
        event_counts: journal events by name.
        first_event, last_event: the journal window, or None when it is empty.
    """

    source: str
    rows: tuple[Row, ...]
    mttr_s: float | None
    rpo_age: Stats
    rpo_files: Stats
    restores: RestoreCounts
    open_incidents: tuple[str, ...]
    data_loss_events: int
    failed_drills: int
    recoveries: tuple[Recovery, ...]
    drill_failures: tuple[str, ...] = ()
    session: tuple[SessionRow, ...] = ()
    blocked: int = 0
    drill_runs: int = 0
    event_counts: dict[str, int] = field(default_factory=dict)
    first_event: datetime | None = None
    last_event: datetime | None = None

    @property
    def ok(self) -> bool:
        """True when no target was missed, no byte was lost and every drill ended ok."""
        return (
            all(row.status != "missed" for row in self.rows)
            and all(row.status != "missed" for row in self.session)
            and self.data_loss_events == 0
            and self.failed_drills == 0
        )


def load_targets(metrics_table: Mapping[str, Any], where: str = "metrics.targets") -> dict[str, float]:
    """The targets in seconds: the documented defaults (:data:`DEFAULT_TARGETS_S`) overridden by ``[metrics.targets]``.

    Args:
        metrics_table: the project config's ``metrics`` table (``ProjectConfig.table("metrics")``).
        where: how to name the table in errors (``ProjectConfig.where("metrics.targets")``).

    Raises:
        UsageError: ``targets`` is not a table, names an unknown failure type, or a
            value is not a positive number of seconds.
    """
    raw = metrics_table.get("targets", {})
    if not isinstance(raw, Mapping):
        raise UsageError(f"{where}: expected a table of seconds")
    targets = dict(DEFAULT_TARGETS_S)
    for key, value in raw.items():
        if key not in targets:
            raise UsageError(f"{where}.{key}: unknown failure type (known: {', '.join(targets)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise UsageError(f"{where}.{key}: expected a positive number of seconds, got {value!r}")
        targets[key] = float(value)
    return targets


def category_of(kind: str, explicit: object = None) -> str:
    """The failure type a failure ``kind`` is reported under.

    An explicit ``category`` field on the event wins; otherwise ``links*`` is link
    resolution, ``gate:*`` a quality gate, ``module*`` module recovery,
    ``restore``/``command*`` the command engine, and anything else the full system.
    """
    if isinstance(explicit, str) and explicit in DEFAULT_TARGETS_S:
        return explicit
    if kind.startswith("links"):
        return "link_resolution"
    if kind.startswith("gate:"):
        return "quality_gate"
    if kind.startswith("module"):
        return "module_recovery"
    if kind == "restore" or kind.startswith("command"):
        return "command_engine"
    return "full_system"


def build_report(events: Iterable[Event], targets: Mapping[str, float] | None = None,
                 source: str = "all") -> Report:
    """Compute the report from journal events (oldest first).

    Args:
        events: the journal oldest first, as :func:`recovery.core.journal.iter_events` yields it (read once).
        targets: seconds per category (default: :data:`DEFAULT_TARGETS_S`).
        source: ``all``, ``incidents`` (hooks and commands only) or ``drills``.

    Raises:
        UsageError: unknown ``source``.
    """
    if source not in SOURCES:
        raise UsageError(f"unknown source {source!r} (expected one of {', '.join(SOURCES)})")
    goals = dict(DEFAULT_TARGETS_S if targets is None else targets)
    # One pass over the events, keeping only what the report shows: a journal
    # of any size is read in bounded memory (iter_events streams it).
    event_counts: Counter[str] = Counter()
    first_event: datetime | None = None
    last_event: datetime | None = None
    failures: dict[str, Event] = {}
    recovered: set[str] = set()
    recoveries: list[Recovery] = []
    rpo_ages: list[float] = []
    rpo_counts: list[float] = []
    ok = failed = continued = aborted = 0
    open_starts: list[Event] = []
    interrupted = 0
    data_loss = failed_drills = 0
    drill_failures: list[str] = []
    failed_by_category: Counter[str] = Counter()
    session: dict[str, list[Event]] = {mode: [] for mode in SESSION_MODES}
    use_incidents = source in ("all", "incidents")
    use_drills = source in ("all", "drills")

    blocked: set[str] = set()
    for ev in events:
        event_counts[ev.event] += 1
        first_event = first_event or ev.time
        last_event = ev.time
        if ev.event == "failure" and isinstance(ev.get("incident"), str):
            failures.setdefault(ev.get("incident"), ev)
            if ev.get("action") == "block":
                blocked.add(ev.get("incident"))
        elif ev.event == "restore" and ev.get("phase") == "start":
            open_starts.append(ev)
        elif ev.event == "restore" and ev.get("phase") == "resume":
            # The resumed restore's start stays open: its end closes it.
            if ev.get("action") == "abort":
                aborted += 1
            else:
                continued += 1
        elif ev.event == "restore" and ev.get("phase") == "end":
            # Without an id to pair on, an end closes the latest open start; earlier
            # open starts were killed (the intent record makes `--continue` possible).
            if open_starts:
                interrupted += len(open_starts) - 1
                started = open_starts[-1]
                open_starts.clear()
            else:
                started = None
            if ev.get("verdict") != "ok":
                failed += 1
                continue
            ok += 1
            if use_incidents:
                recoveries.extend(_restore_recoveries(ev, started, failures, recovered))
        elif ev.event == "data_loss":
            data_loss += 1
        elif ev.event == "session_rpo" and ev.get("mode") in session:
            if (ev.get("source") == "drill" and use_drills) or (ev.get("source") != "drill" and use_incidents):
                session[str(ev.get("mode"))].append(ev)
        elif ev.event == "drill" and use_drills:
            rec, lost, failed = _drill_recovery(ev)
            data_loss += lost
            failed_drills += failed
            if failed:
                failed_by_category[category_of(str(ev.get("scenario", "")), ev.get("category"))] += 1
                drill_failures.append(f"{ev.get('scenario')}: {ev.get('verdict')}: {ev.get('error', '')}")
            if rec is not None:
                recoveries.append(rec)
                if rec.rpo_s is not None:
                    rpo_ages.append(rec.rpo_s)
                if rec.rpo_files is not None:
                    rpo_counts.append(float(rec.rpo_files))
    interrupted += len(open_starts)
    for rec in recoveries:
        if rec.source == "incident" and rec.category != "atomic_rollback":
            if rec.rpo_s is not None:
                rpo_ages.append(rec.rpo_s)
            if rec.rpo_files is not None:
                rpo_counts.append(float(rec.rpo_files))

    recoveries.sort(key=lambda r: r.time)
    rows = tuple(_row(key, goals[key], recoveries, failed_by_category[key]) for key, _, _ in CATEGORIES)
    incident_rtos = [r.rto_s for r in recoveries if r.category != "atomic_rollback"]
    open_ids = tuple(i for i in failures if i not in recovered and i not in blocked) if use_incidents else ()
    return Report(
        source=source,
        rows=rows,
        mttr_s=statistics.fmean(incident_rtos) if incident_rtos else None,
        rpo_age=Stats.of(rpo_ages),
        rpo_files=Stats.of(rpo_counts),
        restores=RestoreCounts(ok, failed, continued, aborted, interrupted),
        open_incidents=open_ids,
        data_loss_events=data_loss,
        failed_drills=failed_drills,
        drill_failures=tuple(drill_failures),
        session=tuple(_session_row(mode, found) for mode, found in session.items()),
        blocked=len(blocked) if use_incidents else 0,
        drill_runs=sum(1 for ev in events if ev.event == "drill"),
        recoveries=tuple(recoveries),
        event_counts=dict(event_counts),
        first_event=first_event,
        last_event=last_event,
    )


def _restore_recoveries(end: Event, started: Event | None, failures: Mapping[str, Event],
                        recovered: set[str]) -> list[Recovery]:
    """The rollback sample of one verified restore, plus the incident it closes, if any.

    The rollback sample is the switch plus its check (``duration_s + verify_s``):
    a rollback counts once it is verified.
    """
    out: list[Recovery] = []
    duration = _number(end.get("duration_s"))
    if duration is not None:
        duration += _number(end.get("verify_s")) or 0.0
        begun = started.time if started is not None else end.time
        out.append(Recovery(begun, "atomic_rollback", "restore", duration, None, None, "incident",
                            str(end.get("target", ""))))
    incident = end.get("incident")
    failure = failures.get(incident) if isinstance(incident, str) else None
    if failure is not None and incident not in recovered:
        recovered.add(incident)
        kind = str(failure.get("kind", "unknown"))
        # The recovery point is the checkpoint this restore went back to; older
        # journals carry it on the failure only.
        measured = end if end.get("rpo_s") is not None else failure
        files = _number(measured.get("rpo_files"))
        rto = _number((end.time - failure.time).total_seconds())
        if rto is not None:  # a restore dated before its failure is not a recovery time
            out.append(Recovery(
                failure.time, category_of(kind, failure.get("category")), kind,
                rto, _number(measured.get("rpo_s")),
                None if files is None else int(files), "incident", incident,
            ))
    return out


def _drill_recovery(ev: Event) -> tuple[Recovery | None, int, int]:
    """(the drill's recovery if it was detected and recovered, 1 if it lost bytes,
    1 if the run did not end ``ok``; a ``not-measured`` run, whose kill lost
    its race against the restore, did not fail)."""
    lost = 1 if ev.get("lost_paths") else 0
    failed = 0 if ev.get("verdict") in ("ok", "not-measured") else 1
    rto = _number(ev.get("rto_s"))
    if not ev.get("detected") or rto is None:
        return None, lost, failed
    kind = str(ev.get("scenario", "drill"))
    files = _number(ev.get("rpo_files"))
    return Recovery(ev.time, category_of(kind, ev.get("category")), kind, rto, _number(ev.get("rpo_s")),
                    None if files is None else int(files), "drill", kind), lost, failed


def _session_row(mode: str, events: Sequence[Event]) -> SessionRow:
    """A mode's session-state row; an event without a usable RPO (no checkpoint
    existed) counts as not recovered, never as a met target."""
    values = [v for v in (_number(ev.get("rpo_s")) for ev in events) if v is not None]
    not_recovered = sum(1 for ev in events if ev.get("recovered") is not True or _number(ev.get("rpo_s")) is None)
    stats = Stats.of(values)
    if not events:
        status = "no data"
    elif not_recovered or (stats.max_s is not None and stats.max_s >= SESSION_RPO_TARGET_S):
        status = "missed"
    else:
        status = "met"
    return SessionRow(mode, SESSION_MODES[mode], stats, not_recovered, status)


def _row(key: str, target_s: float, recoveries: Sequence[Recovery], failed_runs: int) -> Row:
    stats = Stats.of([r.rto_s for r in recoveries if r.category == key])
    if failed_runs or (stats.max_s is not None and stats.max_s >= target_s):
        status = "missed"  # a run that never recovered has no finite RTO
    else:
        status = "no data" if stats.max_s is None else "met"
    return Row(key, LABELS[key], target_s, stats, status, failed_runs)


# A year in seconds (and far more files than any repository): larger journal
# values are damage, and would overflow the chart's scale.
_MAX_PLAUSIBLE = 365 * 86400.0


def _number(value: object) -> float | None:
    """A usable duration or count from the journal: finite and not negative.
    NaN or a negative value (a hand-edited or clock-skewed journal) would
    otherwise count as a met target (hostile testing)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or not 0 <= value <= _MAX_PLAUSIBLE:
        return None
    return float(value)
