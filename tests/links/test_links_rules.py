"""Resolution, traversal and every finding of docs/links.md, on small projects."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from links_helpers import codes, only, run
from recovery.links.output import render_text, summary_line

Project = Callable[..., Path]


# -- roots ------------------------------------------------------------------------------

def test_default_roots(project: Project) -> None:
    top = project({
        "CLAUDE.md": "x", ".claude/CLAUDE.md": "x", "CLAUDE.local.md": "x",
        "pkg/sub/CLAUDE.md": "x", ".claude/commands/a.md": "x", ".claude/commands/deep/b.md": "x",
        ".claude/agents/c.md": "x", ".claude/rules/d.md": "x",
        "README.md": "not a root", ".claude/modules/m.md": "not a root",
        ".claude/commands/notes.txt": "not markdown", "node_modules/x/CLAUDE.md": "pruned",
    })
    assert run(top).roots == [
        ".claude/CLAUDE.md", ".claude/agents/c.md", ".claude/commands/a.md",
        ".claude/commands/deep/b.md", ".claude/rules/d.md", "CLAUDE.local.md", "CLAUDE.md",
        "pkg/sub/CLAUDE.md"]


def test_roots_are_configurable_globs(project: Project) -> None:
    top = project({"CLAUDE.md": "@missing.md", "prompts/a.md": "x", "prompts/b/c.md": "x"})
    report = run(top, roots=["prompts/**/*.md"])
    assert report.roots == ["prompts/a.md", "prompts/b/c.md"]
    assert report.findings == []


def test_no_roots_is_not_an_error(project: Project) -> None:
    report = run(project({"README.md": "@x.md"}))
    assert report.roots == [] and report.exit_code() == 0
    assert "no root files found" in render_text(report)


# -- resolution -----------------------------------------------------------------------------

def test_relative_to_the_importing_file_not_the_root(project: Project) -> None:
    top = project({
        ".claude/CLAUDE.md": "@.claude/x.md\n@x.md\n",
        ".claude/x.md": "x",
    })
    report = run(top)
    [missing] = only(report, "missing-target")
    assert (missing.path, missing.line, missing.col) == (".claude/CLAUDE.md", 1, 1)
    assert missing.target == ".claude/.claude/x.md"
    assert missing.hint == ("resolves to `.claude/x.md` relative to the project root, but imports "
                            "resolve relative to the importing file: write `@x.md`")
    assert [i.status for i in report.imports] == ["missing", "loads"]


def test_parent_directory_import(project: Project) -> None:
    top = project({"CLAUDE.md": "@docs/a.md", "docs/a.md": "@../shared/b.md", "shared/b.md": "b"})
    report = run(top)
    assert report.findings == [] and report.imports_loaded == 2
    assert {f.path: f.depth for f in report.files} == {"CLAUDE.md": 0, "docs/a.md": 1, "shared/b.md": 2}


def test_home_and_absolute_paths_are_outside(project: Project, hermetic_env: Path) -> None:
    (hermetic_env / "mine.md").write_text("home")
    top = project({"CLAUDE.md": "@~/mine.md\n@/etc/hostname\n@../../x.md\n"})
    report = run(top)
    outside = only(report, "outside-project")
    assert [(f.line, f.target, f.severity) for f in outside] == [
        (1, "~/mine.md", "warning"), (2, "/etc/hostname", "warning"),
        (3, os.path.normpath(str(top / "../../x.md")), "warning")]
    assert "`claude -p` never does" in outside[0].message
    assert report.imports_outside == 3 and report.imports_loaded == 0
    assert report.files_read == 1  # nothing outside was read


def test_absolute_path_inside_the_project_resolves(project: Project) -> None:
    top = project({"a.md": "x"})
    (top / "CLAUDE.md").write_text(f"@{top}/a.md\n")
    report = run(top)
    assert report.findings == [] and report.imports_loaded == 1


def test_fragment_is_stripped_and_warned(project: Project) -> None:
    report = run(project({"CLAUDE.md": "@a.md#setup\n", "a.md": "x"}))
    [frag] = report.findings
    assert (frag.code, frag.severity) == ("fragment", "warning")
    assert "`#setup`" in frag.message
    assert report.imports_loaded == 1


def test_directory_target(project: Project) -> None:
    report = run(project({"CLAUDE.md": "@docs/\n", "docs/a.md": "x"}))
    assert codes(report) == [("CLAUDE.md", 1, 1, "directory-target")]
    assert report.findings[0].severity == "warning"


# -- missing targets and hints ----------------------------------------------------------------

def test_missing_target_is_an_error_with_the_tried_path(project: Project) -> None:
    report = run(project({"CLAUDE.md": "intro\n\nsee @docs/guide.md today\n"}))
    [f] = report.findings
    assert (f.path, f.line, f.col, f.code, f.severity) == ("CLAUDE.md", 3, 5, "missing-target", "error")
    assert f.target == "docs/guide.md"
    assert "`docs/guide.md` not found" in f.message
    assert report.exit_code() == 2


def test_trailing_punctuation_hint(project: Project) -> None:
    report = run(project({"CLAUDE.md": "Read @notes.md, then stop.\n", "notes.md": "x"}))
    [f] = report.findings
    assert f.code == "missing-target" and f.target == "notes.md,"
    assert f.hint and f.hint.startswith("resolves to `notes.md` if the trailing `,` is dropped")


def test_trailing_html_tag_ends_the_path(project: Project) -> None:
    # An inline tag ends the text run, so the client loads x.md: no finding, and
    # no hint that would "fix" a working import.
    report = run(project({"CLAUDE.md": "<b>x</b> see @x.md</rule>\n", "x.md": "x"}))
    assert report.findings == [] and report.imports_loaded == 1


def test_framework_base_hint(project: Project) -> None:
    report = run(project({"CLAUDE.md": "@modules/a.md\n", ".claude/modules/a.md": "x"}))
    [f] = report.findings
    assert f.code == "missing-target"
    assert f.hint == ("resolves to `.claude/modules/a.md` under `.claude/` (framework base), but "
                      "imports resolve relative to the importing file: write `@.claude/modules/a.md`")


def test_punctuation_and_base_hint_combined(project: Project) -> None:
    report = run(project({"CLAUDE.md": "see @modules/a.md, ok\n", ".claude/modules/a.md": "x"}))
    [f] = report.findings
    assert f.hint and f.hint.startswith(
        "resolves to `.claude/modules/a.md` if the trailing `,` is dropped and read under `.claude/`")


def test_missing_extension_and_case_hints(project: Project) -> None:
    report = run(project({"CLAUDE.md": "@guide\n@docs/readme.md\n", "guide.md": "x",
                          "docs/README.md": "x"}))
    hints = [f.hint for f in report.findings]
    assert hints[0] == "`guide.md` exists: add the `.md` extension: write `@guide.md`"
    assert hints[1] == ("`docs/README.md` exists with different letter case: write "
                        "`@docs/README.md`")


def test_backticks_hint_only_for_tokens_inside_prose(project: Project) -> None:
    report = run(project({"CLAUDE.md": "@gone.md\nrun npm i @types/node now\n"}))
    by_line = {f.line: f for f in report.findings}
    assert by_line[1].hint is None  # alone on its line: clearly meant as an import
    assert (by_line[2].code, by_line[2].severity) == ("unresolved-name", "warning")


def test_token_that_does_not_look_like_a_path_is_info(project: Project) -> None:
    report = run(project({"CLAUDE.md": "ping @someone about @dataclass and @pytest.mark.unit\n"}))
    assert [(f.code, f.severity) for f in report.findings] == [("not-a-path", "info")] * 3
    assert report.exit_code() == 0


def test_template_in_claude_code_is_missing_with_a_template_hint(project: Project) -> None:
    report = run(project({"CLAUDE.md": "load @modules/{name}.md\n"}))
    [f] = report.findings
    assert f.code == "missing-target" and f.hint and "template" in f.hint


# -- not evaluated (claude-code info) ---------------------------------------------------------

def test_not_evaluated_tokens_are_info_with_reason(project: Project) -> None:
    top = project({
        "CLAUDE.md": ("```\n@a.md\n```\n\n<!-- @b.md -->\n\nsee (@a.md) and `@zz/none.md`\n\n"
                      "```py\n@dataclass\n```\n"),
        "a.md": "x", "b.md": "x",
    })
    report = run(top)
    infos = only(report, "not-evaluated")
    assert [(f.line, f.severity) for f in infos] == [(2, "info"), (5, "info"), (7, "info"), (7, "info")]
    assert "inside a fenced code block" in infos[0].message and "exists" in infos[0].message
    assert infos[0].hint == "to load it, move it out of the code block"
    assert "inside an HTML comment" in infos[1].message
    assert "not preceded by whitespace (follows `(`)" in infos[2].message
    assert "inside inline code" in infos[3].message and "does not exist either" in infos[3].message
    # `@dataclass` in code is not a link at all: nothing said
    assert report.imports_found == 0


def test_framework_profile_has_no_not_evaluated(project: Project) -> None:
    report = run(project({"CLAUDE.md": "```\n@a.md\n```\n", "a.md": "x"}), profile="framework")
    assert report.findings == [] and report.imports_loaded == 1


# -- framework resolution ------------------------------------------------------------------------

def test_framework_bases_in_order_and_reported(project: Project) -> None:
    top = project({
        ".claude/commands/do.md": "@helper.md\n@docs/top.md\n@modules/m.md\n",
        ".claude/commands/helper.md": "x", "docs/top.md": "x", ".claude/modules/m.md": "x",
    })
    report = run(top, profile="framework")
    assert report.findings == []
    assert [(i.target, i.base) for i in report.imports] == [
        (".claude/commands/helper.md", "the importing file's directory"),
        ("docs/top.md", "the project root"),
        (".claude/modules/m.md", "`.claude/`")]


def test_framework_ambiguous_bases_warn(project: Project) -> None:
    top = project({"CLAUDE.md": "@README.md\n", "README.md": "a", ".claude/README.md": "b"})
    report = run(top, profile="framework")
    [f] = report.findings
    assert (f.code, f.severity) == ("ambiguous-base", "warning")
    assert "`.claude/README.md`" in f.message


def test_framework_missing_lists_every_tried_path(project: Project) -> None:
    top = project({"sub/CLAUDE.md": "@nope/x.md\n", ".claude/keep": ""})
    [f] = run(top, profile="framework").findings
    assert f.message == ("`@nope/x.md`: not found (tried `sub/nope/x.md`, `nope/x.md`, "
                         "`.claude/nope/x.md`)")


def test_framework_template_is_info(project: Project) -> None:
    report = run(project({"CLAUDE.md": "<p>@{category}/{module}.md</p>\n"}), profile="framework")
    assert [(f.code, f.severity) for f in report.findings] == [("template", "info")]


def test_configured_bases(project: Project) -> None:
    top = project({"CLAUDE.md": "@x.md\n", "prompts/x.md": "x"})
    assert run(top, profile="framework", bases=["prompts"]).findings == []
    assert only(run(top, profile="framework"), "missing-target")


# -- traversal: depth, cycles, read once -----------------------------------------------------

def chain_project(project: Project, length: int) -> Path:
    files = {"CLAUDE.md": "@f1.md\n"}
    for i in range(1, length + 1):
        files[f"f{i}.md"] = f"@f{i + 1}.md\n" if i < length else "end\n"
    return project(files)


def test_depth_limit_counts_hops_from_the_root(project: Project) -> None:
    top = chain_project(project, 7)  # CLAUDE.md -> f1 (1 hop) ... f7 (7 hops)
    report = run(top)
    [f] = only(report, "depth-exceeded")
    assert (f.path, f.line, f.severity) == ("f4.md", 1, "error")
    assert f.target == "f5.md"
    assert f.chain == ("CLAUDE.md", "f1.md", "f2.md", "f3.md", "f4.md", "f5.md")
    assert "5 hops" in f.message and "limit 4" in f.message
    assert max(x.depth for x in report.files) == 4
    assert "f6.md" not in {x.path for x in report.files}  # beyond the limit: never read


def test_depth_is_configurable_and_na_in_framework(project: Project) -> None:
    top = chain_project(project, 7)
    assert only(run(top, depth=3), "depth-exceeded")[0].target == "f4.md"
    assert run(top, depth="none").findings == []
    assert run(top, profile="framework").findings == []
    assert only(run(top, profile="framework", depth=3), "depth-exceeded")[0].target == "f4.md"


def test_depth_is_fixed_by_the_first_route_depth_first(project: Project) -> None:
    # The client walks depth-first with one visited set: f4 is first reached at hop 4
    # through f1-f3, so f5 is cut even though the root also imports f4 directly.
    top = chain_project(project, 7)
    (top / "CLAUDE.md").write_text("@f1.md\n@f4.md\n")
    report = run(top)
    [f] = only(report, "depth-exceeded")
    assert f.chain == ("CLAUDE.md", "f1.md", "f2.md", "f3.md", "f4.md", "f5.md")
    assert {x.path: x.depth for x in report.files}["f4.md"] == 4


def test_cycle_with_full_chain(project: Project) -> None:
    top = project({"CLAUDE.md": "@a.md\n", "a.md": "@b.md\n", "b.md": "text\n\n@a.md\n"})
    report = run(top)
    [f] = report.findings
    assert (f.code, f.severity, f.path, f.line) == ("cycle", "warning", "b.md", 3)
    assert f.chain == ("a.md", "b.md", "a.md")
    assert "a.md → b.md → a.md" in f.message


def test_self_import_is_a_cycle(project: Project) -> None:
    [f] = run(project({"CLAUDE.md": "@CLAUDE.md\n"})).findings
    assert f.code == "cycle" and f.chain == ("CLAUDE.md", "CLAUDE.md")


def test_each_file_is_read_once(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    top = project({"CLAUDE.md": "@a.md @b.md @a.md\n", "a.md": "@b.md\n", "b.md": "@a.md\n",
                   ".claude/commands/c.md": "@../../a.md\n"})
    from recovery.links import files

    seen: list[str] = []
    real = files.read_content
    monkeypatch.setattr(files, "read_content",
                        lambda path, *a, **k: seen.append(path) or real(path, *a, **k))
    report = run(top)
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 4  # the command too, once
    assert report.files_read == 3  # memory files; a slash command is not memory
    assert report.imports_found == 5 and report.imports_loaded == 5


def test_counts_in_summary(project: Project) -> None:
    top = project({"CLAUDE.md": "@a.md\n@gone.md\n@~/x.md\n`@code.md`\n", "a.md": "x"})
    report = run(top)
    assert (report.files_read, report.imports_found, report.imports_loaded,
            report.imports_outside) == (2, 3, 1, 1)
    assert summary_line(report) == (
        "links (claude-code): 1 root, read 2 files, found 3 imports, 1 would load, 1 more point "
        "outside the project (need approval); 1 error, 1 warning, 1 info")


# -- corrupted and unreadable targets ----------------------------------------------------------

def test_content_problems_at_the_import_site(project: Project) -> None:
    top = project({"CLAUDE.md": "@bin.md\n@bad.md\n@empty.md\n@blank.md\n",
                   "bin.md": b"PK\x03\x04\x00\x00", "bad.md": b"caf\xe9\n", "empty.md": b"",
                   "blank.md": b"\n  \n"})
    report = run(top)
    assert [(f.line, f.code, f.severity) for f in report.findings] == [
        (1, "corrupted-target", "warning"), (2, "corrupted-target", "warning"),
        (3, "empty-target", "warning"), (4, "empty-target", "warning")]
    assert "binary" in report.findings[0].message
    assert "not valid UTF-8 (byte 0xe9 on line 1)" in report.findings[1].message
    assert "only whitespace" in report.findings[3].message


def test_corrupted_root_is_reported_at_the_root(project: Project) -> None:
    report = run(project({"CLAUDE.md": b"\xff\xfe\x00x"}))
    assert codes(report) == [("CLAUDE.md", 1, 1, "corrupted-target")]


def test_bom_is_ignored(project: Project) -> None:
    report = run(project({"CLAUDE.md": "\ufeff@a.md\n".encode(), "a.md": "x"}))
    assert report.findings == [] and report.imports_loaded == 1


# -- excludes -------------------------------------------------------------------------------------

def test_excludes_drop_roots_and_do_not_read_targets(project: Project) -> None:
    top = project({"CLAUDE.md": "@archive/old.md\n", "archive/old.md": "@gone.md\n",
                   "archive/CLAUDE.md": "@gone.md\n"})
    assert len(only(run(top), "missing-target")) == 2
    report = run(top, exclude=["archive"])
    assert report.findings == [] and report.roots == ["CLAUDE.md"]
    assert [i.status for i in report.imports] == ["excluded"]


def test_a_tangle_reports_at_most_ten_cycles_with_short_chains(project: Project) -> None:
    # 30 files, each importing the next eight (mod 30): 36 imports close cycles in
    # one strongly connected group.
    files = {"CLAUDE.md": "@m0.md\n"}
    for i in range(30):
        files[f"m{i}.md"] = "".join(f"@m{(i + k) % 30}.md\n" for k in range(1, 9))
    report = run(project(files), depth="none")
    cycles = only(report, "cycle")
    assert len(cycles) == 10
    assert sum("26 more imports close cycles among the 30 files of this group" in f.message
               for f in cycles) == 1
    for f in cycles:
        assert f.chain[0] == f.chain[-1] and f.chain[-2] == f.path
        assert len(f.chain) <= 6  # the shortest cycle through the closing import


def test_two_separate_cycles_are_both_reported(project: Project) -> None:
    top = project({"CLAUDE.md": "@a.md\n@c.md\n", "a.md": "@b.md\n", "b.md": "@a.md\n",
                   "c.md": "@d.md\n", "d.md": "@c.md\n"})
    assert [f.chain for f in only(run(top), "cycle")] == [("a.md", "b.md", "a.md"),
                                                          ("c.md", "d.md", "c.md")]


def test_not_evaluated_hint_names_every_step(project: Project) -> None:
    top = project({".claude/CLAUDE.md": "```xml\n<m>@modules/a.md</m>\n```\n",
                   ".claude/modules/a.md": "x"})
    [f] = run(top).findings
    # resolves from .claude/ itself, so moving it and adding a space are enough
    assert f.hint == "to load it, move it out of the code block and put whitespace before the `@`"
    top = project({"CLAUDE.md": "```xml\n<m>@modules/a.md</m>\n```\n"})
    [f] = [x for x in run(top).findings if x.path == "CLAUDE.md"]
    # from the root it needs the .claude/ prefix too
    assert f.hint == ("to load it, move it out of the code block, put whitespace before the `@` "
                      "and write `@.claude/modules/a.md`")


def test_html_blocks_evaluate_setting(project: Project) -> None:
    top = project({"CLAUDE.md": "<rules>\n@a.md\n@gone.md\n</rules>\n", "a.md": "x"})
    assert [f.code for f in run(top).findings] == ["not-evaluated", "not-evaluated"]
    report = run(top, html_blocks="evaluate")
    assert [(f.line, f.code) for f in report.findings] == [(3, "missing-target")]
    assert report.imports_loaded == 1


def test_exit_code_levels(project: Project) -> None:
    report = run(project({"CLAUDE.md": "@a.md#x\n`@b.md`\n", "a.md": "x", "b.md": "x"}))
    assert [f.severity for f in report.findings] == ["warning", "info"]
    assert (report.exit_code(), report.exit_code("warning"), report.exit_code("info"),
            report.exit_code("none")) == (0, 2, 2, 0)
    assert run(report.toplevel, fail_level="warning").exit_code() == 2


def test_walk_prunes_vcs_and_virtualenvs(project: Project) -> None:
    top = project({"CLAUDE.md": "x", ".venv/lib/CLAUDE.md": "@gone.md", ".git/CLAUDE.md": "@gone.md",
                   "pkg/CLAUDE.md": "x"})
    assert run(top).roots == ["CLAUDE.md", "pkg/CLAUDE.md"]
