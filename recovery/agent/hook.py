"""What git-recover does when Claude Code runs one of its hooks
(``git-recover agent-hook <event>``, JSON on stdin).

- ``UserPromptSubmit``: number the prompt (the client sends a ``prompt_id``
  UUID, no number) and checkpoint the state just before it.
- ``PreToolUse`` for a file-changing tool (``Write``, ``Edit``, ``MultiEdit``,
  ``NotebookEdit``, ``Bash``): checkpoint the state just before the tool runs
  (the client waits for the hook), labelled with the tool and its target.
- ``PostToolUse``: record the call as done, then run the gates configured for
  the ``agent`` stage; a failure is told to the agent through the hook protocol
  (exit 2, a short reason on stderr), never by restoring behind its back.
- ``PostToolUseFailure``: record the call as failed.
- ``SessionStart``: one line on stdout (the client adds it to the agent's
  context): the recovery point and the broken ``@``-imports.

Rules, and why:

- **Never in the agent's way because of git-recover**: any error of ours is one
  line on stderr and exit 0; only a failing gate exits 2.
- **Fast when nothing changed**: the hot path imports the standard library and
  :mod:`recovery.core.fingerprint` only, finds the repository from the files
  on disk, and runs one ``git status``; a state some checkpoint already holds
  is recorded by reference, not captured again.
- **The project, not the shell's directory**: after a Bash ``cd sub`` the client
  runs later hooks in ``sub/``; the repository is found from
  ``CLAUDE_PROJECT_DIR`` (set by the client), else the payload's ``cwd``.
- **Tolerant input**: unknown fields are ignored, missing ones are tolerated.
"""

from __future__ import annotations

import json
import os
import sys

from recovery.agent.session import append, prompt_number
from recovery.base.errors import EXIT_OK, RecoverError
from recovery.core.fingerprint import AGENT_PROMPT_REASON, StatusListing, checkpoint_new, unchanged

# typing's and pathlib's imports cost the hot path (pathlib 5 ms of a 70 ms
# hook): its paths are strings. mypy reads the name as typing's.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EXIT_FEEDBACK = 2  # Claude Code: exit 2 feeds stderr back to the agent
FILE_TOOLS = ("Write", "Edit", "MultiEdit", "NotebookEdit", "Bash")
EVENTS = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure")
PROMPT_REASON = AGENT_PROMPT_REASON
TOOL_REASON = "agent-tool"
_TARGET_MAX = 200


def agent_hook_main(argv: list[str]) -> int:
    """Run the hook for event ``argv[0]`` on the JSON payload on stdin.

    Returns:
        0, or 2 when an ``agent`` gate failed after a tool call. Never raises:
        an error of git-recover's own is reported on stderr with exit 0.
    """
    event = argv[0] if argv else "?"
    try:
        raw = sys.stdin.buffer.read() if not sys.stdin.isatty() else b""
        try:
            # A byte that is not UTF-8 becomes U+FFFD: the checkpoint matters
            # more than the letter of the JSON standard.
            payload = json.loads(raw.decode("utf-8", "replace") if raw else "{}")
        except ValueError as exc:
            _say(f"{event} hook: the input is not JSON ({exc}); nothing recorded")
            return EXIT_OK
        if b"\\ud" in raw.lower():
            # A lone surrogate ("\\ud800": JSON can carry one, no UTF-8 text
            # can) in a prompt failed the checkpoint and the record made from
            # it, and the agent went on unprotected: it becomes "?".
            payload = json.loads(json.dumps(payload, ensure_ascii=False).encode("utf-8", "replace"))
        if not isinstance(payload, dict):
            payload = {}
        event = str(payload.get("hook_event_name") or event)
        return _dispatch(event, payload)
    except RecoverError as exc:
        _say(f"{event} hook: {exc.message} (the agent goes on without this checkpoint)")
    except Exception as exc:  # a bug of ours must never stop the agent
        _say(f"{event} hook: internal error ({type(exc).__name__}: {exc}); the agent goes on")
    return EXIT_OK


def _say(line: str) -> None:
    from recovery.base.output import say

    say(line)


def _dispatch(event: str, payload: dict[str, Any]) -> int:
    if os.environ.get("GIT_RECOVER_INTERNAL"):
        return EXIT_OK
    tool = str(payload.get("tool_name") or "")
    if event in ("PreToolUse", "PostToolUse", "PostToolUseFailure") and tool not in FILE_TOOLS:
        return EXIT_OK  # reads and searches change nothing
    if event not in EVENTS:
        _say(f"unknown hook event {event!r} ignored (known: {', '.join(EVENTS)})")
        return EXIT_OK
    where = locate(payload)
    if where is None:
        if event == "SessionStart":
            print("git-recover: not a git repository here; nothing is checkpointed")
        return EXIT_OK
    toplevel, git_dir, common_dir = where
    if event == "SessionStart":
        return _session_start(toplevel)
    session = str(payload.get("session_id") or "unknown")
    prompt_id = payload.get("prompt_id")
    prompt_id = str(prompt_id) if prompt_id else None
    state_dir = os.path.join(git_dir, "recovery")
    if event == "PostToolUse" or event == "PostToolUseFailure":
        _record_result(state_dir, session, payload, event == "PostToolUseFailure")
        return _agent_gates(toplevel, tool, payload) if event == "PostToolUse" else EXIT_OK

    fingerprint, listing, sha = unchanged(toplevel, git_dir, common_dir)
    if event == "UserPromptSubmit":
        text = str(payload.get("prompt") or "")
        line = (text.strip().splitlines() or [""])[0][:_TARGET_MAX]

        def build_prompt(records: list[dict[str, Any]]) -> dict[str, Any]:
            n, _ = prompt_number(records, prompt_id, submitted=True)
            cp = sha or _capture(toplevel, PROMPT_REASON, f"session {session} prompt {n}: {line}", fingerprint,
                                 listing)
            return {"kind": "prompt", "n": n, "prompt_id": prompt_id, "line": line, "checkpoint": cp}

        append(state_dir, session, build_prompt)
        return EXIT_OK
    target = tool_target(tool, payload.get("tool_input"), toplevel)

    def build_tool(records: list[dict[str, Any]]) -> dict[str, Any]:
        n, _ = prompt_number(records, prompt_id)
        cp = sha or _capture(toplevel, TOOL_REASON, f"session {session} prompt {n}: {tool} {target}",
                             fingerprint, listing)
        return {"kind": "tool", "n": n, "prompt_id": prompt_id, "tool": tool, "target": target,
                "tool_use_id": payload.get("tool_use_id"), "checkpoint": cp}

    append(state_dir, session, build_tool)
    return EXIT_OK


