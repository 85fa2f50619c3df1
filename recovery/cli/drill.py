"""``git recover drill``: chaos drills in a disposable clone, measured against the targets."""

from __future__ import annotations

import json

import click

from recovery.base.errors import EXIT_FINDINGS
from recovery.base.output import out, progress, say, seconds
from recovery.measure.drill.runner import DrillResult
from recovery.measure.drill.scenarios import BY_NAME, SCENARIOS, Scenario
from recovery.measure.drill.session import find_source, run_session
from recovery.measure.report import render_json, render_table


@click.command("drill")
@click.option("--scenario", "names", multiple=True, type=click.Choice(sorted(BY_NAME)),
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
    chosen = [BY_NAME[n] for n in names] if names else list(SCENARIOS)
    where = f"a clone of {source.toplevel}" if source else "the built-in example project"
    say(f"drill: {len(chosen)} scenario(s) x {repeat} in {where}")
    with progress("drill", total=len(chosen) * repeat) as bar:
        def started(scenario: Scenario) -> None:
            bar.label = f"drill {scenario.name}"

        def done(_: DrillResult) -> None:
            bar.advance()

        session = run_session(source, chosen, repeat, keep, started, done,
                              lambda root: say(f"clones kept in {root}"))
    report = session.report
    if as_json:
        out(json.dumps({"run": session.run_id, "runs": [r.journal_fields() for r in session.results],
                        "report": json.loads(render_json(report))}, indent=2))
    else:
        for r in session.results:
            detail = r.evidence if r.verdict == "ok" else r.error
            out(f"{r.verdict:>13}  {r.scenario:<22} RTO {seconds(r.rto_s):>9}  {detail}")
        out()
        out(render_table(report.rows))
        out()
        lost = sum(len(r.lost_paths) for r in session.results)
        unmeasured = sum(r.verdict == "not-measured" for r in session.results)
        skipped = f" ({unmeasured} not measured)" if unmeasured else ""
        out(f"{len(session.results) - len(session.failed) - unmeasured}/{len(session.results)} runs ok{skipped}; "
            f"bytes lost in {lost} path(s); MTTR {seconds(report.mttr_s)}"
            + ("" if source else " (example project: not journaled)"))
    return EXIT_FINDINGS if session.failed or not report.ok else 0
