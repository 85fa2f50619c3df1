"""Rewind by prompt: the state just before prompt N of an agent session.

``git recover rewind N`` is a verified, undoable restore (the core's restore:
safety checkpoint first, integrity check after) of the checkpoint the
``UserPromptSubmit`` hook took before prompt N. That checkpoint is a capture of
the whole worktree, so everything the prompt changed comes back, through its
edit tools or its shell alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from recovery.agent.history import Prompt, prompts, sessions
from recovery.agent.session import read
from recovery.base.errors import UsageError
from recovery.core.model import Checkpoint
from recovery.core.refs import load
from recovery.core.repo import Repo
from recovery.core.restore import RestoreResult, restore


@dataclass(frozen=True)
class PromptTarget:
    """Where a rewind goes.

    Attributes:
        session: the session id.
        prompt: the prompt rewound.
        checkpoint: the state just before it.
        exact: ``False`` when the prompt's own hook was not seen and the state
            before its first file-changing tool call stands in for it.
    """

    session: str
    prompt: Prompt
    checkpoint: Checkpoint
    exact: bool


def find_session(repo: Repo, session: str | None) -> str:
    """The session id ``session`` names (a unique prefix is enough), or the
    most recently active session when ``None``.

    Raises:
        UsageError: no session is recorded, or none (or several) match.
    """
    known = sessions(repo.state_dir)
    if not known:
        raise UsageError("no agent session recorded in this worktree yet (the agent hooks record one from "
                         "an agent's first prompt; `git recover agent install` sets them up)")
    if session is None:
        return known[0][0]
    matches = [sid for sid, _ in known if sid == session] or [sid for sid, _ in known if sid.startswith(session)]
    if len(matches) != 1:
        what = "matches several sessions" if matches else "matches no recorded session"
        raise UsageError(f"session {session!r} {what} (see `git recover list --session`)")
    return matches[0]


def prompt_target(repo: Repo, session: str | None, number: int | None) -> PromptTarget:
    """The checkpoint just before prompt ``number`` (default: the latest) of a session.

    Raises:
        UsageError: no such session or prompt, or its checkpoint is gone.
    """
    sid = find_session(repo, session)
    found = prompts(read(repo.state_dir, sid))
    if not found:
        raise UsageError(f"session {sid} has no prompt recorded")
    if number is None:
        prompt = found[-1]
    else:
        matching = [p for p in found if p.number == number]
        if not matching:
            raise UsageError(f"session {sid} has no prompt {number} (prompts 1-{found[-1].number})")
        prompt = matching[0]
    sha = prompt.checkpoint or (prompt.tools[0].checkpoint if prompt.tools else None)
    if not sha:
        raise UsageError(f"prompt {prompt.number} of session {sid} has no checkpoint")
    try:
        checkpoint = load(repo, sha)
    except Exception:
        raise UsageError(f"the checkpoint {sha[:10]} before prompt {prompt.number} no longer exists "
                         "(removed by gc?)") from None
    return PromptTarget(sid, prompt, checkpoint, prompt.checkpoint is not None)


def prompt_checkpoint(repo: Repo, number: str) -> Checkpoint:
    """The checkpoint ``prompt:<number>`` names: the state just before that
    prompt of the latest session.

    Raises:
        UsageError: ``number`` is not a prompt number, or see :func:`prompt_target`.
    """
    if not number.isdigit() or int(number) < 1:
        raise UsageError(f"prompt:{number}: expected prompt:N, N a prompt number (see `git recover list --session`)")
    return prompt_target(repo, None, int(number)).checkpoint


def rewind(repo: Repo, session: str | None, number: int | None, dry_run: bool = False) -> tuple[PromptTarget, RestoreResult]:
    """Restore the state just before prompt ``number`` (verified; undo with ``git recover undo``).

    Raises:
        UsageError: see :func:`prompt_target`.
        RecoverError: the restore refused or failed (nothing is lost: see the core's restore).
    """
    target = prompt_target(repo, session, number)
    return target, restore(repo, target.checkpoint, (), dry_run=dry_run)


def session_listing(repo: Repo, session: str | None) -> tuple[str, list[Prompt]]:
    """A session's prompts and tool calls, for ``git recover list --session``."""
    sid = find_session(repo, session)
    return sid, prompts(read(repo.state_dir, sid))


def session_json(sid: str, found: list[Prompt]) -> dict[str, Any]:
    """The ``--json`` form of a session listing."""
    return {"session": sid, "prompts": [
        {"number": p.number, "line": p.line, "checkpoint": p.checkpoint, "time": p.time,
         "tools": [{"tool": t.tool, "target": t.target, "checkpoint": t.checkpoint, "time": t.time,
                    "outcome": t.outcome, "error": t.error} for t in p.tools]}
        for p in found]}


def age_s(iso: str) -> float:
    """Seconds since an ISO 8601 time (0 when it cannot be read)."""
    try:
        return max(0.0, (datetime.now(timezone.utc) - datetime.fromisoformat(iso)).total_seconds())
    except ValueError:
        return 0.0
