"""Slash commands and agents: prompts with ``@`` rules of their own, never memory.

- A slash command (``.claude/commands/**/*.md``) is sent as the user's prompt when
  it runs, and the client attaches each ``@path`` in it as a file: resolved from
  the working directory (the project root here), found by the client's mention
  pattern (``@`` at the start or after whitespace, the path cut back to its last
  word character, so trailing punctuation is trimmed; ``@"a b.md"`` for spaces),
  with no recursion and no code or comment handling, and ``#L10-20`` cut off.
- An agent (``.claude/agents/**/*.md``) is a system prompt: the client never
  expands an ``@path`` in it, so a file it names that exists is reported as not
  reaching the agent.

Nothing here reads outside the project: a path that leads out is reported, not
probed further.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from recovery.links import files as fileread
from recovery.links import resolve as rs
from recovery.links.client import JS_SPACE, strip_frontmatter
from recovery.links.findings import Finding, make_finding

_MENTION_LEAD = rf"(?:^|[{JS_SPACE}\u3002\u3001\uff1f\uff01])"
# The client's pattern: `[^\s]+` then `\b` (ASCII word boundary) trims punctuation.
_MENTION = re.compile(rf"{_MENTION_LEAD}@([^{JS_SPACE}]+)\b", re.ASCII | re.MULTILINE)
_QUOTED = re.compile(rf'{_MENTION_LEAD}@"([^"]+)"', re.MULTILINE)
_LINES = re.compile(r"^([^#]+)(?:#L(\d+)(?:-(\d+))?)?(?:#[^#]*)?$")
_AGENT_IMPORT = re.compile(rf"(?:^|[{JS_SPACE}])@((?:[^{JS_SPACE}\\]|\\ )+)", re.MULTILINE)


def is_prompt(rel: str) -> bool:
    """``rel`` (a root, relative to the project) is a slash command or an agent."""
    return any(rel.startswith(d) or f"/{d}" in rel
               for d in (".claude/commands/", ".claude/agents/"))


def check_prompts(toplevel: Path, prompts: list[str], resolver: rs.Resolver) -> list[Finding]:
    """Findings for the slash commands and agents ``prompts`` (relative paths)."""
    findings: list[Finding] = []
    for rel in prompts:
        content = fileread.read_content(os.path.join(toplevel, rel), 4 * 1024 * 1024, True, True)
        if content.text is None or "@" not in content.text:
            continue
        text = strip_frontmatter(content.text)[0]
        if "/.claude/agents/" in f"/{rel}":
            findings.extend(_agent(rel, text, resolver))
        else:
            findings.extend(_command(str(toplevel), rel, text, resolver))
    return findings


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _command(top: str, rel: str, text: str, resolver: rs.Resolver) -> list[Finding]:
    out: list[Finding] = []
    mentions = [(m.start(1) - 1, m.group(1)) for m in _MENTION.finditer(text)
                if not m.group(1).startswith('"')]
    mentions += [(m.start(1) - 2, m.group(1)) for m in _QUOTED.finditer(text)]
    for at, written in sorted(mentions):
        parsed = _LINES.match(written)
        name = parsed.group(1) if parsed else written
        line, col = _position(text, at)
        path = resolver.absolute(top, name)
        shown = f"`@{written}`"
        if not resolver.inside(path):
            _add(out, "command-outside-project", rel, line, col,
                 f"{shown} in a slash command resolves outside the project: what it attaches "
                 "depends on the machine (not checked)", name)
            continue
        if resolver.probe(path).status != rs.MISSING:
            continue
        display = resolver.display(path)
        if not rs.looks_like_path(name):
            _add(out, "not-a-path", rel, line, col,
                 f"{shown} in a slash command does not look like a path and resolves to nothing",
                 display)
        elif "/" in name and "." not in name.rsplit("/", 1)[-1] and not name.startswith(
                ("./", "../", "/", "~")):
            _add(out, "unresolved-name", rel, line, col,
                 f"{shown} in a slash command looks like a package name and attaches nothing",
                 display)
        else:
            _add(out, "command-missing-target", rel, line, col,
                 f"{shown}: `{display}` not found; a slash command attaches files relative to "
                 "the working directory (the project root), so nothing is attached",
                 display, hint="write the path from the project root")
    return out


def _agent(rel: str, text: str, resolver: rs.Resolver) -> list[Finding]:
    out: list[Finding] = []
    agent_dir = os.path.dirname(os.path.join(resolver.top, rel))
    for m in _AGENT_IMPORT.finditer(text):
        name = m.group(1).partition("#")[0].replace("\\ ", " ")
        if not name:
            continue
        for base in (agent_dir, resolver.top):
            path = resolver.absolute(base, name)
            if resolver.inside(path) and resolver.probe(path).status == rs.FILE:
                line, col = _position(text, m.start(1) - 1)
                _add(out, "agent-import-not-expanded", rel, line, col,
                     f"`@{m.group(1)}` in an agent is never expanded: `{resolver.display(path)}` "
                     "does not reach the agent", resolver.display(path),
                     hint="tell the agent to read the file (e.g. \"Read "
                          f"{resolver.display(path)} first\")")
                break
    return out


def _add(out: list[Finding], code: str, rel: str, line: int, col: int, message: str,
         target: str | None, hint: str | None = None) -> None:
    finding = make_finding("claude-code", code, rel, line, col, message, hint, target)
    if finding is not None:
        out.append(finding)
