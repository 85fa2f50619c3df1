"""``git recover report``: RTO, RPO and MTTR measured from the journal."""

from __future__ import annotations

from pathlib import Path

import click

from recovery.base.errors import EXIT_FINDINGS, RecoverError, UsageError
from recovery.base.output import out, say
from recovery.measure.report import render_json, render_text
from recovery.measure.report_html import render_html
from recovery.core.journal import iter_events
from recovery.measure.metrics import SOURCES, build_report, load_targets
from recovery.base.project_config import load_project_config
from recovery.core.repo import Repo


@click.command("report")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Also write a self-contained HTML page (table and charts) to FILE.")
@click.option("--source", type=click.Choice(SOURCES), default="incidents", show_default=True,
              help="Count your own incidents (default), drill results, or both; drills are "
                   "reported apart unless asked for, so they never pass for your own figures.")
@click.option("--check", is_flag=True,
              help="Exit 2 when a target is missed, a byte was lost or a drill went undetected.")
@click.option("--remote", help="Aggregate the journals every machine pushed to REMOTE (fetched first).")
def report(as_json: bool, html_file: Path | None, source: str, check: bool, remote: str | None) -> int:
    """Show recovery times (RTO), recovery points (RPO) and MTTR against the targets.

    Targets come from [metrics.targets] in .recover.toml (seconds per failure
    type), defaulting to the targets documented in docs/metrics.md, which also
    defines every figure.
    """
    repo = Repo.discover()
    config = load_project_config(repo.toplevel)
    targets = load_targets(config.table("metrics"), config.where("metrics.targets"))
    if remote is not None:
        return _fleet(repo, remote, targets, source, as_json, html_file, check)
    result = build_report(iter_events(repo.state_dir), targets, source)
    out((render_json(result) if as_json else render_text(result)).rstrip("\n"))
    if html_file is not None:
        try:
            html_file.write_text(render_html(result), encoding="utf-8")
        except OSError as exc:
            raise RecoverError(f"cannot write {html_file}: {exc.strerror}") from None
        say(f"wrote {html_file}")
    return EXIT_FINDINGS if check and not result.ok else 0


def _fleet(repo: Repo, remote: str, targets: dict[str, float], source: str, as_json: bool,
           html_file: Path | None, check: bool) -> int:
    from recovery.core.journal import parse_journal
    from recovery.measure.fleet import build_fleet_report, render_fleet_json, render_fleet_text
    from recovery.remote.replica import fetch, journal_of

    if html_file is not None:
        raise UsageError("--html goes without --remote (use --json for every machine's figures)")
    journals = [
        (r.machine, r.worktree, list(parse_journal(journal_of(repo, r), f"{r.machine}/{r.worktree}")))
        for r in fetch(repo, remote)
    ]
    if not journals:
        raise UsageError(f"no machine has pushed to {remote} yet (`git recover push {remote}`)")
    fleet = build_fleet_report(journals, targets, source)
    out((render_fleet_json(fleet) if as_json else render_fleet_text(fleet)).rstrip("\n"))
    return EXIT_FINDINGS if check and not all(s.report.ok for s in fleet.sources) else 0
