"""What the real Claude Code client does with a memory file, per client version.

The claude-code profile models the client itself, not its documentation: these
rules were established by running ``@anthropic-ai/claude-code`` against a stand-in
for its API and reading which files it put into the model's context, and are
checked against the pinned version by the differential tests (tests/links).

- :func:`rules_for` names the rules of one client version (``--client-version``);
  :data:`DEFAULT_VERSION` is the one modelled when none is given.
- :func:`strip_frontmatter` and :func:`is_empty` say what is left of a file once
  the client has removed its YAML frontmatter and HTML comments (an empty file is
  dropped, and its imports with it).
- :func:`import_texts` lists the import paths the client evaluates in one file, in
  the order it follows them: the file is lexed as CommonMark without GitHub
  extensions, code (spans and blocks) and HTML blocks are skipped except the text
  around an HTML comment, and an ``@`` counts at the start of a *text run* or after
  whitespace; emphasis, links, escapes, code spans and inline HTML end a run, and
  the paragraph of a list item is also scanned as raw text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

DEFAULT_VERSION = "2.1.197"

# JavaScript's \s, which the client's regular expressions use: Python's \s also
# matches U+001C-U+001F and U+0085, which do not separate tokens in the client.
JS_SPACE = " \t\n\v\f\r\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_IMPORT = re.compile(rf"(?:^|[{JS_SPACE}])@((?:[^{JS_SPACE}\\]|\\ )+)")
_FRONTMATTER = re.compile(rf"^---[{JS_SPACE}]*\n([\s\S]*?)---[{JS_SPACE}]*\n?")
_COMMENT = re.compile(r"<!--[\s\S]*?-->")
_START = re.compile(r"[a-zA-Z0-9._-]")
_SYMBOLS = re.compile(r"[#%^&*()]+")
_PUNCT = re.compile(r"[!-/:-@\[-`{-~]\Z")

# The extensions the client reads as text when imported (2.1.x); a path without
# an extension is allowed too. `.markdown`, `.mdx`, `.mdc`, `.jsonl` are not.
TEXT_EXTENSIONS = frozenset(
    ".md .txt .text .json .yaml .yml .toml .xml .csv .html .htm .css .scss .sass .less "
    ".js .ts .tsx .jsx .mjs .cjs .mts .cts .py .pyi .pyw .rb .erb .rake .go .rs .java .kt "
    ".kts .scala .c .cpp .cc .cxx .h .hpp .hxx .cs .swift .sh .bash .zsh .fish .ps1 .bat "
    ".cmd .env .ini .cfg .conf .config .properties .sql .graphql .gql .proto .vue .svelte "
    ".astro .ejs .hbs .pug .jade .php .pl .pm .lua .r .R .dart .ex .exs .erl .hrl .clj "
    ".cljs .cljc .edn .hs .lhs .elm .ml .mli .f .f90 .f95 .for .cmake .make .makefile "
    ".gradle .sbt .rst .adoc .asciidoc .org .tex .latex .lock .log .diff .patch".split()
)


@dataclass(frozen=True)
class ClientRules:
    """The memory-loading rules of one client version.

    Attributes:
        version: the version they were verified against.
        extensions: lower-case extensions an import may have (``None``: any).
        strip_frontmatter: YAML frontmatter is removed before lexing.
        cut_fragment: ``#...`` is cut off an import path.
        max_bytes: larger files are not loaded (bytes).
        depth: the last hop that loads (a root is hop 0).
    """

    version: str
    extensions: frozenset[str] | None
    strip_frontmatter: bool
    cut_fragment: bool
    max_bytes: int = 4 * 1024 * 1024
    depth: int = 4

    def allows(self, path: str) -> bool:
        """The client reads a file at ``path`` (by its extension) as an import."""
        if self.extensions is None:
            return True
        name = path.rsplit("/", 1)[-1]
        dot = name.rfind(".")
        if dot <= 0:  # no extension, or a dot file such as `.env` (Node's extname: "")
            return True
        return name[dot:].lower() in self.extensions


CLIENTS: dict[str, ClientRules] = {
    "2.1.197": ClientRules("2.1.197", TEXT_EXTENSIONS, True, True),
    # 2.0.x read any extension, kept the frontmatter and the `#fragment`.
    "2.0": ClientRules("2.0", None, False, False),
}


def rules_for(version: str | None) -> ClientRules:
    """The rules for ``version`` (``2.1.197``, ``2.1``, ``2.0``, ``2.0.14``...;
    ``None``: :data:`DEFAULT_VERSION`).

    Raises:
        ValueError: a version no rules are known for.
    """
    if not version:
        return CLIENTS[DEFAULT_VERSION]
    v = version.strip()
    if v in CLIENTS:
        return CLIENTS[v]
    if re.fullmatch(r"2\.1(\.\d+)?", v):
        return CLIENTS[DEFAULT_VERSION]
    if re.fullmatch(r"2\.0(\.\d+)?", v):
        return CLIENTS["2.0"]
    raise ValueError(f"no rules known for Claude Code {version!r}; known: 2.1 (2.1.197), 2.0")


def strip_frontmatter(text: str) -> tuple[str, str]:
    """``(for_lexing, content)``: the text with its frontmatter replaced by as many
    empty lines (so line numbers stay true), and the text without it."""
    m = _FRONTMATTER.match(text)
    if not m:
        return text, text
    return "\n" * m.group(0).count("\n") + text[m.end():], text[m.end():]


def is_empty(content: str, blocks: list[Any]) -> bool:
    """The file is empty for the client once top-level HTML comment blocks are
    removed (``blocks``: the markdown-it tokens of ``content``)."""
    if "<!--" not in content:
        return not content.strip(JS_SPACE_CHARS)
    lines = content.split("\n")
    for tok in blocks:
        if tok.type == "html_block" and tok.level == 0 and tok.map and _is_comment(tok.content):
            first, end = tok.map
            kept = _COMMENT.sub("", tok.content)
            lines[first:end] = [kept] + [""] * (end - first - 1)
    return not "\n".join(lines).strip(JS_SPACE_CHARS)


JS_SPACE_CHARS = " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007" \
                 "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"


def _is_comment(raw: str) -> bool:
    start = raw.lstrip(JS_SPACE_CHARS)
    return start.startswith("<!--") and "-->" in start


_PATHS = re.compile(r"^paths:[ \t]*(.*)$((?:\n[ \t]*-[^\n]*)*)", re.MULTILINE)


def is_conditional_rule(path: str) -> bool:
    """The rule file at ``path`` has ``paths:`` frontmatter naming globs (other than
    ``**`` alone), so the client loads it only when a matching file is read. An
    unreadable file is not conditional (it is reported elsewhere)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            head = handle.read(65536)
    except OSError:
        return False
    m = _FRONTMATTER.match(head)
    found = _PATHS.search(m.group(1)) if m else None
    if found is None:
        return False
    items = [found.group(1)] + [line.strip()[1:] for line in found.group(2).split("\n")]
    globs = [g.strip().strip("[]\"'") for item in items for g in item.split(",")]
    globs = [g.strip().strip("\"'") for g in globs if g.strip().strip("\"'")]
    return bool(globs) and not all(g == "**" for g in globs)


