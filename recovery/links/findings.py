"""What the validator reports: severities, the stable finding codes, and :class:`Finding`.

Codes are part of the interface (SARIF rule ids, JSON, ``--fail-level``, users'
suppressions): never rename one, only add. Each code has one severity per profile;
``None`` means the code is never emitted in that profile (docs/links.md, "Finding codes").
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Ordered from most to least severe; "none" is only a fail level (never fail).
SEVERITIES = ("error", "warning", "info")
FAIL_LEVELS = (*SEVERITIES, "none")
_RANK = {"error": 3, "warning": 2, "info": 1, "none": 99}

PROFILES = ("claude-code", "framework")


@dataclass(frozen=True)
class Rule:
    """One finding code.

    Attributes:
        code: the stable id (also the SARIF ``ruleId``).
        title: one line, for tables and SARIF ``shortDescription``.
        help: what it means and what to do, for SARIF ``help`` and docs/links.md.
        claude_code: severity in the claude-code profile, ``None`` if never emitted.
        framework: severity in the framework profile, ``None`` if never emitted.
    """

    code: str
    title: str
    help: str
    claude_code: str | None
    framework: str | None

    def severity(self, profile: str) -> str | None:
        return self.claude_code if profile == "claude-code" else self.framework


RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        Rule(
            "missing-target", "import target not found",
            "The file an @-import names does not exist where the import resolves. "
            "Claude Code drops such an import without a word. The hint says which "
            "spelling or base directory would resolve it.",
            "error", "error",
        ),
        Rule(
            "cycle", "import cycle",
            "Files import each other in a loop (the full chain is shown). Claude Code "
            "loads each file once, so the loop is cut, but the order of what loads is "
            "then an accident.",
            "warning", "warning",
        ),
        Rule(
            "depth-exceeded", "import beyond the depth limit",
            "The target is more hops from its root than the depth limit (Claude Code "
            "loads hops 1 to 4, counted depth-first: the first path that reaches a file "
            "fixes its depth). Claude Code stops before it and never loads it.",
            "error", "error",
        ),
        Rule(
            "unreadable-target", "import target cannot be read",
            "The target exists but cannot be read: permission denied, a symlink loop, "
            "or not a regular file. Claude Code drops it silently.",
            "error", "error",
        ),
        Rule(
            "corrupted-target", "import target is not text",
            "The target is binary or not valid UTF-8. Claude Code still loads it "
            "(invalid bytes become U+FFFD, NUL bytes stay), so garbage reaches the model; "
            "the framework profile does not count it as loading.",
            "warning", "error",
        ),
        Rule(
            "empty-target", "import target is empty",
            "The target has no content: the import loads nothing.",
            "warning", "warning",
        ),
        Rule(
            "too-large", "import target too large to check",
            "The target is larger than links.max_file_mb; it was not scanned for "
            "imports. In the claude-code profile the limit is the client's own (4 MB): "
            "Claude Code skips a larger file without a word.",
            "error", "warning",
        ),
        Rule(
            "outside-project", "import target outside the project",
            "The target is outside the project root (../.., an absolute path, ~, or a "
            "symlink leading out). Claude Code asks for approval first and `claude -p` "
            "never loads it. The validator does not read it.",
            "warning", "warning",
        ),
        Rule(
            "directory-target", "import names a directory",
            "The target is a directory. Claude Code does not document directory "
            "imports; name the files instead.",
            "warning", "warning",
        ),
        Rule(
            "fragment", "#fragment in an import",
            "The import has a #fragment. Claude Code 2.1 cuts it off and loads the "
            "whole file (2.0 kept it in the path, so the import failed).",
            "warning", "warning",
        ),
        Rule(
            "not-text-extension", "import target has no text extension",
            "The target exists but its extension is not on the client's list of text "
            "files (.markdown, .mdx, .mdc, .jsonl, .svg ... are not), so Claude Code "
            "skips it without a word. A file without an extension is allowed.",
            "error", None,
        ),
        Rule(
            "unresolved-name", "unresolved token that looks like a package name",
            "An @token with a `/` but no file extension (@types/node, @scope/pkg) that "
            "does not resolve: Claude Code tries it as a path and drops it; most likely "
            "it is a package name, not an import.",
            "warning", None,
        ),
        Rule(
            "command-missing-target", "slash command attaches a file that does not exist",
            "An @path in a slash command (.claude/commands/) is attached when the "
            "command runs, resolved from the working directory (the project root), "
            "trailing punctuation trimmed, not recursively. This one names no file.",
            "error", None,
        ),
        Rule(
            "command-outside-project", "slash command attaches a file outside the project",
            "An @path in a slash command resolves outside the project: what it attaches "
            "depends on the machine.",
            "warning", None,
        ),
        Rule(
            "agent-import-not-expanded", "@path in an agent is not expanded",
            "An agent file (.claude/agents/) is a system prompt: Claude Code never "
            "expands an @path in it, so the named file does not reach the agent. Tell "
            "the agent to read the file instead.",
            "warning", None,
        ),
        Rule(
            "ambiguous-base", "import resolves differently under two bases",
            "In the framework profile the import resolves to different files depending "
            "on the base directory; the first one wins. Make the path unambiguous.",
            None, "warning",
        ),
        Rule(
            "not-evaluated", "token Claude Code will not evaluate",
            "An @path that Claude Code does not treat as an import: inside code, an "
            "HTML comment or HTML block, or not preceded by whitespace. The reason is "
            "in the message. If it is meant to load, move it into plain Markdown text "
            "after a space.",
            "info", None,
        ),
        Rule(
            "not-a-path", "token that does not look like a path",
            "An @token with no `/` and no file extension (@dataclass, @someone) that "
            "does not resolve: most likely not meant as an import.",
            "info", "info",
        ),
        Rule(
            "template", "template token",
            "A token with placeholders such as @{category}/{module}.md: a pattern, "
            "not a file, so it is not checked.",
            None, "info",
        ),
        Rule(
            "unreadable-directory", "directory cannot be listed",
            "A directory in the project cannot be listed, so roots inside it were not "
            "discovered. Fix its permissions or exclude it (links.exclude).",
            "warning", "warning",
        ),
    )
}


def rank(level: str) -> int:
    """Numeric rank of a severity or fail level (higher is more severe)."""
    return _RANK[level]


@dataclass(frozen=True, order=True)
class Finding:
    """One problem at one place.

    Attributes:
        path: the file the finding is in, relative to the project root with ``/``
            separators (absolute only for places outside the project).
        line: 1-based line of the ``@`` (1 for findings about a whole file).
        col: 1-based column of the ``@``, in characters (Unicode code points).
        code: a key of :data:`RULES`.
        severity: ``error``, ``warning`` or ``info``.
        message: one line saying what is wrong.
        hint: one line saying what would fix it, or ``None``.
        target: the path that was tried, relative to the project root (or
            absolute/``~`` when outside), when the finding is about an import.
        chain: for ``cycle`` and ``depth-exceeded``, the files in order.
    """

    path: str
    line: int
    col: int
    code: str
    severity: str = field(compare=False)
    message: str = field(compare=False)
    hint: str | None = field(default=None, compare=False)
    target: str | None = field(default=None, compare=False)
    chain: tuple[str, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "code": self.code,
            "severity": self.severity,
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "message": self.message,
        }
        if self.hint:
            data["hint"] = self.hint
        if self.target is not None:
            data["target"] = self.target
        if self.chain:
            data["chain"] = list(self.chain)
        return data


def make_finding(profile: str, code: str, path: str, line: int, col: int, message: str,
                 hint: str | None = None, target: str | None = None,
                 chain: tuple[str, ...] = ()) -> Finding | None:
    """A :class:`Finding` with the severity ``code`` has in ``profile``; ``None``
    when the code is not reported in that profile."""
    severity = RULES[code].severity(profile)
    if severity is None:
        return None
    return Finding(path, max(line, 1), max(col, 1), code, severity, message, hint, target, chain)