def _capture(toplevel: str, reason: str, message: str, fingerprint: bytes | None,
             listing: StatusListing | None) -> str:
    from pathlib import Path

    from recovery.core.repo import Repo

    return checkpoint_new(Repo.discover(Path(toplevel)), reason, message, fingerprint, listing)


def locate(payload: dict[str, Any]) -> tuple[str, str, str] | None:
    """The worktree the agent works in: ``(top level, git dir, common dir)``,
    found from the files on disk without starting git, or ``None`` outside one.

    The search starts at ``CLAUDE_PROJECT_DIR`` (the project the client was
    started in; a later ``cd`` in Bash does not change it), else the payload's
    ``cwd``, else the process's directory, and walks up to the first ``.git``
    (a directory, or a file ``gitdir: <path>`` in a linked worktree or submodule,
    gitrepository-layout(5)).
    """
    start = os.environ.get("CLAUDE_PROJECT_DIR") or payload.get("cwd") or os.getcwd()
    top = os.path.abspath(str(start))
    while True:
        dot = os.path.join(top, ".git")
        if os.path.isdir(dot):
            return top, dot, dot
        if os.path.isfile(dot):
            text = _read(dot).strip()
            if not text.startswith("gitdir:"):
                return None
            git_dir = os.path.realpath(os.path.join(top, text.removeprefix("gitdir:").strip()))
            common = _read(os.path.join(git_dir, "commondir")).strip()
            return top, git_dir, os.path.realpath(os.path.join(git_dir, common)) if common else git_dir
        parent = os.path.dirname(top)
        if parent == top:
            return None
        top = parent


def tool_target(tool: str, tool_input: Any, toplevel: str) -> str:
    """What a tool call acts on, for its label: the file (relative to the top
    level when inside it) or the command line, shortened."""
    if not isinstance(tool_input, dict):
        return ""
    if tool == "Bash":
        command = " ".join(str(tool_input.get("command") or "").split())
        return command if len(command) <= _TARGET_MAX else command[:_TARGET_MAX - 3] + "..."
    path = str(tool_input.get("file_path") or tool_input.get("notebook_path") or "")
    try:
        inside = os.path.isabs(path) and os.path.commonpath([path, toplevel]) == toplevel
        return os.path.relpath(path, toplevel) if inside else path
    except ValueError:
        return path


def _record_result(state_dir: str, session: str, payload: dict[str, Any], failed: bool) -> None:
    """Append the outcome of a tool call: by its ``tool_use_id``, or, from a
    client that sends none, by its tool's name (it ends the newest call of that
    tool still running; :func:`recovery.agent.history.prompts`)."""
    use_id = payload.get("tool_use_id")
    record: dict[str, Any] = {"kind": "failed" if failed else "done", "tool_use_id": use_id}
    if not use_id:
        record["tool"] = str(payload.get("tool_name") or "?")
    if failed:
        error = str(payload.get("error") or "")
        record["error"] = (error.strip().splitlines() or [""])[0][:_TARGET_MAX]
    append(state_dir, session, lambda _records: record)


def _agent_gates(toplevel: str, tool: str, payload: dict[str, Any]) -> int:
    """Run the gates of the ``agent`` stage after a tool call; a failure is
    said on stderr with exit 2, which the client feeds back to the agent."""
    if not os.path.exists(os.path.join(toplevel, ".recover.toml")) and \
            "git-recover" not in _read(os.path.join(toplevel, "pyproject.toml")):
        return EXIT_OK  # no gate configuration: nothing to import, nothing to run
    from pathlib import Path

    from recovery.agent.gates import run_agent_gates

    reason = run_agent_gates(Path(toplevel), f"{tool} {tool_target(tool, payload.get('tool_input'), toplevel)}")
    if reason is None:
        return EXIT_OK
    print(reason, file=sys.stderr)
    return EXIT_FEEDBACK


def _read(path: str) -> str:
    """The text of ``path``, ``""`` when it cannot be read."""
    try:
        with open(path, errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def _session_start(toplevel: str) -> int:
    from pathlib import Path

    from recovery.agent.gates import session_summary

    print(session_summary(Path(toplevel)))
    return EXIT_OK
