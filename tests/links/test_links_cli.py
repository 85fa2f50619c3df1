"""`git-recover links` as a user runs it: separate processes, real git repositories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from links_helpers import ROOT, cli

from recovery.base.errors import RecoverError

Project = Callable[..., Path]

FRAMEWORK = {
    "CLAUDE.md": "# Project\n\n@.claude/rules/style.md\n@docs/guide.md\n",
    ".claude/rules/style.md": "Use tabs. See @../../docs/guide.md\n",
    "docs/guide.md": "Guide\n",
}


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)


def test_no_arguments_inside_a_repository_checks_the_top_level(project: Project) -> None:
    top = project({**FRAMEWORK, "sub/dir/x.txt": "x"})
    git(top, "init", "-q")
    proc = cli(top / "sub" / "dir", "links")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == (
        "links (claude-code): 2 roots, read 3 files, found 3 imports, 3 would load; "
        "0 errors, 0 warnings, 0 info")


def test_plain_directory_outside_git(project: Project) -> None:
    top = project(FRAMEWORK)
    assert cli(top, "links").returncode == 0
    elsewhere = top.parent
    proc = cli(elsewhere, "links", str(top))
    assert proc.returncode == 0 and "found 3 imports" in proc.stdout


def test_findings_exit_2_and_fail_level(project: Project) -> None:
    top = project({**FRAMEWORK, "CLAUDE.md": "@docs/gone.md\n@docs/guide.md#part\n"})
    proc = cli(top, "links")
    assert proc.returncode == 2
    assert "CLAUDE.md:1:1: error missing-target `@docs/gone.md`: `docs/gone.md` not found" in proc.stdout
    assert cli(top, "links", "--fail-level", "none").returncode == 0
    (top / "docs" / "gone.md").write_text("back\n")
    assert cli(top, "links").returncode == 0  # only the fragment warning is left
    assert cli(top, "links", "--fail-level", "warning").returncode == 2


@pytest.mark.parametrize("args", [
    ["links", "--profile", "nope"],
    ["links", "--format", "xml"],
    ["links", "--depth", "0"],
    ["links", "--depth", "many"],
    ["links", "--graph", "dot", "--format", "json"],
    ["links", "--root", "missing.md"],
    ["links", "--no-such-option"],
    ["links", "does/not/exist"],
])
def test_bad_arguments_exit_3(project: Project, args: list[str]) -> None:
    top = project(FRAMEWORK)
    proc = cli(top, *args)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr


def test_bad_config_exits_3_with_one_line(project: Project) -> None:
    top = project({**FRAMEWORK, ".recover.toml": "[links]\nprofile = 'x'\n"})
    proc = cli(top, "links")
    assert proc.returncode == 3
    assert proc.stderr.strip() == ("git-recover: .recover.toml: links.profile: expected one of "
                                   "claude-code, framework, got 'x'")


def test_runtime_error_is_exit_1_from_the_api(tmp_path: Path) -> None:
    from recovery.links import check

    (tmp_path / "file").write_text("x")
    with pytest.raises(RecoverError) as err:
        check(tmp_path / "file")
    assert err.value.exit_code == 1


def test_options_override_config(project: Project) -> None:
    top = project({
        "CLAUDE.md": "@modules/a.md\n", ".claude/modules/a.md": "x", "prompts/modules/a.md": "x",
        "archive/CLAUDE.md": "@gone.md\n",
        ".recover.toml": "[links]\nprofile = 'framework'\nexclude = ['archive']\n",
    })
    assert cli(top, "links").returncode == 0
    assert cli(top, "links", "--profile", "claude-code").returncode == 2
    proc = cli(top, "links", "--base", "prompts", "--format", "json")
    data = json.loads(proc.stdout)
    assert data["imports"][0]["target"] == "prompts/modules/a.md"
    proc = cli(top, "links", "--root", "archive/CLAUDE.md", "--root", "CLAUDE.md")
    assert proc.returncode == 0  # archive stays excluded: --exclude adds, never removes
    proc = cli(top, "links", "--exclude", "CLAUDE.md", "--format", "json")
    assert json.loads(proc.stdout)["summary"]["roots"] == 0


def test_depth_option(project: Project) -> None:
    top = project({"CLAUDE.md": "@a.md\n", "a.md": "@b.md\n", "b.md": "@c.md\n", "c.md": "x"})
    assert cli(top, "links").returncode == 0
    proc = cli(top, "links", "--depth", "2")
    assert proc.returncode == 2 and "depth-exceeded" in proc.stdout
    assert cli(top, "links", "--depth", "none").returncode == 0


def test_formats(project: Project) -> None:
    top = project({**FRAMEWORK, "CLAUDE.md": "@gone.md\n"})
    data = json.loads(cli(top, "links", "--format", "json").stdout)
    assert data["findings"][0]["code"] == "missing-target"
    sarif = json.loads(cli(top, "links", "--format", "sarif").stdout)
    assert sarif["runs"][0]["results"][0]["ruleId"] == "missing-target"
    proc = cli(top, "links", "--graph", "mermaid")
    assert proc.returncode == 2 and proc.stdout.startswith("graph LR\n")
    assert proc.stderr.startswith("links (claude-code):")
    assert cli(top, "links", "--graph", "dot").stdout.startswith("digraph links {")


def test_quiet_hides_info(project: Project) -> None:
    top = project({"CLAUDE.md": "`@a.md`\n", "a.md": "x"})
    assert "not-evaluated" in cli(top, "links").stdout
    assert "not-evaluated" not in cli(top, "links", "-q").stdout


def test_help_lists_the_command() -> None:
    proc = cli(ROOT, "--help")
    assert "links" in proc.stdout
    proc = cli(ROOT, "links", "--help")
    assert proc.returncode == 0 and "--fail-level" in proc.stdout


def test_closed_pipe_is_not_a_traceback(project: Project) -> None:
    files = {"CLAUDE.md": "".join(f"@gone{i}.md\n" for i in range(3000))}
    top = project(files)
    proc = subprocess.run(f"'{sys.executable}' -m recovery links | head -1", shell=True, cwd=top,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.startswith("CLAUDE.md:1:1:")
    assert "Traceback" not in proc.stderr


def test_pre_commit_hook_blocks_a_commit_that_breaks_an_import(project: Project) -> None:
    """What the `recover-links` hook does (entry: git-recover links, pass_filenames:
    false), driven by git itself through a plain pre-commit hook script."""
    top = project(FRAMEWORK)
    git(top, "init", "-q", "-b", "main")
    hook = top / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\nPYTHONPATH='{ROOT}' exec '{sys.executable}' -m recovery links -q\n")
    hook.chmod(0o755)
    git(top, "add", "-A")
    ok = git(top, "commit", "-q", "-m", "framework")
    assert ok.returncode == 0, ok.stderr
    (top / "docs" / "guide.md").unlink()
    git(top, "add", "-A")
    blocked = git(top, "commit", "-q", "-m", "drop the guide")
    assert blocked.returncode != 0
    out = blocked.stdout + blocked.stderr
    assert "CLAUDE.md:4:1: error missing-target `@docs/guide.md`: `docs/guide.md` not found" in out
    assert ".claude/rules/style.md:1:15: error missing-target" in out
    assert git(top, "rev-list", "--count", "HEAD").stdout.strip() == "1"


def test_verbose_lists_every_import_and_its_base(project: Project) -> None:
    top = project({"CLAUDE.md": "@modules/a.md\n@gone.md\n", ".claude/modules/a.md": "x"})
    lines = cli(top, "links", "-v", "--profile", "framework").stdout.splitlines()
    assert lines[:2] == [
        "CLAUDE.md:1:1: import @modules/a.md -> .claude/modules/a.md (via `.claude/`): loads",
        "CLAUDE.md:2:1: import @gone.md -> gone.md: missing"]


def test_explain_shows_the_chain_or_why_not(tmp_path: Path) -> None:
    from links_helpers import cli, write_tree

    top = write_tree(tmp_path, {"CLAUDE.md": "@a.md\n@deep1.md\n", "a.md": "@b.md\n", "b.md": "B\n",
                                "deep1.md": "@deep2.md\n", "deep2.md": "@deep3.md\n",
                                "deep3.md": "@deep4.md\n", "deep4.md": "@deep5.md\n",
                                "deep5.md": "5\n", "lonely.md": "x\n",
                                ".claude/commands/go.md": "@a.md\n"})
    out = cli(top, "links", "--explain", "b.md").stdout
    assert out.splitlines()[:2] == ["b.md: loads (2 hop(s) from `CLAUDE.md`)",
                                    "  chain: CLAUDE.md → a.md → b.md"]
    out = cli(top, "links", "--explain", "deep5.md").stdout
    assert out.startswith("deep5.md: never loads: no import above reaches it")
    assert "deep4.md:1:1: `@deep5.md` does not load (beyond-depth)" in out
    assert cli(top, "links", "--explain", "lonely.md").stdout == (
        "lonely.md: never loads: no root or loaded file imports it\n")
    assert "never memory" in cli(top, "links", "--explain", ".claude/commands/go.md").stdout


def test_client_version_option(tmp_path: Path) -> None:
    from links_helpers import cli, write_tree

    top = write_tree(tmp_path, {"CLAUDE.md": "@a.mdx\n@b.md#part\n", "a.mdx": "A\n", "b.md": "B\n"})
    new = cli(top, "links", "--format", "json")
    codes = [f["code"] for f in json.loads(new.stdout)["findings"]]
    assert codes == ["not-text-extension", "fragment"] and new.returncode == 2
    old = cli(top, "links", "--format", "json", "--client-version", "2.0")
    data = json.loads(old.stdout)
    assert data["settings"]["client_version"] == "2.0"
    # 2.0.x: any extension loads, and the fragment stays in the path (not found).
    assert [(f["code"], f["line"]) for f in data["findings"]] == [("missing-target", 2)]
    bad = cli(top, "links", "--client-version", "9.9")
    assert bad.returncode == 3 and "no rules known for Claude Code" in bad.stderr
