"""``git recover drill``: chaos drills in a disposable clone, measured against the targets."""

from __future__ import annotations

import json

import click

from recovery.base.errors import EXIT_FINDINGS
from recovery.base.output import out, progress, say, seconds
from recovery.measure.drill.continuous import MODES
from recovery.measure.drill.runner import DrillResult
from recovery.measure.drill.scenarios import BY_NAME, SCENARIOS, Scenario
from recovery.measure.drill.session import find_source, run_session
from recovery.measure.report import render_json, render_table, session_lines

# The session-state drill (an agent-like process, then destructive shell
# commands) runs once per protection mode: session-watch, session-agent.
SESSION_SCENARIOS = {f"session-{mode}": mode for mode in MODES}


@click.command("drill")
@click.option("--scenario", "names", multiple=True, type=click.Choice(sorted([*BY_NAME, *SESSION_SCENARIOS])),
              help="Run only this scenario (repeatable). Default: all.")
@click.option("--repeat", type=click.IntRange(1, 1000), default=1, show_default=True,
              help="Runs per scenario.")
@click.option("--json", "as_json", is_flag=True, help="Print the runs and the table as JSON.")
@click.option("--keep", is_flag=True, help="Keep the disposable clones and print where they are.")
def drill(names: tuple[str, ...], repeat: int, as_json: bool, keep: bool) -> int:
    """Break a disposable clone on purpose, let the gates detect it, recover, prove
    byte for byte that nothing was lost, and print the measured-versus-target table.

    Never touches your working tree: it clones the committed history (or, outside
    a repository, builds an example project). Results are journaled, so
    `git recover report --source drills` shows their trend. Exits 2 when a target
    is missed, a byte is lost or a failure goes undetected.
    """
    source = find_source()
    chosen = [BY_NAME[n] for n in names if n in BY_NAME] if names else list(SCENARIOS)
    modes = [SESSION_SCENARIOS[n] for n in names if n in SESSION_SCENARIOS] if names else list(MODES)
    where = f"a clone of {source.toplevel}" if source else "the built-in example project"
    say(f"drill: {len(chosen) + len(modes)} scenario(s) x {repeat} in {where}")
    with progress("drill", total=len(chosen) * repeat) as bar:
        def started(scenario: Scenario) -> None:
            bar.label = f"drill {scenario.name}"

        def done(_: DrillResult) -> None:
            bar.advance()

        session = run_session(source, chosen, repeat, keep, started, done,
                              lambda root: say(f"clones kept in {root}"), modes)
    report = session.report
    if as_json:
        out(json.dumps({"run": session.run_id, "runs": [r.journal_fields() for r in session.results],
                        "session": [s.journal_fields() for s in session.samples],
                        "report": json.loads(render_json(report))}, indent=2))
    else:
        for r in session.results:
            detail = r.evidence if r.verdict == "ok" else r.error
            out(f"{r.verdict:>13}  {r.scenario:<22} RTO {seconds(r.rto_s):>9}  {detail}")
        for sample in session.samples:
            out(sample.line())
        out()
        out(render_table(report.rows))
        for line in session_lines(report):
            out(line)
        out()
        lost = sum(len(r.lost_paths) for r in session.results) + len(session.not_recovered)
        unmeasured = sum(r.verdict == "not-measured" for r in session.results)
        skipped = f" ({unmeasured} not measured)" if unmeasured else ""
        runs = len(session.results) + len(session.samples)
        out(f"{runs - len(session.failed) - len(session.not_recovered) - unmeasured}/{runs} runs ok{skipped}; "
            f"bytes lost in {lost} path(s); MTTR {seconds(report.mttr_s)}"
            + ("" if source else " (example project: not journaled)"))
    return EXIT_FINDINGS if session.failed or session.not_recovered or not report.ok else 0
