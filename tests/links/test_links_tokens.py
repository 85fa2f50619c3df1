"""Token recognition, written from docs/links.md "Profiles" (both profiles)."""

from __future__ import annotations

import pytest

from recovery.links.tokens import (
    IN_CODE_SPAN,
    IN_COMMENT,
    IN_FENCE,
    IN_HTML_BLOCK,
    IN_INDENTED,
    scan_claude_code,
    scan_framework,
)


def imports(text: str, **kw: str) -> list[str]:
    """Paths claude-code evaluates."""
    return [t.path for t in scan_claude_code(text, **kw) if t.evaluated]


def skipped(text: str) -> dict[str, str]:
    """path -> reason for tokens claude-code does not evaluate."""
    return {t.path: t.reason or "" for t in scan_claude_code(text) if not t.evaluated}


# -- claude-code rule 1: `@` starts a line or follows whitespace ---------------------

@pytest.mark.parametrize("text", ["a@b.com", "git@host:x", "[x](@f.md)", '"@f.md"',
                                  "x@f.md", "(@f.md)", "a**@f.md**"])
def test_cc_at_not_after_whitespace_is_not_an_import(text: str) -> None:
    assert imports(text) == []


@pytest.mark.parametrize("text,expected", [
    ("@f.md", ["f.md"]),
    ("see @f.md now", ["f.md"]),
    ("tab\t@f.md", ["f.md"]),
    ("line one\n@f.md", ["f.md"]),
    ("- @f.md", ["f.md"]),
    ("> @f.md", ["f.md"]),
    ("# Title @f.md", ["f.md"]),
    ("**@f.md**", ["f.md"]),  # emphasis starts a new text run in the client's lexer
    ("<span>@f.md</span>", ["f.md"]),
    (">@f.md<", ["f.md<"]),  # a blockquote, whose text starts with the @
    ("- `x @f.md y`", ["f.md"]),  # a list item is also scanned raw
])
def test_cc_at_line_start_or_after_whitespace_is_an_import(text: str, expected: list[str]) -> None:
    assert imports(text) == expected


def test_cc_not_after_whitespace_is_reported_with_the_character() -> None:
    reasons = skipped('Load [guide](@docs/guide.md) and "@docs/x.md".\n')
    assert reasons["docs/guide.md"] == "not preceded by whitespace (follows `(`)"
    assert reasons["docs/x.md"] == 'not preceded by whitespace (follows `"`)'


def test_emails_are_not_even_candidates() -> None:
    assert scan_claude_code("mail a@b.com or git@github.com:x/y.git\n") == []
    assert scan_framework("mail a@b.com or git@github.com:x/y.git or me_@x.md\n") == []


# -- rule 2: the path runs to whitespace; a backslash escapes a space -----------------

def test_cc_path_runs_to_whitespace() -> None:
    assert imports("@a/b.md,c then more") == ["a/b.md,c"]


def test_cc_backslash_escapes_a_space() -> None:
    tokens = scan_claude_code("@my\\ file.md next\n")
    assert [(t.path, t.text) for t in tokens] == [("my file.md", "my\\ file.md")]


# -- rule 3: what a path may start with -------------------------------------------------

@pytest.mark.parametrize("text", ["@@x", "@#x", "@ x", "@/", "@~x", "@*x", "@!x", "@(x)", "@{a}.md"])
def test_cc_bad_first_character_is_not_an_import(text: str) -> None:
    assert imports(text) == []


@pytest.mark.parametrize("path", ["./a.md", "../a.md", "~/a.md", "/abs/a.md", "A.md", "z.md",
                                  "0.md", ".hidden.md", "_x.md", "-x.md"])
def test_cc_good_first_character(path: str) -> None:
    assert imports(f"@{path}") == [path]


# -- rule 4: not evaluated in code or HTML comments (markdown-it decides) ---------------

def test_cc_inline_code_span() -> None:
    assert skipped("use `@a.md` here and ``x @b.md y``\n") == {"a.md": IN_CODE_SPAN,
                                                                "b.md": IN_CODE_SPAN}


def test_cc_code_span_across_lines() -> None:
    text = "text `code\nstill @a.md` after @b.md\n"
    assert imports(text) == ["b.md"]
    assert skipped(text) == {"a.md": IN_CODE_SPAN}


def test_cc_unmatched_backtick_is_not_code() -> None:
    assert imports("a ` lone backtick @a.md\n") == ["a.md"]


def test_cc_fenced_blocks_backtick_and_tilde() -> None:
    text = "```\n@a.md\n```\n\n~~~md\n@b.md\n~~~\n\n@c.md\n"
    assert imports(text) == ["c.md"]
    assert skipped(text) == {"a.md": IN_FENCE, "b.md": IN_FENCE}


def test_cc_unclosed_fence_runs_to_the_end() -> None:
    assert imports("```\n\n@a.md\n") == []


def test_cc_indented_code_block() -> None:
    text = "para\n\n    @a.md\n\n@b.md\n"
    assert imports(text) == ["b.md"]
    assert skipped(text) == {"a.md": IN_INDENTED}


