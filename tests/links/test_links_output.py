"""Text, JSON (own schema), SARIF 2.1.0 (GitHub's requirements) and graph output."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
from links_helpers import CORPORA, run

from recovery.links.findings import RULES
from recovery.links.report import LinkReport
from recovery.links.output import render_graph, render_json, render_sarif, render_text, summary_line

Project = Callable[..., Path]
HERE = Path(__file__).parent
JSON_SCHEMA = json.loads((HERE.parents[1] / "recovery" / "data" / "links-report.schema.json").read_text())
SARIF_SCHEMA = json.loads((HERE / "sarif-2.1.0-github.schema.json").read_text())


def every_finding(project: Project) -> LinkReport:
    """A project that produces most finding codes at once."""
    top = project({
        "CLAUDE.md": ("@a.md\n@gone.md\n@~/x.md\n`@a.md`\n@dir/\n@a.md#x\n@empty.md\n@bin.md\n"
                      "@someone\n@loop.md\n@dir\\ with\\ space/ünï.md\n"),
        "a.md": "@b.md\n", "b.md": "@a.md\n", "dir/x.md": "x", "empty.md": "", "bin.md": b"\0",
        "dir with space/ünï.md": "@../gone too.md\n",
        ".claude/commands/c md.md": "@../../dir\\ with\\ space/ünï.md\n@nope.md\n",
    })
    (top / "loop.md").symlink_to("loop.md")
    return run(top)


def test_text_lines_are_sorted_path_line_col_severity_code(project: Project) -> None:
    report = every_finding(project)
    text = render_text(report)
    lines = [line for line in text.splitlines() if not line.startswith("    hint: ")]
    assert lines[-1] == summary_line(report)
    body = lines[:-1]
    assert len(body) == len(report.findings)
    for finding, line in zip(report.findings, body, strict=True):
        assert line.startswith(f"{finding.path}:{finding.line}:{finding.col}: "
                               f"{finding.severity} {finding.code} ")
    keys = [(f.path, f.line, f.col, f.code) for f in report.findings]
    assert keys == sorted(keys)
    assert "    hint: " in text


def test_quiet_text_leaves_out_info(project: Project) -> None:
    report = every_finding(project)
    assert " info " in render_text(report)
    assert not any(" info not-" in line for line in render_text(report, show_info=False).splitlines())


def test_json_validates_and_matches_the_report(project: Project) -> None:
    report = every_finding(project)
    data = json.loads(render_json(report))
    jsonschema.validate(data, JSON_SCHEMA)
    assert data["summary"]["errors"] == report.counts()["error"]
    assert data["summary"]["exit_code"] == 2
    assert {f["code"] for f in data["findings"]} >= {
        "missing-target", "cycle", "outside-project", "not-evaluated", "directory-target",
        "fragment", "empty-target", "corrupted-target", "not-a-path", "unreadable-target"}
    assert any(f.get("chain") == ["a.md", "b.md", "a.md"] for f in data["findings"])


def sarif_checks(data: dict) -> None:
    jsonschema.validate(data, SARIF_SCHEMA, format_checker=jsonschema.FormatChecker())
    run = data["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids))
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")


def test_sarif_validates(project: Project) -> None:
    report = every_finding(project)
    data = json.loads(render_sarif(report))
    sarif_checks(data)
    run = data["runs"][0]
    assert data["version"] == "2.1.0" and run["columnKind"] == "unicodeCodePoints"
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
    assert "dir%20with%20space/%C3%BCn%C3%AF.md" in uris
    assert ".claude/commands/c%20md.md" in uris
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels["missing-target"] == "error" and levels["cycle"] == "warning"
    assert levels["not-evaluated"] == "note"


def test_sarif_rules_per_profile() -> None:
    from recovery.links.output import to_sarif
    from recovery.links.settings import LinkSettings

    for profile in ("claude-code", "framework"):
        report = LinkReport(Path("/tmp"), LinkSettings(profile=profile))
        ids = [r["id"] for r in to_sarif(report)["runs"][0]["tool"]["driver"]["rules"]]
        assert ids == [c for c, r in RULES.items() if r.severity(profile)]
    assert "not-evaluated" not in ids and "ambiguous-base" in ids


@pytest.mark.parametrize("corpus", ["modular-prompts-3.0.0", "superclaude-309bc1f"])
@pytest.mark.parametrize("profile", ["claude-code", "framework"])
def test_corpus_json_and_sarif_validate(corpus: str, profile: str) -> None:
    top = CORPORA / corpus
    if not top.is_dir():
        pytest.skip(f"{top} not found")
    report = run(top, profile=profile)
    jsonschema.validate(json.loads(render_json(report)), JSON_SCHEMA)
    sarif_checks(json.loads(render_sarif(report)))


def test_non_utf8_file_names_stay_valid_json_and_sarif(project: Project) -> None:
    top = project()
    commands = os.fsencode(top) + b"/.claude/commands"
    os.makedirs(commands)
    with open(commands + b"/\xff.md", "wb") as handle:
        handle.write(b"@gone.md\n")
    report = run(top)
    assert report.findings[0].path == ".claude/commands/\udcff.md"
    render_json(report).encode("utf-8")  # no lone surrogates left
    sarif = json.loads(render_sarif(report))
    sarif_checks(sarif)
    loc = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert loc["uri"] == ".claude/commands/%FF.md"


def test_mermaid_graph(project: Project) -> None:
    report = run(project({"CLAUDE.md": '@a.md\n@gone.md\n@a.md\n', "a.md": '@a"q.md\n',
                          'a"q.md': "x"}))
    text = render_graph(report, "mermaid")
    lines = text.splitlines()
    assert lines[0] == "graph LR"
    assert '  n0[":.claude-ignore"]' not in text
    labels = {line.split("[", 1)[1] for line in lines if "[" in line}
    assert '"CLAUDE.md"]:::root' in labels
    assert '"gone.md (missing)"]:::broken' in labels
    assert '"a#quot;q.md"]' in labels
    edges = [line.strip() for line in lines if "->" in line]
    assert len(edges) == 3  # the repeated import is drawn once
    assert sum("-.->" in e for e in edges) == 1


def test_dot_graph(project: Project) -> None:
    report = run(project({"CLAUDE.md": '@a.md\n@gone.md\n', "a.md": "x"}))
    text = render_graph(report, "dot")
    assert text.startswith("digraph links {\n") and text.rstrip().endswith("}")
    assert '"CLAUDE.md" -> "a.md";' in text
    assert '"CLAUDE.md" -> "gone.md" [style=dashed, color=red];' in text
    assert '"gone.md" [color=red, fontcolor=red, label="gone.md\\n(missing)"];' in text


def test_graph_draws_no_node_for_words_that_are_not_paths(tmp_path) -> None:
    from recovery.links import check
    from recovery.links.output import render_dot, render_mermaid

    (tmp_path / "CLAUDE.md").write_text("Use @dataclass here.\nLoad @docs/missing.md please.\n")
    report = check(tmp_path)
    for rendered in (render_mermaid(report), render_dot(report)):
        assert "dataclass" not in rendered
        assert "docs/missing.md" in rendered
