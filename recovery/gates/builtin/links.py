"""The ``links`` gate: the ``@``-link validator (``recovery.links``) as a gate.

Settings (``[gates.<name>]`` with ``builtin = "links"``): ``fail_level``, the
lowest finding level that fails the gate (passed to ``LinkReport.exit_code``;
default: the ``[links]`` table's own). Everything else the validator reads from
its ``[links]`` table, which is part of the tree, so a cached pass stays right.
"""

from __future__ import annotations

from pathlib import Path

from recovery.gates.model import Gate, GateContext, Verdict


def run(gate: Gate, ctx: GateContext) -> Verdict:
    """Validate the worktree's links.

    Returns:
        A failing :class:`Verdict` when the report has findings at or above ``fail_level``;
        its reason is the report's summary line, its output the text report.

    Raises:
        UsageError: a bad ``[links]`` configuration (the gate's result is then ``error``).
    """
    # Imported here: the hook hot path never pays for the Markdown parser unless a
    # links gate runs.
    from recovery.links import check
    from recovery.links.output import render_text, summary_line

    report = check(ctx.repo.toplevel)
    code = report.exit_code(gate.options.get("fail_level"))
    return Verdict(code == 0, summary_line(report), render_text(report, show_info=False))


def broken_imports(toplevel: Path) -> int:
    """How many ``@``-imports of the project are broken (findings of severity
    ``error``), for one-line summaries such as an agent session's first line.

    Raises:
        UsageError: a bad ``[links]`` configuration.
    """
    from recovery.links import check

    return check(toplevel).counts().get("error", 0)
