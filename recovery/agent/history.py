"""An agent session's records read back as prompts and tool calls, for
``git recover list --session`` and ``git recover rewind`` (the record format is
:mod:`recovery.agent.session`'s)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recovery.agent.session import session_dir


@dataclass
class ToolCall:
    """One tool call of a prompt.

    Attributes:
        tool: the tool name (``Write``, ``Bash``...).
        target: its file path or command line.
        checkpoint: the checkpoint holding the state just before it.
        outcome: ``done``, ``failed`` or ``running`` (no result seen: still
            running, refused by the permission mode, or the client was killed).
        time: when it started, ISO 8601 UTC.
        error: the failure's first line, when it failed.
    """

    tool: str
    target: str
    checkpoint: str
    time: str
    outcome: str = "running"
    error: str | None = None


@dataclass
class Prompt:
    """One prompt of a session.

    Attributes:
        number: 1 for the session's first prompt.
        line: the prompt's first line (``None`` when its submission was not seen).
        checkpoint: the checkpoint holding the state just before it (``None``: not seen).
        time: when it was submitted (or its first tool call started).
        tools: its tool calls in order.
    """

    number: int
    line: str | None
    checkpoint: str | None
    time: str
    tools: list[ToolCall] = field(default_factory=list)


def prompts(records: list[dict[str, Any]]) -> list[Prompt]:
    """Group a session's records by prompt, in prompt order."""
    by_number: dict[int, Prompt] = {}
    by_use: dict[str, ToolCall] = {}
    for r in records:
        kind = r.get("kind")
        n = r.get("n")
        if kind == "prompt" and isinstance(n, int):
            by_number[n] = Prompt(n, r.get("line"), r.get("checkpoint"), str(r.get("time", "")))
        elif kind == "tool" and isinstance(n, int):
            prompt = by_number.setdefault(n, Prompt(n, None, None, str(r.get("time", ""))))
            call = ToolCall(str(r.get("tool", "?")), str(r.get("target", "")), str(r.get("checkpoint", "")),
                            str(r.get("time", "")))
            prompt.tools.append(call)
            if r.get("tool_use_id"):
                by_use[str(r["tool_use_id"])] = call
        elif kind in ("done", "failed"):
            if r.get("tool_use_id"):
                found = by_use.get(str(r["tool_use_id"]))
            else:  # a client that sends no ids: the newest call of this tool still running
                found = next((call for prompt in reversed(by_number.values()) for call in reversed(prompt.tools)
                              if call.tool == r.get("tool") and call.outcome == "running"), None)
            if found is not None:
                found.outcome = kind
                found.error = r.get("error")
    return [by_number[n] for n in sorted(by_number)]


def sessions(state_dir: Path) -> list[tuple[str, float]]:
    """``(session id, last change as epoch seconds)`` of every recorded session, newest first."""
    try:
        found = [(p.stem, p.stat().st_mtime) for p in Path(session_dir(state_dir)).glob("*.jsonl")]
    except OSError:
        return []
    return sorted(found, key=lambda item: item[1], reverse=True)