_MD: Any = None


def parse(text: str) -> list[Any]:
    """markdown-it block tokens of ``text``: CommonMark without extensions, escapes
    kept as tokens of their own (they end a text run in the client's lexer)."""
    global _MD
    if _MD is None:
        from markdown_it import MarkdownIt

        md = MarkdownIt("commonmark")
        md.disable("text_join")
        _MD = md
    return list(_MD.parse(text))


def import_texts(tokens: list[Any], rules: ClientRules) -> list[str]:
    """The import paths the client takes from a file (``tokens``: :func:`parse` of
    it), first occurrence order, each once: ``#fragment`` cut (2.1), ``\\ ``
    unescaped, the client's start rule applied."""
    found: dict[str, None] = {}
    for run in _runs(tokens):
        for m in _IMPORT.finditer(run):
            path = m.group(1)
            if rules.cut_fragment:
                path = path.partition("#")[0]
            path = path.replace("\\ ", " ")
            if path and valid_start(path):
                found.setdefault(path)
    return list(found)


def valid_start(path: str) -> bool:
    """What an import path may start with (UNC and ``/net/`` paths never load)."""
    if re.match(r"[\\/]{2}", path) or _net(path):
        return False
    if path.startswith(("./", "~/")) or (path.startswith("/") and path != "/"):
        return True
    return (not path.startswith("@") and not _SYMBOLS.match(path)
            and _START.match(path) is not None)


def _net(path: str) -> bool:
    if not path.startswith("/"):
        return False
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
        if len(parts) == 2 and parts[0].lower() == "net":
            return True
    return False


def _runs(tokens: list[Any]) -> Iterator[str]:
    """The text runs the client scans, in its order."""
    containers: list[str] = []
    for tok in tokens:
        kind = tok.type
        if kind in ("list_item_open", "blockquote_open"):
            containers.append(kind)
        elif kind in ("list_item_close", "blockquote_close"):
            containers.pop()
        elif kind == "html_block":
            yield from _html(tok.content)
        elif kind == "inline":
            if containers and containers[-1] == "list_item_open":
                yield tok.content  # a list item's text is scanned raw, then inline
            yield from _inline_runs(tok.children or [])


def _inline_runs(children: list[Any]) -> Iterator[str]:
    run: list[str] = []
    for child in children:
        kind = child.type
        if kind == "text":
            run.append(child.content)
            continue
        if kind == "softbreak":
            run.append("\n")
            continue
        if kind == "text_special" and (child.info == "entity" or not _PUNCT.match(child.markup[1:])):
            run.append(child.markup)  # `&amp;` and `\ ` stay text; only `\*` is an escape
            continue
        if run:
            yield "".join(run)
            run = []
        if kind == "html_inline":
            yield from _html(child.content)
    if run:
        yield "".join(run)


def _html(raw: str) -> Iterator[str]:
    """HTML is skipped, except the text around a comment (after ``-->``)."""
    if _is_comment(raw):
        rest = _COMMENT.sub("", raw)
        if rest.strip(JS_SPACE_CHARS):
            yield rest
