"""Real frameworks from ../shared/corpora, both profiles. Each assertion is a fact
checked by hand in the corpus (quoted in the comment), not a snapshot of the output."""

from __future__ import annotations

from pathlib import Path

import pytest
from links_helpers import CORPORA, run


def corpus(name: str) -> Path:
    path = CORPORA / name
    if not path.is_dir():
        pytest.skip(f"corpus {path} not found (clone beside ../shared to run this test)")
    return path


def at(report, path: str, line: int):  # type: ignore[no-untyped-def]
    found = [f for f in report.findings if f.path == path and f.line == line]
    assert found, f"no finding at {path}:{line}"
    return found


# -- superclaude-309bc1f: SuperClaude/Core/CLAUDE.md imports its siblings by @NAME.md --------

def test_superclaude_claude_code() -> None:
    top = corpus("superclaude-309bc1f")
    report = run(top)
    # The only root: there is no top-level CLAUDE.md and no .claude/ directory.
    assert report.roots == ["SuperClaude/Core/CLAUDE.md"]
    # Lines 3-10 `@COMMANDS.md` ... `@MODES.md`: all eight files sit next to CLAUDE.md.
    loads = {i.target for i in report.imports if i.loads}
    assert loads == {f"SuperClaude/Core/{n}.md" for n in (
        "COMMANDS", "FLAGS", "PRINCIPLES", "RULES", "MCP", "PERSONAS", "ORCHESTRATOR", "MODES")}
    assert all(f.depth == 1 for f in report.files if not f.root)
    # Line 14 `@USER.md`: the user's own file, not shipped: missing, relative to Core/.
    [user] = at(report, "SuperClaude/Core/CLAUDE.md", 14)
    assert (user.code, user.col, user.target) == ("missing-target", 1, "SuperClaude/Core/USER.md")
    # ORCHESTRATOR.md:306 "| `/load @monorepo/` |": inside a code span, never evaluated.
    [mono] = at(report, "SuperClaude/Core/ORCHESTRATOR.md", 306)
    assert mono.code == "not-evaluated" and "inside inline code" in mono.message
    # COMMANDS.md's `@<path>` placeholders start with `<`: not tokens at all.
    assert not [f for f in report.findings if f.path.endswith("COMMANDS.md")]
    assert (report.files_read, report.imports_found, report.imports_loaded) == (9, 9, 8)
    assert report.exit_code() == 2


def test_superclaude_framework() -> None:
    report = run(corpus("superclaude-309bc1f"), profile="framework")
    # In the framework profile the code span counts, and `monorepo/` exists nowhere.
    [mono] = at(report, "SuperClaude/Core/ORCHESTRATOR.md", 306)
    assert mono.code == "missing-target"
    assert [f.code for f in at(report, "SuperClaude/Core/CLAUDE.md", 14)] == ["missing-target"]


# -- modular-prompts-3.0.0: CLAUDE.md (1522 lines) wires ~190 modules under .claude/ -------------

def test_3_0_0_claude_code_nothing_loads() -> None:
    report = run(corpus("modular-prompts-3.0.0"))
    # CLAUDE.md plus the 18 files of .claude/commands/.
    assert len(report.roots) == 19 and "CLAUDE.md" in report.roots
    # Every @-link of CLAUDE.md sits in ```xml fences (e.g. lines 825-877) or is not
    # preceded by whitespace (`<canonical_source>@...`): Claude Code loads none of them.
    assert report.imports_found == 0 and report.imports_loaded == 0
    assert {f.code for f in report.findings} == {"not-evaluated"}
    # CLAUDE.md:828 `<cmd name = "/auto" module = "@modules/patterns/intelligent-routing.md"/>`
    [auto] = at(report, "CLAUDE.md", 828)
    assert auto.col == 35 and "inside a fenced code block" in auto.message
    # ...and even out of the fence it would resolve from the root, where there is no
    # modules/: the hint names the spelling that would load.
    assert "(the file is `.claude/modules/patterns/intelligent-routing.md`)" in auto.message
    assert auto.hint == ("to load it, move it out of the code block, put whitespace before "
                         "the `@` and write `@.claude/modules/patterns/intelligent-routing.md`")
    # CLAUDE.md:1465 `<current_state>@.claude/state/current-system-state.json` - no .claude/state/.
    [state] = at(report, "CLAUDE.md", 1465)
    assert "does not exist either" in state.message
    # The 18 slash commands are prompts, not memory: checked by their own rules
    # (attached from the project root), and none of their @-mentions is a bare one.
    assert not [f for f in report.findings if f.path.startswith(".claude/commands/")]
    assert report.exit_code() == 0  # info only


def test_3_0_0_framework() -> None:
    report = run(corpus("modular-prompts-3.0.0"), profile="framework")
    by_line = {(f.path, f.line): f for f in report.findings}
    # The state files the framework names were never created (no .claude/state/).
    for line in (1465, 1466, 1495):
        assert by_line[("CLAUDE.md", line)].code == "missing-target"
    # `<meta_modules>@.claude/modules/meta/</meta_modules>` names a directory.
    assert by_line[("CLAUDE.md", 1449)].code == "directory-target"
    assert by_line[(".claude/commands/meta.md", 69)].code == "directory-target"
    # `<link_pattern>@{category}/{subcategory}/{module}.md</link_pattern>`: a template.
    assert by_line[("CLAUDE.md", 848)].code == "template"
    # `@import syntax` (line 1418) is a word, not a file.
    assert by_line[("CLAUDE.md", 1418)].code == "not-a-path"
    # `Implementation file: @.claude/_________________________________`: a fill-in blank.
    assert by_line[(".claude/truth/claim-validator.md", 19)].code == "template"
    # `module = "@modules/patterns/intelligent-routing.md"` resolves under the .claude/ base.
    auto = [i for i in report.imports if i.source == "CLAUDE.md" and i.line == 828]
    assert [(i.target, i.base, i.loads) for i in auto] == [
        (".claude/modules/patterns/intelligent-routing.md", "`.claude/`", True)]
    assert report.files_read > len(report.roots)  # modules are followed in this profile
    assert report.exit_code() == 2


# -- modular-prompts-3.1.0-audit: the same framework after its module reduction ---------------

def test_3_1_0_framework_finds_the_modules_the_reduction_removed() -> None:
    report = run(corpus("modular-prompts-3.1.0-audit"), profile="framework")
    # intelligent-routing.md:10 "Dependencies: [@security/validation, @edge-cases/input-handling,
    # @recovery/command-recovery]": none of these modules survived (no .claude/security/).
    found = [f for f in report.findings
             if f.path == ".claude/modules/patterns/intelligent-routing.md" and f.line == 10]
    assert [(f.col, f.code) for f in found] == [(16, "missing-target"), (38, "missing-target"),
                                                (66, "missing-target")]
    assert "`.claude/security/validation`" in found[0].message  # the .claude/ base was tried
    # Its commands dir kept only README.md.
    assert report.roots == [".claude/commands/README.md", "CLAUDE.md"]


def test_3_1_0_claude_code() -> None:
    report = run(corpus("modular-prompts-3.1.0-audit"))
    assert report.imports_found == 0
    assert {f.code for f in report.findings} == {"not-evaluated", "command-missing-target"}
    # .claude/commands/README.md is a slash command (/README): running it attaches
    # `@modules/category/implementation.md` from the project root, where it is not.
    [readme] = [f for f in report.findings if f.code == "command-missing-target"]
    assert (readme.path, readme.line, readme.col) == (".claude/commands/README.md", 31, 9)
