"""Differential tests: each project runs through the real Claude Code client (the
pinned version, against a local stand-in for its API) and through the validator,
and the set of files the client put into the model's context must equal the set
the validator says loads.

The client's load set is read from the request it sends: every ``Contents of
<path>`` block (tests/claude).  Projects with nested memory script a ``Read`` of a
file in the subdirectory first, which is what makes the client load it.  Every
project also asserts which files it expects, so a test cannot pass because both
sides loaded nothing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from links_helpers import write_tree

from claude.client import Client
from claude.standin import StandIn, text, tool_use
from recovery.links import check

BIG = "x" * (4 * 1024 * 1024) + "\n"
CHAIN = {"CLAUDE.md": "@h1.md\n", "h1.md": "@h2.md\n", "h2.md": "@h3.md\n",
         "h3.md": "@h4.md\n", "h4.md": "@h5.md\n", "h5.md": "five\n"}

# name -> (files, files expected to load, file to Read first or None).
# Symlinks are written as ("->", target).
PROJECTS: dict[str, tuple[dict[str, str | bytes | tuple[str, str]], set[str], str | None]] = {
    "basic": ({"CLAUDE.md": "see @a.md\n", "a.md": "A\n"}, {"CLAUDE.md", "a.md"}, None),
    "relative-to-importer": (
        {"CLAUDE.md": "@docs/a.md\n", "docs/a.md": "@b.md\n", "docs/b.md": "B\n", "b.md": "no\n"},
        {"CLAUDE.md", "docs/a.md", "docs/b.md"}, None),
    "dot-claude-prefix-mistake": (
        {".claude/CLAUDE.md": "@.claude/x.md\n", ".claude/x.md": "X\n"}, {".claude/CLAUDE.md"}, None),
    "depth-hop-5-never": (CHAIN, {"CLAUDE.md", "h1.md", "h2.md", "h3.md", "h4.md"}, None),
    "depth-first-fixes-depth": (
        {"CLAUDE.md": "@a1.md\n@x.md\n", "a1.md": "@a2.md\n", "a2.md": "@a3.md\n",
         "a3.md": "@x.md\n", "x.md": "@y.md\n", "y.md": "Y\n"},
        {"CLAUDE.md", "a1.md", "a2.md", "a3.md", "x.md"}, None),
    "visited-shared-by-roots": (
        {"CLAUDE.md": "@c1.md\n", "c1.md": "@c2.md\n", "c2.md": "@c3.md\n", "c3.md": "@z.md\n",
         "z.md": "@w.md\n", "w.md": "W\n", ".claude/CLAUDE.md": "@../z.md\n"},
        {"CLAUDE.md", "c1.md", "c2.md", "c3.md", "z.md", ".claude/CLAUDE.md"}, None),
    "cycle": ({"CLAUDE.md": "@a.md\n", "a.md": "@b.md\n", "b.md": "@a.md\n@CLAUDE.md\n"},
              {"CLAUDE.md", "a.md", "b.md"}, None),
    "emphasis-starts-a-run": (
        {"CLAUDE.md": "**@a.md** and *@b.md* and _@c.md_\n", "a.md": "A\n", "b.md": "B\n",
         "c.md": "C\n"}, {"CLAUDE.md", "a.md", "b.md", "c.md"}, None),
    "link-bracket": ({"CLAUDE.md": "see [@d.md](https://example.com)\n", "d.md": "D\n"},
                     {"CLAUDE.md", "d.md"}, None),
    "inline-tag": ({"CLAUDE.md": "text <span>@e.md</span> more\n", "e.md": "E\n"},
                   {"CLAUDE.md", "e.md"}, None),
    "escape-starts-a-run": ({"CLAUDE.md": "a \\*@a.md\n", "a.md": "A\n"}, {"CLAUDE.md", "a.md"}, None),
    "code-span-skipped": ({"CLAUDE.md": "see `@a.md` here\n", "a.md": "A\n"}, {"CLAUDE.md"}, None),
    "fenced-code-skipped": ({"CLAUDE.md": "text\n\n```\n@a.md\n```\n", "a.md": "A\n"}, {"CLAUDE.md"}, None),
    "indented-code-skipped": ({"CLAUDE.md": "text\n\n    @a.md\n", "a.md": "A\n"}, {"CLAUDE.md"}, None),
    "list-item-code-span-raw": ({"CLAUDE.md": "- `x @a.md y`\n", "a.md": "A\n"}, {"CLAUDE.md", "a.md"}, None),
    "list-item-comment-raw": ({"CLAUDE.md": "- item <!-- @b.md -->\n", "b.md": "B\n"},
                              {"CLAUDE.md", "b.md"}, None),
    "comment-block-skipped": ({"CLAUDE.md": "text\n\n<!-- @a.md -->\n", "a.md": "A\n"}, {"CLAUDE.md"}, None),
    "text-after-comment-close": ({"CLAUDE.md": "text\n\n<!-- note --> @b.md\n", "b.md": "B\n"},
                                 {"CLAUDE.md", "b.md"}, None),
    "html-block-skipped": ({"CLAUDE.md": "text\n\n<div>\n@a.md\n</div>\n", "a.md": "A\n"}, {"CLAUDE.md"}, None),
    "frontmatter-stripped": ({"CLAUDE.md": "---\nsee: @a.md\n---\n@b.md\n", "a.md": "A\n", "b.md": "B\n"},
                             {"CLAUDE.md", "b.md"}, None),
    "empty-after-frontmatter-dropped": (
        {"CLAUDE.md": "@e.md\n@f.md\n", "e.md": "---\nk: v\n---\n", "f.md": "<!-- only -->\n"},
        {"CLAUDE.md"}, None),
    "extension-allow-list": (
        {"CLAUDE.md": "@a.mdx @b.mdc @c.markdown @d.jsonl @e.txt @f.json @noext @g.py\n",
         "a.mdx": "A\n", "b.mdc": "B\n", "c.markdown": "C\n", "d.jsonl": "{}\n", "e.txt": "E\n",
         "f.json": "{}\n", "noext": "N\n", "g.py": "x = 1\n"},
        {"CLAUDE.md", "e.txt", "f.json", "noext", "g.py"}, None),
    "over-4-mib-dropped": ({"CLAUDE.md": "@big.md @small.md\n", "big.md": BIG, "small.md": "s\n"},
                           {"CLAUDE.md", "small.md"}, None),
    "invalid-utf8-and-nul-load": (
        {"CLAUDE.md": "@bad.md @nul.md\n", "bad.md": b"\xff\xfe bad @c.md\n", "nul.md": b"a\x00b\n",
         "c.md": "C\n"}, {"CLAUDE.md", "bad.md", "nul.md", "c.md"}, None),
    "symlinked-root-resolves-at-target": (
        {"CLAUDE.md": ("->", "docs/main.md"), "docs/main.md": "@sib.md\n", "docs/sib.md": "S\n",
         "sib.md": "wrong\n"}, {"docs/main.md", "docs/sib.md"}, None),
    "symlinked-import": ({"CLAUDE.md": "@link.md\n", "link.md": ("->", "real/x.md"),
                          "real/x.md": "@y.md\n", "real/y.md": "Y\n"},
                         {"CLAUDE.md", "real/x.md", "real/y.md"}, None),
    "fragment-cut": ({"CLAUDE.md": "@a.md#section\n", "a.md": "A\n"}, {"CLAUDE.md", "a.md"}, None),
    "trailing-punctuation-kept": ({"CLAUDE.md": "see @a.md, then\n", "a.md": "A\n"}, {"CLAUDE.md"}, None),
    "escaped-space": ({"CLAUDE.md": "@my\\ file.md\n", "my file.md": "M\n"},
                      {"CLAUDE.md", "my file.md"}, None),
    "needs-whitespace-before": ({"CLAUDE.md": "x@a.md (@b.md)\n", "a.md": "A\n", "b.md": "B\n"},
                                {"CLAUDE.md"}, None),
    "javascript-whitespace": ({"CLAUDE.md": "x\u00a0@a.md x\u0085@b.md\n", "a.md": "A\n", "b.md": "B\n"},
                              {"CLAUDE.md", "a.md"}, None),
    "rules-recursive": (
        {".claude/rules/style.md": "@extra.md\n", ".claude/rules/extra.md": "E\n",
         ".claude/rules/sub/deep.md": "@../../../top.md\n", "top.md": "T\n"},
        {".claude/rules/style.md", ".claude/rules/extra.md", ".claude/rules/sub/deep.md", "top.md"},
        None),
    "local-memory": ({"CLAUDE.local.md": "@l.md\n", "l.md": "L\n"}, {"CLAUDE.local.md", "l.md"}, None),
    "outside-not-approved": ({"CLAUDE.md": "@../outside.md @~/home.md\n"}, {"CLAUDE.md"}, None),
    "heading-and-blockquote": ({"CLAUDE.md": "# @a.md\n\n> @b.md\n", "a.md": "A\n", "b.md": "B\n"},
                               {"CLAUDE.md", "a.md", "b.md"}, None),
    "no-gfm-tables": ({"CLAUDE.md": "| @a.md | x |\n|---|---|\n| 1 | 2 |\n", "a.md": "A\n"},
                      {"CLAUDE.md", "a.md"}, None),
    "nested-memory-on-read": (
        {"CLAUDE.md": "root\n", "sub/CLAUDE.md": "@n.md\n", "sub/n.md": "N\n", "sub/file.txt": "f\n"},
        {"CLAUDE.md", "sub/CLAUDE.md", "sub/n.md"}, "sub/file.txt"),
    "commands-are-not-memory": (
        {"CLAUDE.md": "root\n", ".claude/commands/go.md": "@a.md\n", "a.md": "A\n"}, {"CLAUDE.md"}, None),
    "agents-are-not-memory": (
        {"CLAUDE.md": "root\n", ".claude/agents/rev.md": "---\nname: rev\n---\n@b.md\n", "b.md": "B\n"},
        {"CLAUDE.md"}, None),
    "email-is-not-an-import": ({"CLAUDE.md": "mail x@a.md\n", "a.md": "A\n"}, {"CLAUDE.md"}, None),
    "directory-target": ({"CLAUDE.md": "@docs\n", "docs/a.md": "A\n"}, {"CLAUDE.md"}, None),
    "start-characters": (
        {"CLAUDE.md": "@_a.md @.hidden/b.md @{x}/c.md @-d.md\n", "_a.md": "A\n",
         ".hidden/b.md": "B\n", "-d.md": "D\n"},
        {"CLAUDE.md", "_a.md", ".hidden/b.md", "-d.md"}, None),
    "missing-and-package-names": ({"CLAUDE.md": "@nope.md @types/node @dataclass\n"}, {"CLAUDE.md"}, None),
    "empty-root-dropped": ({"CLAUDE.md": "", ".claude/CLAUDE.md": "@../a.md\n", "a.md": "A\n"},
                           {".claude/CLAUDE.md", "a.md"}, None),
    "duplicate-imports": ({"CLAUDE.md": "@a.md @./a.md\n\n@a.md\n", "a.md": "A\n"},
                          {"CLAUDE.md", "a.md"}, None),
    "hard-break-and-softbreak": ({"CLAUDE.md": "line  \n@a.md\nnext\n@b.md\n", "a.md": "A\n", "b.md": "B\n"},
                                {"CLAUDE.md", "a.md", "b.md"}, None),
    "conditional-rule-waits-for-its-paths": (
        {".claude/rules/cond.md": "---\npaths: src/**\n---\nsee @x.md\n", "x.md": "X\n",
         ".claude/rules/plain.md": "---\ntitle: t\n---\nplain\n",
         "CLAUDE.md": "---\npaths: src/**\n---\nroot\n"},
        {".claude/rules/plain.md", "CLAUDE.md"}, None),
    "absolute-inside": ({"CLAUDE.md": "@{root}/abs.md\n", "abs.md": "A\n"}, {"CLAUDE.md", "abs.md"}, None),
}


def _materialise(top: Path, files: dict[str, str | bytes | tuple[str, str]]) -> None:
    plain: dict[str, str | bytes] = {}
    for rel, data in files.items():
        if isinstance(data, tuple):
            link = top / rel
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(data[1] if "/" not in rel else os.path.relpath(top / data[1], link.parent))
        else:
            plain[rel] = data.replace("{root}", str(top)) if isinstance(data, str) else data
    write_tree(top, plain)


def _relative(top: Path, paths: list[str]) -> set[str]:
    real_top = os.path.realpath(top)
    return {os.path.relpath(os.path.realpath(p), real_top) for p in paths}


def _client_load_set(client: Client, top: Path, read: str | None) -> set[str]:
    script = ([tool_use("Read", {"file_path": str(top / read)})] if read else []) + [text("ok")]
    with StandIn(script) as api:
        proc = client.run(top, "hello", api)
    assert proc.returncode == 0, proc.stderr
    assert api.requests, "the client never reached the stand-in"
    assert api.steps_taken == (1 if read else 0)
    return _relative(top, api.loaded_paths())


def _validator_load_set(top: Path) -> set[str]:
    report = check(top)
    return _relative(top, [str(top / f.path) for f in report.files if not f.conditional])


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_client_and_validator_load_the_same_files(name: str, claude_client: Client,
                                                   tmp_path: Path) -> None:
    files, expected, read = PROJECTS[name]
    top = tmp_path / "project"
    top.mkdir()
    _materialise(top, files)
    client = _client_load_set(claude_client, top, read)
    validator = _validator_load_set(top)
    assert client == expected, f"the client loaded {sorted(client)}"
    assert validator == client


def test_enough_projects() -> None:
    assert len(PROJECTS) >= 40
