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

This module runs in every agent hook; :mod:`recovery.agent.history` reads the
records back for ``list --session`` and ``rewind``.
"""

from __future__ import annotations

import fcntl
import json
import os
import time

TYPE_CHECKING = False  # typing's and pathlib's imports cost the hot path; mypy reads the name as typing's
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    # Paths as strings or path objects: the agent hook passes strings (pathlib's
    # import is 5 ms of it), the readers of the records pass their Repo's paths.
    StrPath = str | os.PathLike[str]

SESSION_DIR = "agent"
_SAFE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


def session_dir(state_dir: StrPath) -> str:
    """Where session records live under a worktree's state directory."""
    return os.path.join(state_dir, SESSION_DIR)


def session_file(state_dir: StrPath, session_id: str) -> str:
    """The record file of ``session_id`` (an id that is not a plain token is
    hashed, so it can never name a path outside the directory)."""
    if not 0 < len(session_id) <= 128 or not set(session_id) <= _SAFE_CHARS or session_id.startswith("."):
        import hashlib

        session_id = "h-" + hashlib.sha256(session_id.encode()).hexdigest()[:32]
    return os.path.join(session_dir(state_dir), f"{session_id}.jsonl")


def _now() -> str:
    """Now as ISO 8601 UTC with milliseconds (``datetime``'s import is spared on the hot path)."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}+00:00"


def append(state_dir: StrPath, session_id: str,
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
    os.makedirs(os.path.dirname(path), exist_ok=True)
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


def read(state_dir: StrPath, session_id: str) -> list[dict[str, Any]]:
    """The records of ``session_id`` in order (empty when there are none)."""
    try:
        with open(session_file(state_dir, session_id), "rb") as handle:
            return _parse(handle.read())
    except OSError:
        return []


def prompt_number(records: list[dict[str, Any]], prompt_id: str | None,
                  submitted: bool = False) -> tuple[int, bool]:
    """The number of the prompt ``prompt_id`` in a session, and whether it is new.

    A tool event whose prompt was never recorded (the hooks were installed in
    the middle of a prompt, or the client sent no ``prompt_id``) belongs to the
    newest prompt when it has no id, else to a new one. A prompt's own
    submission (``submitted``) without an id is always a new prompt: every
    prompt of such a client was numbered 1.
    """
    numbers = {r.get("prompt_id"): int(r["n"]) for r in records
               if r.get("kind") in ("prompt", "tool") and isinstance(r.get("n"), int)}
    if prompt_id is not None and prompt_id in numbers:
        return numbers[prompt_id], False
    if prompt_id is None and numbers and not submitted:
        return max(numbers.values()), False
    return max(numbers.values(), default=0) + 1, True
