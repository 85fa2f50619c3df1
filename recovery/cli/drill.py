"""``git recover drill``: chaos drills in a disposable clone, measured against the targets (issue #5)."""

from __future__ import annotations

import io
import json
import sys
import uuid
from datetime import datetime, timezone

import click

from recovery.measure.drill.scenarios import BY_NAME, SCENARIOS, Scenario
from recovery.base.errors import EXIT_FINDINGS, RecoverError
from recovery.core.journal import Event, record
from recovery.measure.metrics import DEFAULT_TARGETS_S, build_report, load_targets
from recovery.base.project_config import load_project_config
from recovery.core.repo import Repo


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
    from recovery.measure.drill.runner import DrillResult, drill_root, run_drill
    from recovery.measure.report import render_json, render_table, seconds

    try:
        source: Repo | None = Repo.discover()
    except RecoverError:
        source = None
    if source is not None:
        config = load_project_config(source.toplevel)
        targets = load_targets(config.table("metrics"), config.where("metrics.targets"))
    else:
        targets = dict(DEFAULT_TARGETS_S)
    chosen = [BY_NAME[n] for n in names] if names else list(SCENARIOS)
    run_id = uuid.uuid4().hex
    where = f"a clone of {source.toplevel}" if source else "the built-in example project"
    click.echo(f"git-recover drill: {len(chosen)} scenario(s) x {repeat} in {where}", err=True)

    with drill_root(keep) as root, click.progressbar(
        length=len(chosen) * repeat, label="drill", file=sys.stderr if sys.stderr.isatty() else io.StringIO(),
        show_pos=True,
        item_show_func=lambda item: item,
    ) as bar:
        def started(scenario: Scenario) -> None:
            bar.current_item = scenario.name
            bar.render_progress()

        events: list[Event] = []

        def done(result: DrillResult) -> None:
            # Journaled as each run ends, so the report's chart shows when it ran.
            fields = {"run": run_id, **result.journal_fields()}
            events.append(Event(datetime.now(timezone.utc), "drill", key, fields))
            if source is not None:
                record(source, "drill", **fields)
            bar.update(1)

        key = source.worktree_key if source else "example"
        results = run_drill(chosen, repeat, source, root, started, done)
        if keep:
            click.echo(f"git-recover: clones kept in {root}", err=True)

    report = build_report(events, targets, source="drills")
    failed = [r for r in results if r.verdict != "ok"]
    if as_json:
        click.echo(json.dumps({"run": run_id, "runs": [r.journal_fields() for r in results],
                               "report": json.loads(render_json(report))}, indent=2))
    else:
        for r in results:
            detail = r.evidence if r.verdict == "ok" else r.error
            click.echo(f"{r.verdict:>13}  {r.scenario:<22} RTO {seconds(r.rto_s):>9}  {detail}")
        click.echo("")
        click.echo(render_table(report.rows))
        click.echo("")
        lost = sum(len(r.lost_paths) for r in results)
        click.echo(f"{len(results) - len(failed)}/{len(results)} runs ok; bytes lost in {lost} path(s); "
                   f"MTTR {seconds(report.mttr_s)}" + ("" if source else " (example project: not journaled)"))
    return EXIT_FINDINGS if failed or not report.ok else 0
