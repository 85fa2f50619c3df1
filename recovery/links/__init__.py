"""``git recover links``: validate the ``@``-imports of a Claude Code prompt framework.

Claude Code drops a broken ``@path`` import without a word, so a framework can lose
half its modules unnoticed. This package implements the rules in docs/links.md: token
recognition per profile (``claude-code``, what Claude Code itself loads, and
``framework``, the looser conventions frameworks use), resolution relative to the
importing file, traversal from the roots (depth in hops, cycles with the full
chain, each file read once), and findings with stable codes.

Public entry point (the built-in ``links`` gate and the CLI both use it)::

    from recovery.links import check

    report = check(toplevel)                       # settings from .recover.toml / pyproject
    report = check(toplevel, {"profile": "framework", "depth": 4})
    report.findings          # list[Finding], sorted: code, severity, path, line, col,
                             #   message, hint, target, chain
    report.exit_code()       # 0, or 2 when a finding is at/above the fail level
    report.exit_code("warning")
    output.render_text(report)   # "path:line:col: severity code message" + summary
                                 #   (recovery.links.output: also JSON, SARIF, graphs)
    report.files_read, report.imports_found, report.imports_loaded

``overrides`` takes the keys of the ``[links]`` config table (``profile``,
``roots``, ``bases``, ``depth``, ``fail_level``, ``exclude``, ``html_blocks``,
``max_file_mb``, ``client_version``); ``None`` values are ignored, ``exclude`` adds to the configured
excludes, the others replace. Bad configuration raises
:class:`~recovery.base.errors.UsageError` (exit 3).

Layout: ``settings`` (config) → ``roots`` (discovery) → ``client`` (the real
client's rules, per version) → ``tokens`` (per-profile recognition, markdown-it
for code) → ``resolve`` (bases, hints) → ``files``
(reading once, judging content) → ``graph`` (traversal, depth, cycles) →
``commands`` (slash commands and agents, own rules) → ``report`` → ``output``
(text, JSON, SARIF, Mermaid, DOT, ``--explain``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recovery.links.findings import Finding
    from recovery.links.report import LinkReport

__all__ = ["Finding", "LinkReport", "check"]


def check(toplevel: Path, overrides: dict[str, Any] | None = None) -> LinkReport:
    """Validate the ``@``-links of the project rooted at ``toplevel``.

    Args:
        toplevel: the project root (a git work tree's top level, or any directory).
        overrides: config keys that take precedence over the ``links`` table.

    Returns:
        The :class:`~recovery.links.report.LinkReport`.

    Raises:
        UsageError: bad configuration or overrides, or an explicit root that does
            not exist (exit 3).
        RecoverError: ``toplevel`` is not a readable directory (exit 1).
    """
    import os

    from recovery.base.errors import RecoverError
    from recovery.links.graph import run
    from recovery.links.settings import LinkSettings

    top = Path(os.path.abspath(toplevel))
    if not top.is_dir():
        raise RecoverError(f"not a directory: {top}")
    if not os.access(top, os.R_OK | os.X_OK):
        raise RecoverError(f"cannot read the project directory: {top}")
    settings = LinkSettings.load(top, overrides)
    return run(top, settings)


def __getattr__(name: str) -> Any:
    # `from recovery.links import LinkReport, Finding` without importing them eagerly.
    if name == "LinkReport":
        from recovery.links.report import LinkReport

        return LinkReport
    if name == "Finding":
        from recovery.links.findings import Finding

        return Finding
    raise AttributeError(name)
