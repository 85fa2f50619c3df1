"""The result of one run: findings, the import graph, counts, and the exit status.
Rendering it (text, JSON, SARIF, graphs) is :mod:`recovery.links.output`'s job,
which imports this module; this one imports no renderer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from recovery.base.errors import EXIT_FINDINGS, EXIT_OK
from recovery.links.findings import SEVERITIES, Finding, rank
from recovery.links.settings import LinkSettings


@dataclass(frozen=True)
class FileInfo:
    """A file the traversal reached and read as text: its path relative to the
    project root, its depth in hops (claude-code: along the first path that reached
    it), whether it is a root, the file whose import first reached it, and whether
    it loads only once a file matching a rule's ``paths:`` frontmatter is read."""

    path: str
    depth: int
    root: bool
    parent: str | None = None
    conditional: bool = False


@dataclass(frozen=True)
class Import:
    """One evaluated import and what became of it.

    Attributes:
        source: the importing file (relative to the project root).
        line: 1-based line of the ``@``.
        col: 1-based column of the ``@``.
        text: the token as written, without the ``@``.
        target: the path it resolved to or was tried at (relative when inside).
        status: ``loads``, ``missing``, ``outside``, ``unreadable``, ``corrupted``,
            ``empty``, ``too-large``, ``directory``, ``beyond-depth`` or
            ``excluded`` (loads, content not checked).
        base: which base resolved it (framework profile), else ``None``.
        loads: Claude Code would load it (framework: it resolves to a usable file).
    """

    source: str
    line: int
    col: int
    text: str
    target: str | None
    status: str
    base: str | None
    loads: bool


@dataclass
class LinkReport:
    """Everything one run found.

    Attributes:
        toplevel: the project root that was checked.
        settings: the settings used.
        findings: sorted by path, line, column, code.
        roots: the root files found (relative paths).
        files: every file the traversal reached.
        imports: every evaluated import, in traversal order.
        files_read: how many files were read as text.
        imports_found: how many tokens the profile treats as imports.
        imports_loaded: how many of those would load (claude-code) or resolve to a
            usable file (framework).
        imports_outside: imports pointing outside the project (need approval).
    """

    toplevel: Path
    settings: LinkSettings
    findings: list[Finding] = field(default_factory=list)
    roots: list[str] = field(default_factory=list)
    files: list[FileInfo] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    files_read: int = 0
    imports_found: int = 0
    imports_loaded: int = 0
    imports_outside: int = 0

    def counts(self) -> dict[str, int]:
        """Findings per severity (every severity present, possibly 0)."""
        out = dict.fromkeys(SEVERITIES, 0)
        for finding in self.findings:
            out[finding.severity] += 1
        return out

    def exit_code(self, fail_level: str | None = None) -> int:
        """2 when a finding is at or above ``fail_level`` (default: the configured
        one), else 0 (docs/links.md, "Output and exit codes")."""
        level = fail_level or self.settings.fail_level
        if level == "none":
            return EXIT_OK
        threshold = rank(level)
        failing = any(rank(f.severity) >= threshold for f in self.findings)
        return EXIT_FINDINGS if failing else EXIT_OK
