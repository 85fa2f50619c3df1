"""The slower parts of the agent hooks, imported only when they run: the
``agent`` stage's gates after a tool call, and the session's first line."""

from __future__ import annotations

from pathlib import Path

from recovery.base.errors import RecoverError
from recovery.core.config import GitConfig
from recovery.core.repo import Repo

TRUST_KEY = "recover.trusted"  # the key `git recover install` sets (docs/gates.md, "trust")
_OUTPUT_LINES = 8


def run_agent_gates(toplevel: Path, after: str) -> str | None:
    """Run the gates configured for the ``agent`` stage on the current state.

    Nothing is restored and nothing is marked good: the agent is told, and
    decides. The state tested is checkpointed (the gates' cache key).

    Args:
        toplevel: the worktree.
        after: the tool call just made, for the message (``Write notes.md``).

    Returns:
        ``None`` when every required gate passed (or none is configured, or
        the repository is not trusted), else a short reason for the agent.

    Raises:
        RecoverError: the gate configuration is invalid.
    """
    from recovery.gates.config import load_gates
    from recovery.gates.policy import Validation, validate

    repo = Repo.discover(toplevel)
    config = GitConfig.load(repo.git)
    gates = load_gates(repo.toplevel, config)
    if not gates.for_stage("agent"):
        return None
    if not config.get_bool(TRUST_KEY, False):
        raise RecoverError(f"agent gates not run: {repo.toplevel} is not trusted yet; once you have read "
                           f"its gate configuration, run `git recover install` there (or `git config {TRUST_KEY} true`)")
    outcome = validate(repo, Validation("agent", ("agent",), strongest=None, mark_good=False), gates)
    failed = [r for r in outcome.results if r.failed]
    if not failed:
        return None
    lines = []
    for result in failed:
        lines.append(f"git-recover: gate {result.gate.name} failed after {after}: {result.reason}")
        lines += [f"  {line}" for line in result.output.strip().splitlines()[:_OUTPUT_LINES]]
    return "\n".join(lines)


def session_summary(toplevel: Path) -> str:
    """One line for the start of an agent session: the recovery point (the
    newest checkpoint and its age) and the broken ``@``-imports."""
    from recovery.base.output import human_age
    from recovery.core.refs import list_checkpoints

    repo = Repo.discover(toplevel)
    checkpoints = list_checkpoints(repo)
    if checkpoints:
        newest = checkpoints[0]
        point = f"recovery point: checkpoint {newest.short}, {human_age(newest.age_s())} old ({newest.reason})"
    else:
        point = "recovery point: no checkpoint yet (one is taken before each prompt and file-changing tool)"
    try:
        from recovery.gates.builtin.links import broken_imports

        broken = broken_imports(repo.toplevel)
        links = f"{broken} broken @-import(s) (see `git recover links`)" if broken else "no broken @-imports"
    except RecoverError as exc:
        links = f"@-imports not checked ({exc.message})"
    return f"git-recover: {point}; {links}; undo a prompt with `git recover rewind N`"
