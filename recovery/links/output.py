"""Rendering a :class:`~recovery.links.report.LinkReport`: text, JSON, SARIF 2.1.0,
and the import graph as Mermaid or DOT.

SARIF follows what GitHub code scanning reads: ``version`` 2.1.0, one run whose
``tool.driver.rules`` lists every code the profile can emit (id, descriptions,
help, default level), results with ``ruleId``/``ruleIndex``, ``level``
(``info`` becomes ``note``), a message, and one physical location whose URI is
relative to the repository root (``%SRCROOT%``) with a 1-based region. Columns
count Unicode code points, and the run says so (``columnKind``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import quote

from recovery import __version__
from recovery.links.findings import RULES, SEVERITIES

if TYPE_CHECKING:
    from recovery.links.report import LinkReport

TOOL = "git-recover links"
JSON_SCHEMA_VERSION = 1
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
_BROKEN = {"missing", "unreadable", "corrupted", "beyond-depth"}


def _plural(n: int, word: str) -> str:
    if word == "info":
        return f"{n} info"
    return f"{n} {word}" + ("" if n == 1 else "s")


def _dumps(data: object) -> str:
    """JSON text; file names that are not valid UTF-8 (surrogate-escaped by the OS
    layer) are written as ``\\udcXX`` escapes so the output stays valid UTF-8."""
    import json

    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(data, indent=2, ensure_ascii=True) + "\n"
    return text


def render_json(report: LinkReport) -> str:
    """The report as JSON text (schema: recovery/data/links-report.schema.json)."""
    return _dumps(to_json(report))


def render_sarif(report: LinkReport) -> str:
    """The report as SARIF 2.1.0 text."""
    return _dumps(to_sarif(report))


def render_graph(report: LinkReport, kind: str) -> str:
    """The import graph as ``mermaid`` or ``dot`` source."""
    return render_mermaid(report) if kind == "mermaid" else render_dot(report)


def summary_line(report: LinkReport) -> str:
    s = report.settings
    verb = "would load" if s.profile == "claude-code" else "resolve"
    counts = report.counts()
    outside = (f", {report.imports_outside} more point outside the project (need approval)"
               if report.imports_outside else "")
    by_level = ", ".join(_plural(counts[level], level) for level in SEVERITIES)
    return (f"links ({s.profile}): {_plural(len(report.roots), 'root')}, "
            f"read {_plural(report.files_read, 'file')}, "
            f"found {_plural(report.imports_found, 'import')}, "
            f"{report.imports_loaded} {verb}{outside}; {by_level}")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _printable(text: str) -> str:
    """One line whatever the file names hold: control characters escaped."""
    if _CONTROL.search(text):
        return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
    return text


def render_text(report: LinkReport, show_info: bool = True, show_imports: bool = False) -> str:
    lines = []
    if show_imports:
        for imp in report.imports:
            base = f" (via {imp.base})" if imp.base and report.settings.profile == "framework" else ""
            lines.append(f"{_printable(imp.source)}:{imp.line}:{imp.col}: import "
                         f"@{_printable(imp.text)} -> {_printable(imp.target or '?')}{base}: {imp.status}")
    for f in report.findings:
        if f.severity == "info" and not show_info:
            continue
        lines.append(f"{_printable(f.path)}:{f.line}:{f.col}: {f.severity} {f.code} "
                     f"{_printable(f.message)}")
        if f.hint:
            lines.append(f"    hint: {f.hint}")
    if not report.roots:
        lines.append("no root files found (roots: " + ", ".join(report.settings.roots) + ")")
    skipped = sum(f.code == "not-evaluated" for f in report.findings)
    if report.roots and report.imports_loaded == 0 and skipped:
        where = ("the info findings say where" if show_info
                 else "`git recover links` without -q says where")
        lines.append(f"note: no import would load; {skipped} @-links sit where Claude Code does "
                     f"not evaluate them ({where})")
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def to_json(report: LinkReport) -> dict[str, object]:
    s = report.settings
    counts = report.counts()
    return {
        "tool": TOOL,
        "version": __version__,
        "schema_version": JSON_SCHEMA_VERSION,
        "project": str(report.toplevel),
        "profile": s.profile,
        "settings": {
            "roots": list(s.roots),
            "bases": list(s.bases),
            "depth": s.depth,
            "fail_level": s.fail_level,
            "exclude": list(s.exclude),
            "html_blocks": s.html_blocks,
            "max_file_bytes": s.max_file_bytes,
            "client_version": s.client_version,
        },
        "summary": {
            "roots": len(report.roots),
            "files_read": report.files_read,
            "imports_found": report.imports_found,
            "imports_loaded": report.imports_loaded,
            "imports_outside": report.imports_outside,
            "errors": counts["error"],
            "warnings": counts["warning"],
            "info": counts["info"],
            "exit_code": report.exit_code(),
        },
        "findings": [f.to_dict() for f in report.findings],
        "files": [{"path": f.path, "depth": f.depth, "root": f.root} for f in report.files],
        "imports": [
            {"source": i.source, "line": i.line, "col": i.col, "text": i.text,
             "target": i.target, "status": i.status, "base": i.base, "loads": i.loads}
            for i in report.imports
        ],
    }


def to_sarif(report: LinkReport) -> dict[str, object]:
    profile = report.settings.profile
    rules = [rule for rule in RULES.values() if rule.severity(profile) is not None]
    index = {rule.code: i for i, rule in enumerate(rules)}
    results = []
    for f in report.findings:
        text = f.message + (f" Hint: {f.hint}." if f.hint else "")
        results.append({
            "ruleId": f.code,
            "ruleIndex": index[f.code],
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": text},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(f.path), "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": f.line, "startColumn": f.col},
                },
            }],
        })
    root_uri = report.toplevel.resolve().as_uri().rstrip("/") + "/"
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": TOOL,
                "version": __version__,
                "rules": [{
                    "id": rule.code,
                    "name": "".join(w.capitalize() for w in rule.code.split("-")),
                    "shortDescription": {"text": rule.title},
                    "fullDescription": {"text": rule.help},
                    "help": {"text": rule.help},
                    "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity(profile) or "info"]},
                    "properties": {"tags": ["claude-code", "imports", profile]},
                } for rule in rules],
            }},
            "automationDetails": {"id": f"git-recover-links/{profile}/"},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": root_uri}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }


def _uri(path: str) -> str:
    if path == ".":
        return "./"
    return quote(path.encode("utf-8", "surrogateescape"), safe="/")


# -- graphs ---------------------------------------------------------------------

def _graph(report: LinkReport) -> tuple[list[str], set[str], list[tuple[str, str, str]]]:
    """(nodes, root nodes, edges (source, target, status)) with duplicates removed."""
    nodes: list[str] = []
    seen: set[str] = set()

    def add(name: str) -> None:
        if name not in seen:
            seen.add(name)
            nodes.append(name)

    for f in report.files:
        add(f.path)
    edges: list[tuple[str, str, str]] = []
    pairs: set[tuple[str, str]] = set()
    for imp in report.imports:
        # `@dataclass` and the like are words, not files: no node for them.
        if imp.target is None or imp.status == "not-a-path" or (imp.source, imp.target) in pairs:
            continue
        pairs.add((imp.source, imp.target))
        add(imp.source)
        add(imp.target)
        edges.append((imp.source, imp.target, imp.status))
    return nodes, {f.path for f in report.files if f.root}, edges


def render_mermaid(report: LinkReport) -> str:
    nodes, roots, edges = _graph(report)
    status_of = {t: s for _, t, s in edges}
    ids = {name: f"n{i}" for i, name in enumerate(nodes)}
    out = ["graph LR"]
    for name in nodes:
        status = status_of.get(name, "loads")
        label = name if status in ("loads", "excluded") else f"{name} ({status})"
        label = label.replace('"', "#quot;")
        cls = "root" if name in roots else ("broken" if status in _BROKEN else
                                            "outside" if status == "outside" else "")
        out.append(f'  {ids[name]}["{label}"]' + (f":::{cls}" if cls else ""))
    for source, target, status in edges:
        arrow = "-->" if status in ("loads", "excluded", "empty", "too-large") else "-.->"
        out.append(f"  {ids[source]} {arrow} {ids[target]}")
    out.append("  classDef root stroke-width:3px")
    out.append("  classDef broken fill:#fdd,stroke:#c00,color:#900")
    out.append("  classDef outside fill:#eee,stroke:#888,stroke-dasharray:4 2")
    return "\n".join(out) + "\n"


def _dot_id(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(report: LinkReport) -> str:
    nodes, roots, edges = _graph(report)
    status_of = {t: s for _, t, s in edges}
    out = ["digraph links {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];']
    for name in nodes:
        status = status_of.get(name, "loads")
        attrs = []
        if name in roots:
            attrs.append("style=bold")
        if status in _BROKEN:
            attrs += ["color=red", "fontcolor=red",
                      "label=" + _dot_id(f"{name}\n({status})").replace("\n", "\\n")]
        elif status == "outside":
            attrs += ["style=dashed", "color=gray50"]
        out.append(f"  {_dot_id(name)}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    for source, target, status in edges:
        style = "" if status in ("loads", "excluded", "empty", "too-large") else \
            " [style=dashed, color=red]" if status in _BROKEN else " [style=dashed]"
        out.append(f"  {_dot_id(source)} -> {_dot_id(target)}{style};")
    out.append("}")
    return "\n".join(out) + "\n"


def explain(report: LinkReport, path: str) -> str:
    """Why the file at ``path`` (relative to the project root, or absolute) reaches
    the model or not: the chain of imports the client follows to it, or each
    import that names it and why it does not load. Text, one fact per line."""
    import os

    top = str(report.toplevel)
    rel = os.path.relpath(os.path.abspath(os.path.join(top, path)), top).replace(os.sep, "/")
    files = {f.path: f for f in report.files}
    lines: list[str] = []
    if rel in files:
        chain = [rel]
        while files[chain[-1]].parent is not None:
            chain.append(files[chain[-1]].parent or "")
        chain.reverse()
        what = "a root" if files[rel].root else f"{files[rel].depth} hop(s) from `{chain[0]}`"
        when = (", once a file matching the rule's `paths:` is read"
                if files[rel].conditional else "")
        lines.append(f"{rel}: loads ({what}{when})")
        if len(chain) > 1:
            lines.append("  chain: " + " → ".join(chain))
    names = [i for i in report.imports if i.target == rel]
    for imp in names:
        verdict = "loads" if imp.loads else f"does not load ({imp.status})"
        lines.append(f"  {imp.source}:{imp.line}:{imp.col}: `@{imp.text}` {verdict}")
    for f in report.findings:
        if f.path == rel and f.line == 1 and f.col == 1 and f.target == rel:
            lines.append(f"  {f.severity} {f.code}: {_printable(f.message)}")
    if rel not in files:
        from recovery.links.commands import is_prompt

        if is_prompt(rel):
            reason = ("a slash command or agent: a prompt of its own, never memory; "
                      "its @-mentions follow their own rules")
        elif names:
            reason = "no import above reaches it"
        elif rel in report.roots:
            reason = "a root the client drops (see the finding above)"
        else:
            reason = "no root or loaded file imports it"
        lines.insert(0, f"{rel}: never loads: {reason}")
    return "\n".join(_printable(line) for line in lines) + "\n"
