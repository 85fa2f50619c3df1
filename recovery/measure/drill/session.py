"""One ``git recover drill`` invocation: choose the targets, run the scenarios,
journal each run as it ends, and build the measured-versus-target report.

The command line only prints what :func:`run_session` returns.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from recovery.base.errors import RecoverError
from recovery.base.project_config import load_project_config
from recovery.core.journal import Event, record
from recovery.core.repo import Repo
from recovery.measure.drill.continuous import SessionSample, run_continuous_drill
from recovery.measure.drill.runner import DrillResult, drill_root, run_drill
from recovery.measure.drill.scenarios import Scenario
from recovery.measure.metrics import DEFAULT_TARGETS_S, Report, build_report, load_targets


@dataclass(frozen=True)
class Session:
    """What a drill session measured.

    Attributes:
        run_id: the id every journaled run of this session carries (``run``).
        results: one per scenario run, in order.
        report: the measured-versus-target report over these runs alone.
        source: the repository cloned, ``None`` for the built-in example project
            (whose runs are not journaled: there is no repository to journal into).
        samples: the destructive events of the session-state drill
            (:mod:`recovery.measure.drill.continuous`), in order.
    """

    run_id: str
    results: tuple[DrillResult, ...]
    report: Report
    source: Repo | None
    samples: tuple[SessionSample, ...] = ()

    @property
    def failed(self) -> tuple[DrillResult, ...]:
        """The runs whose verdict is neither ``ok`` nor ``not-measured`` (a kill
        that never landed inside the switch measured nothing: said, not failed)."""
        return tuple(r for r in self.results if r.verdict not in ("ok", "not-measured"))

    @property
    def not_recovered(self) -> tuple[SessionSample, ...]:
        """Session-state events whose prior state did not come back byte for byte."""
        return tuple(s for s in self.samples if not s.recovered)


def find_source() -> Repo | None:
    """The repository around the current directory, or ``None`` outside one."""
    try:
        return Repo.discover()
    except RecoverError:
        return None


def run_session(source: Repo | None, scenarios: Sequence[Scenario], repeat: int, keep: bool,
                on_start: Callable[[Scenario], None] = lambda s: None,
                on_done: Callable[[DrillResult], None] = lambda r: None,
                on_kept: Callable[[str], None] = lambda where: None,
                modes: Sequence[str] = ()) -> Session:
    """Run ``scenarios`` ``repeat`` times in disposable clones of ``source``.

    Args:
        source: the repository whose committed history is cloned (its
            ``[metrics.targets]`` apply), or ``None`` for the example project.
        scenarios: what to run.
        repeat: runs per scenario.
        keep: keep the clones; ``on_kept`` receives their directory.
        on_start, on_done: called around each run (progress).
        modes: protection modes of the session-state drill to run (``watch``, ``agent``).

    Returns:
        The :class:`Session`; each run is journaled in ``source`` as it ends, so
        the report's chart shows when it ran.

    Raises:
        UsageError: a bad ``[metrics.targets]`` table.
        GitCommandError: the base repository could not be prepared.
    """
    if source is not None:
        config = load_project_config(source.toplevel)
        targets = load_targets(config.table("metrics"), config.where("metrics.targets"))
    else:
        targets = dict(DEFAULT_TARGETS_S)
    run_id = uuid.uuid4().hex
    key = source.worktree_key if source else "example"
    events: list[Event] = []

    def done(result: DrillResult) -> None:
        fields = {"run": run_id, **result.journal_fields()}
        events.append(Event(datetime.now(timezone.utc), "drill", key, fields))
        if source is not None:
            record(source, "drill", **fields)
        on_done(result)

    samples: list[SessionSample] = []
    with drill_root(keep) as root:
        results = run_drill(scenarios, repeat, source, root, on_start, done) if scenarios else []
        for _ in range(repeat):
            for mode in modes:
                for sample in run_continuous_drill(root, mode):
                    fields = {"run": run_id, **sample.journal_fields()}
                    events.append(Event(datetime.now(timezone.utc), "session_rpo", key, fields))
                    if source is not None:
                        record(source, "session_rpo", **fields)
                    samples.append(sample)
        if keep:
            on_kept(str(root))
    return Session(run_id, tuple(results), build_report(events, targets, source="drills"), source,
                   tuple(samples))
