"""Finding ``@path`` tokens in a file, per profile (docs/links.md, "Profiles").

claude-code
    An ``@`` that starts a line or follows whitespace, followed by a path that runs
    to the next whitespace (``\\ `` escapes a space) and starts with ``./``, ``../``,
    ``~/``, ``/x`` or one of ``A-Z a-z 0-9 . _ -``. Trailing punctuation stays in the
    path, as in Claude Code. A real CommonMark parser (markdown-it-py) decides what
    is code: inline code spans, fenced and indented code blocks. HTML comments are
    not evaluated, and neither are HTML blocks (``html_blocks = "skip"``, the
    default): Claude Code's Markdown lexer skips an HTML block as it skips code,
    which upstream does not document, hence the setting.

    Tokens that Claude Code would *not* evaluate are returned too
    (``evaluated=False`` with the reason) when they look like what a framework
    means by a link (the framework rule below), so the validator can say "this
    never reaches the model".

framework
    Every ``@`` not preceded by a letter, digit, ``_`` or ``@`` (keeps emails and
    ``@@`` out), anywhere, code and XML included. The path stops at whitespace or
    one of ``" ' < > ` |``; trailing ``, . ; : ) ] } " ' > *`` are stripped
    (a closing bracket only when unbalanced). Tokens with ``{`` ``}`` ``$`` or ``*``
    are templates (``@{category}/{module}.md``).

markdown-it is imported and run only for files that contain an ``@``, and its
inline parser only on the paragraphs that hold one, which keeps a whole run on a
large framework well under a second.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recovery.links.client import ClientRules

_CC_PATH = re.compile(r"(?:[^\s\\]|\\ )+")
_FW_PATH = re.compile(r"(?:\\ |[^\s\"'<>`|])+")
_FW_STRIP = ",.;:)]}\"'>*"
_OPENERS = {")": "(", "]": "[", "}": "{"}
_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
_TEMPLATE_CHARS = frozenset("{}$*")

IN_FENCE = "inside a fenced code block"
IN_INDENTED = "inside an indented code block"
IN_CODE_SPAN = "inside inline code"
IN_COMMENT = "inside an HTML comment"
IN_HTML_BLOCK = "inside an HTML block (Claude Code skips HTML blocks as it skips code)"
IN_HTML_TAG = "inside an HTML tag"


@dataclass(frozen=True, slots=True)
class Token:
    """One ``@`` token.

    Attributes:
        path: the path to resolve: escapes removed; in the framework profile (and
            for tokens Claude Code does not evaluate) trailing punctuation removed.
        text: the token as written, without the ``@``.
        line: 1-based line of the ``@``.
        col: 1-based column of the ``@`` (characters).
        evaluated: the profile treats it as an import.
        reason: why it is not evaluated (``None`` when it is).
        template: it has placeholders (``{x}``, ``$X``, ``*``) rather than a path.
        alone: nothing but the token (and a list bullet or quote marker) is on its
            line: it is clearly meant as an import.
        spaced: the ``@`` starts a line or follows whitespace (claude-code rule 1).
    """

    path: str
    text: str
    line: int
    col: int
    evaluated: bool = True
    reason: str | None = None
    template: bool = False
    alone: bool = False
    spaced: bool = True


def is_template(path: str) -> bool:
    """Placeholders instead of a path: ``{x}``, ``$X``, ``*``, or a fill-in blank
    (``___``)."""
    return any(ch in _TEMPLATE_CHARS for ch in path) or "___" in path


def cc_valid_start(path: str) -> bool:
    """docs/links.md, the claude-code profile: what a path may start with."""
    if path.startswith(("./", "../", "~/")):
        return True
    if path.startswith("/"):
        return len(path) > 1
    return path[:1] in _START


def framework_path(text: str, pos: int) -> tuple[str, str, bool] | None:
    """Parse a framework token whose ``@`` is at ``pos``: ``(path, text, template)``."""
    m = _FW_PATH.match(text, pos + 1)
    if not m:
        return None
    raw = m.group(0)
    path = raw
    while path and path[-1] in _FW_STRIP:
        opener = _OPENERS.get(path[-1])
        if opener and path.count(opener) >= path.count(path[-1]):
            break  # balanced: `@docs/x(1)` keeps its bracket
        path = path[:-1]
    if not path:
        return None
    template = is_template(path)
    if not (template and path[0] == "{") and not cc_valid_start(path):
        return None
    return path.replace("\\ ", " "), raw, template


class _Lines:
    """Offset -> (line, col) for one text, both 1-based."""

    def __init__(self, text: str) -> None:
        self.starts = [0]
        find = text.find
        i = find("\n")
        while i != -1:
            self.starts.append(i + 1)
            i = find("\n", i + 1)

    def at(self, offset: int) -> tuple[int, int]:
        index = bisect.bisect_right(self.starts, offset) - 1
        return index + 1, offset - self.starts[index] + 1

    def alone(self, text: str, line: int, start: int, end: int) -> bool:
        """Only whitespace (after a bullet or ``>``) around ``text[start:end]`` on its line."""
        begin = self.starts[line - 1]
        stop = text.find("\n", end)
        if text[end:stop if stop != -1 else len(text)].strip():
            return False
        return _LEAD.fullmatch(text, begin, start) is not None


_LEAD = re.compile(r"[ \t]*(?:(?:[-*+]|\d+[.)]|>)[ \t]+)*")


def scan_framework(text: str) -> list[Token]:
    """Tokens per the framework profile (all evaluated; templates flagged)."""
    tokens: list[Token] = []
    if "@" not in text:
        return tokens
    lines = _Lines(text)
    pos = text.find("@")
    covered = -1
    while pos != -1:
        prev = text[pos - 1] if pos else "\n"
        if pos >= covered and not (prev.isalnum() or prev in "_@"):
            parsed = framework_path(text, pos)
            if parsed:
                path, raw, template = parsed
                line, col = lines.at(pos)
                covered = pos + 1 + len(raw)
                tokens.append(Token(path, raw, line, col, True, None, template,
                                    lines.alone(text, line, pos, covered)))
        pos = text.find("@", pos + 1)
    return tokens


def scan_claude_code(text: str, html_blocks: str = "skip",
                     rules: ClientRules | None = None) -> list[Token]:
    """Tokens per the claude-code profile: the imports the client evaluates
    (:func:`recovery.links.client.import_texts`, placed at the ``@`` that wrote
    them) and the link-like tokens it skips, each with its reason.

    ``html_blocks = "evaluate"`` also takes imports from HTML blocks (the client
    never does; the setting exists for frameworks that expect it)."""
    from recovery.links import client

    rules = rules or client.rules_for(None)
    tokens: list[Token] = []
    if "@" not in text:
        return tokens
    lexed, _content = client.strip_frontmatter(text) if rules.strip_frontmatter else (text, text)
    evaluated = client.import_texts(client.parse(lexed), rules)
    lines = _Lines(lexed)
    # Every @ either the client or the framework rule could care about.
    candidates: list[tuple[int, int, int, str]] = []
    pos = lexed.find("@")
    while pos != -1:
        prev = lexed[pos - 1] if pos else "\n"
        line, col = lines.at(pos)
        candidates.append((pos, line, col, prev))
        pos = lexed.find("@", pos + 1)
    structure = _Structure(lexed, sorted({c[1] - 1 for c in candidates}), html_blocks)
    written = {path: path.replace(" ", "\\ ") for path in evaluated}
    occurrences: dict[str, list[int]] = {}
    matched: dict[int, str] = {}
    for pos, *_ in candidates:
        best: str = ""
        for path, raw in written.items():
            if lexed.startswith(raw, pos + 1) and len(raw) > len(best) and _ends(lexed, pos + 1 + len(raw)):
                best = path
        if best:
            matched[pos] = best
            occurrences.setdefault(best, []).append(pos)
    covered = -1
    for pos, line, col, prev in candidates:
        if pos < covered:
            continue  # an @ inside the path of the previous token
        context = structure.context(line - 1, col - 1)
        hit = matched.get(pos)
        if hit is not None and (context is None or len(occurrences[hit]) == 1
                                or html_blocks == "evaluate"):
            raw = written[hit]
            if lexed.startswith("#", pos + 1 + len(raw)):  # the fragment the client cut
                m = _CC_PATH.match(lexed, pos + 1)
                raw = m.group(0) if m else raw
            covered = pos + 1 + len(raw)
            tokens.append(Token(hit, raw, line, col,
                                alone=lines.alone(lexed, line, pos, covered)))
            continue
        if prev.isalnum() or prev in "_@":
            continue
        if context is None and html_blocks == "evaluate" and prev.isspace():
            m = _CC_PATH.match(lexed, pos + 1)
            if m and cc_valid_start(m.group(0)):
                raw = m.group(0)
                covered = m.end()
                tokens.append(Token(raw.replace("\\ ", " "), raw, line, col,
                                    alone=lines.alone(lexed, line, pos, covered)))
                continue
        parsed = framework_path(lexed, pos)
        if parsed is None:
            m = _CC_PATH.match(lexed, pos + 1)
            if m and prev.isspace() and m.group(0)[0].isalpha():  # `@ünï/x.md`: ASCII only
                raw = m.group(0)
                tokens.append(Token(raw.replace("\\ ", " "), raw, line, col, False,
                                    f"a path cannot start with `{raw[0]}` (only ASCII letters, "
                                    "digits, `.`, `_`, `-`, `./`, `~/` or `/`)"))
                covered = m.end()
            continue
        fpath, raw, template = parsed
        if context:
            reason = context
        elif prev.isspace():  # `@{category}/x.md`: the start rule rejects the first character
            reason = f"a path cannot start with `{raw[0]}`"
        else:
            reason = f"not preceded by whitespace (follows `{prev}`)"
        tokens.append(Token(fpath, raw, line, col, False, reason, template,
                            spaced=prev.isspace()))
        covered = pos + 1 + len(raw)
    return tokens


def _ends(text: str, end: int) -> bool:
    """An import path written up to ``end`` stops there: whitespace, a fragment,
    or what ends a text run (emphasis, a link bracket, a tag, a backtick)."""
    return end >= len(text) or not (text[end].isalnum() or text[end] == "/")


_MD: Any = None


def _markdown() -> Any:
    """A CommonMark + GFM-tables parser whose inline pass is run on demand and
    records where code spans and inline HTML are."""
    global _MD
    if _MD is None:
        from markdown_it import MarkdownIt

        md = MarkdownIt("commonmark").enable(["table", "strikethrough"])
        md.disable("inline")  # the core rule: inline parsing is run per paragraph below
        for name, kind in (("backticks", "code"), ("html_inline", "html")):
            rule = _rule(md, name)
            md.inline.ruler.at(name, _recording(rule, kind))
        _MD = md
    return _MD


def _rule(md: Any, name: str) -> Any:
    for rule in md.inline.ruler.__rules__:
        if rule.name == name:
            return rule.fn
    raise LookupError(name)  # pragma: no cover - markdown-it changed its rule names


def _recording(rule: Any, kind: str) -> Any:
    def record(state: Any, silent: bool) -> bool:
        start = state.pos
        count = len(state.tokens)
        ok = rule(state, silent)
        if ok and not silent and "spans" in state.env and len(state.tokens) > count:
            # An unmatched backtick run is consumed as text and pushes no token.
            end = state.pos
            if kind == "html" and state.src.startswith("<!--", start):
                state.env["spans"].append((start, end, IN_COMMENT))
            elif kind == "html":
                state.env["spans"].append((start, end, IN_HTML_TAG))
            elif state.tokens[-1].type == "code_inline":
                state.env["spans"].append((start, end, IN_CODE_SPAN))
        return bool(ok)

    return record


class _Structure:
    """Where the code, comments and HTML of one Markdown text are, by line and column."""

    def __init__(self, text: str, wanted_lines: list[int], html_blocks: str) -> None:
        md = _markdown()
        self.blocks: list[tuple[int, int, str]] = []  # (first, end) line ranges, 0-based
        self.spans: dict[int, list[tuple[int, int, str]]] = {}  # line -> (col0, col1, reason)
        source = text.split("\n")
        cursor: dict[int, int] = {}
        for tok in md.parse(text):
            if not tok.map:
                continue
            first, end = tok.map
            kind = tok.type
            if kind == "fence":
                self.blocks.append((first, end, IN_FENCE))
            elif kind == "code_block":
                self.blocks.append((first, end, IN_INDENTED))
            elif kind == "html_block":
                if tok.content.lstrip().startswith("<!--"):
                    self.blocks.append((first, end, IN_COMMENT))
                elif html_blocks == "skip":
                    self.blocks.append((first, end, IN_HTML_BLOCK))
            elif kind == "inline" and "@" in tok.content and (
                    "`" in tok.content or "<" in tok.content):
                # Only code spans and inline HTML hide an @ inside a paragraph, and
                # both need one of these characters: skip the inline pass otherwise.
                i = bisect.bisect_left(wanted_lines, first)
                if i < len(wanted_lines) and wanted_lines[i] < end:
                    self._inline(md, tok.content, first, source, cursor)
        self.blocks.sort()
        self._firsts = [b[0] for b in self.blocks]

    def _inline(self, md: Any, content: str, first: int, source: list[str],
                cursor: dict[int, int]) -> None:
        env: dict[str, Any] = {"spans": []}
        md.inline.parse(content, md, env, [])
        if not env["spans"]:
            return
        # Map offsets in `content` to source columns: each content line is the tail
        # of its source line (container markers and indentation removed).
        starts: list[int] = []
        origin: list[int] = []
        offset = 0
        for k, piece in enumerate(content.split("\n")):
            starts.append(offset)
            offset += len(piece) + 1
            line = first + k
            src = source[line] if line < len(source) else ""
            origin.append(_locate(src, piece, cursor.get(line, 0)))
        for start, stop, reason in env["spans"]:
            k0 = bisect.bisect_right(starts, start) - 1
            k1 = bisect.bisect_right(starts, max(stop - 1, start)) - 1
            for k in range(k0, k1 + 1):
                a = max(start, starts[k]) - starts[k] + origin[k]
                b = (stop - starts[k] if k == k1 else 1 << 30) + origin[k]
                self.spans.setdefault(first + k, []).append((a, b, reason))
        if len(starts) == 1:  # table cells share a line: search the next cell after this one
            cursor[first] = origin[0] + len(content)

    def context(self, line: int, col: int) -> str | None:
        """Why the character at 0-based ``line``/``col`` is not Markdown text Claude
        Code evaluates, or ``None`` when it is."""
        # Leaf blocks never overlap, so only the last one starting at or before
        # `line` can contain it.
        i = bisect.bisect_right(self._firsts, line) - 1
        if i >= 0 and line < self.blocks[i][1]:
            return self.blocks[i][2]
        for a, b, reason in self.spans.get(line, ()):
            if a <= col < b:
                return reason
        return None


def _locate(src: str, piece: str, after: int) -> int:
    """Column where ``piece`` (a line of inline content) sits in source line ``src``."""
    if not piece:
        return len(src)
    if after == 0:
        if src.endswith(piece):
            return len(src) - len(piece)
        stripped = src.rstrip()
        if stripped.endswith(piece):
            return len(stripped) - len(piece)
    found = src.find(piece, after)
    if found == -1:
        found = src.find(piece.lstrip(), after)
        if found != -1:
            found -= len(piece) - len(piece.lstrip())
    return max(found, 0)
