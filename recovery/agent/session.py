"""The record of an agent session: its prompts, numbered, and every tool call,
each with the checkpoint that holds the state just before it.

Claude Code gives each prompt a ``prompt_id`` (a UUID, shared by that prompt's
tool events) but no number, so git-recover numbers prompts itself, in the order
their first event arrives. The record is one JSON line per event in
``<git-dir>/recovery/agent/<session id>.jsonl``, appended under an exclusive
``flock(2)`` (tool hooks of parallel tool calls run at the same time), one
``write(2)`` per line. It is an index into the checkpoints, not their only
copy: every checkpoint's message also names its session, prompt and tool, so
``git recover list`` shows them should the record be lost.

Record kinds (``kind``): ``prompt`` (number ``n``, ``prompt_id``, first ``line``,
``checkpoint``), ``tool`` (``n``, ``tool``, ``target``, ``tool_use_id``,
``checkpoint``), ``done`` and ``failed`` (``tool_use_id``, for failed: ``error``).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SESSION_DIR = "agent"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def session_dir(state_dir: Path) -> Path:
    """Where session records live under a worktree's state directory."""
    return state_dir / SESSION_DIR


def session_file(state_dir: Path, session_id: str) -> Path:
    """The record file of ``session_id`` (an id that is not a plain token is
    hashed, so it can never name a path outside the directory)."""
    if not _SAFE_ID.match(session_id) or session_id.startswith("."):
        import hashlib

        session_id = "h-" + hashlib.sha256(session_id.encode()).hexdigest()[:32]
    return session_dir(state_dir) / f"{session_id}.jsonl"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def append(state_dir: Path, session_id: str,
           build: Callable[[list[dict[str, Any]]], dict[str, Any] | None]) -> dict[str, Any] | None:
    """Append one record built from the session's records so far, atomically
    with respect to other hooks of the same session.

    Args:
        state_dir: the worktree's state directory.
        session_id: the session.
        build: receives the existing records, returns the new one (``None``: nothing to add).

    Returns:
        The record appended (with its ``time``), or ``None``.

    Raises:
        OSError: the record file cannot be written.
    """
    path = session_file(state_dir, session_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with os.fdopen(os.dup(fd), "rb") as handle:
            records = _parse(handle.read())
        record = build(records)
        if record is not None:
            record = {"time": _now(), **record}
            os.write(fd, (json.dumps(record, sort_keys=True) + "\n").encode())
        return record
    finally:
        os.close(fd)


def _parse(data: bytes) -> list[dict[str, Any]]:
    records = []
    for line in data.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue  # a torn last line of a killed hook costs that one event
        if isinstance(item, dict):
            records.append(item)
    return records


def read(state_dir: Path, session_id: str) -> list[dict[str, Any]]:
    """The records of ``session_id`` in order (empty when there are none)."""
    try:
        return _parse(session_file(state_dir, session_id).read_bytes())
    except OSError:
        return []


def prompt_number(records: list[dict[str, Any]], prompt_id: str | None) -> tuple[int, bool]:
    """The number of the prompt ``prompt_id`` in a session, and whether it is new.

    A tool event whose prompt was never recorded (the hooks were installed in
    the middle of a prompt, or the client sent no ``prompt_id``) belongs to the
    newest prompt when it has no id, else to a new one.
    """
    numbers = {r.get("prompt_id"): int(r["n"]) for r in records
               if r.get("kind") in ("prompt", "tool") and isinstance(r.get("n"), int)}
    if prompt_id is not None and prompt_id in numbers:
        return numbers[prompt_id], False
    if prompt_id is None and numbers:
        return max(numbers.values()), False
    return max(numbers.values(), default=0) + 1, True


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
            found = by_use.get(str(r.get("tool_use_id")))
            if found is not None:
                found.outcome = kind
                found.error = r.get("error")
    return [by_number[n] for n in sorted(by_number)]


def sessions(state_dir: Path) -> list[tuple[str, float]]:
    """``(session id, last change as epoch seconds)`` of every recorded session, newest first."""
    try:
        found = [(p.stem, p.stat().st_mtime) for p in session_dir(state_dir).glob("*.jsonl")]
    except OSError:
        return []
    return sorted(found, key=lambda item: item[1], reverse=True)