def test_cc_indented_continuation_of_a_paragraph_is_text() -> None:
    # Indented code cannot interrupt a paragraph (CommonMark): a real parser matters.
    assert imports("para\n    @a.md\n") == ["a.md"]


def test_cc_list_item_content_is_not_code() -> None:
    assert imports("-   item\n\n    @a.md\n") == ["a.md"]


def test_cc_fence_inside_a_list_item() -> None:
    assert imports("- item\n  ```\n  @a.md\n  ```\n") == []


def test_cc_html_comments_block_and_inline() -> None:
    text = "<!--\n@a.md\n-->\n\ntext <!-- @b.md --> and @c.md\n"
    assert imports(text) == ["c.md"]
    assert skipped(text) == {"a.md": IN_COMMENT, "b.md": IN_COMMENT}


def test_cc_html_block_is_skipped_by_default_and_configurable() -> None:
    text = "<rules>\n@a.md\n</rules>\n\n@b.md\n"
    assert imports(text) == ["b.md"]
    assert skipped(text) == {"a.md": IN_HTML_BLOCK}
    assert imports(text, html_blocks="evaluate") == ["a.md", "b.md"]


def test_cc_blank_line_after_opening_tag_ends_the_html_block() -> None:
    assert imports("<rules>\n\n@a.md\n</rules>\n") == ["a.md"]


def test_cc_table_cells() -> None:
    text = "| a | b |\n|---|---|\n| @x.md | `@y.md` |\n"
    assert imports(text) == ["x.md"]
    assert skipped(text) == {"y.md": IN_CODE_SPAN}


# -- rule 5: trailing punctuation is part of the path ---------------------------------

@pytest.mark.parametrize("text,path", [("@notes.md,", "notes.md,"), ("@notes.md.", "notes.md."),
                                       ("see @a.md) now", "a.md)"), ("@x.md</rule>", "x.md")])
def test_cc_trailing_punctuation_stays(text: str, path: str) -> None:
    assert imports(text) == [path]


# -- positions ----------------------------------------------------------------------------

def test_positions_are_line_and_column_of_the_at_sign() -> None:
    text = "# T\n\nsome text @a.md\n  - ünï @b.md\n"
    assert [(t.line, t.col) for t in scan_claude_code(text)] == [(3, 11), (4, 9)]
    assert [(t.line, t.col) for t in scan_framework(text)] == [(3, 11), (4, 9)]


def test_crlf_files_have_the_same_lines() -> None:
    from recovery.links.files import judge

    text = judge(b"a\r\n\r\n```\r\n@x.md\r\n```\r\n@y.md\r\n").text or ""
    tokens = scan_claude_code(text)
    assert [(t.path, t.line, t.evaluated) for t in tokens] == [("x.md", 4, False), ("y.md", 6, True)]


# -- framework profile ------------------------------------------------------------------------

def test_fw_tokens_everywhere_including_code_and_xml() -> None:
    text = ('```\n@a.md\n```\n<cmd module = "@b.md"/>\n<x>@c.md</x> `@d.md` [l](@e.md)\n'
            "<!-- @f.md -->\n")
    assert [t.path for t in scan_framework(text)] == ["a.md", "b.md", "c.md", "d.md", "e.md", "f.md"]


def test_fw_not_after_letter_digit_or_underscore() -> None:
    assert scan_framework("a@b.md 1@c.md _@d.md @@e.md") == []


@pytest.mark.parametrize("raw,path", [("a.md,", "a.md"), ("a.md.", "a.md"), ("a.md;", "a.md"),
                                      ("a.md:", "a.md"), ("a.md)", "a.md"), ("a.md]", "a.md"),
                                      ("a.md}", "a.md"), ('a.md"', "a.md"), ("a.md'", "a.md"),
                                      ("a.md>", "a.md"), ("a.md).", "a.md"),
                                      ("docs/x(1).md)", "docs/x(1).md")])
def test_fw_trailing_punctuation_is_stripped(raw: str, path: str) -> None:
    assert [t.path for t in scan_framework(f"see @{raw} ok")] == [path]


def test_fw_templates() -> None:
    tokens = scan_framework("@{category}/{module}.md @modules/$NAME.md @.claude/____ @a.md")
    assert [(t.path, t.template) for t in tokens] == [
        ("{category}/{module}.md", True), ("modules/$NAME.md", True), (".claude/____", True),
        ("a.md", False)]


def test_fw_path_stops_at_markup() -> None:
    text = "<rule>see @modules/x.md</rule> and <a>@y.md</a>|@z.md|"
    assert [t.path for t in scan_framework(text)] == ["modules/x.md", "y.md", "z.md"]


def test_alone_marks_a_token_on_its_own_line() -> None:
    tokens = scan_claude_code("@a.md\n- @b.md\n1. @c.md\ntext @d.md\n@e.md text\n")
    assert [(t.path, t.alone) for t in tokens] == [
        ("a.md", True), ("b.md", True), ("c.md", True), ("d.md", False), ("e.md", False)]


def test_cc_template_after_whitespace_is_not_an_import_and_says_why() -> None:
    [token] = scan_claude_code("see @{category}/{module}.md\n")
    assert not token.evaluated and token.template
    assert token.reason == "a path cannot start with `{`"
