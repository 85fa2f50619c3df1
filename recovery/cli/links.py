"""``git recover links``: check that the ``@``-imports of a Claude Code prompt
framework resolve. Thin layer over :func:`recovery.links.check` and
:mod:`recovery.links.output`; the project defaults to the repository's top level
(:meth:`recovery.core.repo.Repo.discover`, one git process).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from recovery.base.errors import UsageError


@click.command("links", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("project_dir", required=False,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--profile", type=click.Choice(["claude-code", "framework"]),
              help="claude-code (default): what Claude Code itself loads. framework: "
                   "links in code and XML too, paths also under .claude/.")
@click.option("--root", "roots", multiple=True, metavar="GLOB",
              help="Start from these files instead of the configured roots (repeatable; "
                   "globs relative to the project, ** for any depth).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text",
              show_default=True, help="Output format (SARIF 2.1.0 for code scanning).")
@click.option("--graph", type=click.Choice(["mermaid", "dot"]),
              help="Print the import graph instead of the findings (summary on stderr).")
@click.option("--fail-level", type=click.Choice(["error", "warning", "info", "none"]),
              help="Lowest severity that makes the exit status 2 (default: error).")
@click.option("--depth", metavar="N|none",
              help="Last hop that loads, counted from the root (claude-code default 4).")
@click.option("--client-version", metavar="VERSION",
              help="claude-code: the Claude Code version whose rules are modelled "
                   "(default 2.1.197; 2.0 for the 2.0.x rules).")
@click.option("--explain", metavar="PATH",
              help="Say for one file the import chain that loads it, or why it never loads.")
@click.option("--base", "bases", multiple=True, metavar="DIR",
              help="Base directory for framework resolution and hints (repeatable; "
                   "replaces the configured ones; default .claude).")
@click.option("--exclude", "excludes", multiple=True, metavar="GLOB",
              help="Files or directories to leave out (repeatable; adds to the configured ones).")
@click.option("-q", "--quiet", is_flag=True, help="Text output: leave out info findings.")
@click.option("-v", "--verbose", is_flag=True,
              help="Text output: first list every import, where it resolved and whether it loads.")
def links(project_dir: Path | None, profile: str | None, roots: tuple[str, ...], fmt: str,
          graph: str | None, fail_level: str | None, depth: str | None,
          client_version: str | None, explain: str | None,
          bases: tuple[str, ...], excludes: tuple[str, ...], quiet: bool, verbose: bool) -> int:
    """Check that the @-imports of CLAUDE.md and its modules resolve.

    PROJECT_DIR defaults to the repository's top level (or the current directory
    outside a repository). Settings come from the [links] table of .recover.toml or
    [tool.git-recover.links] in pyproject.toml; options override them.

    Exit status: 0 nothing at or above the fail level, 2 findings at or above it,
    1 a runtime error, 3 bad configuration or arguments.
    """
    if graph and fmt != "text":
        raise UsageError("--graph prints the graph; it cannot be combined with --format json/sarif")
    from recovery.links import check
    from recovery.links import output

    overrides = {
        "profile": profile,
        "roots": list(roots) or None,
        "fail_level": fail_level,
        "depth": depth,
        "bases": list(bases) or None,
        "exclude": list(excludes) or None,
        "client_version": client_version,
    }
    report = check(project_dir or _project(), overrides)
    if explain:
        _emit(output.explain(report, explain))
        return 0
    if graph:
        _emit(output.render_graph(report, graph))
        click.echo(output.summary_line(report), err=True)
    elif fmt == "json":
        _emit(output.render_json(report))
    elif fmt == "sarif":
        _emit(output.render_sarif(report))
    else:
        _emit(output.render_text(report, show_info=not quiet, show_imports=verbose))
    return report.exit_code()


def _project() -> Path:
    """The repository's top level, or the current directory outside a repository."""
    from recovery.base.errors import RecoverError
    from recovery.core.repo import Repo

    try:
        return Repo.discover().toplevel
    except RecoverError:
        return Path.cwd()


def _emit(text: str) -> None:
    try:
        # surrogateescape: a file name that is not valid UTF-8 is written back as
        # the bytes it has on disk instead of failing the whole run.
        sys.stdout.flush()
        sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
        sys.stdout.flush()
    except BrokenPipeError:
        # `git recover links | head`: the reader left; that is not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
