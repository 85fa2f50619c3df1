"""``git recover checkpoint`` in its plain forms, without click.

Scripts and agents take checkpoints often, and importing click costs 25-34 ms
of a ``checkpoint`` command that git itself can do in about 35 ms at 1k files
(README, Performance). So :func:`recovery.cli.main.main` hands the command's
plain forms here: ``--json``, ``-m``/``--message`` and ``--reason`` with their
value as the next argument or after ``=``. Any other form (help, an unknown
option, a value that looks like an option) goes to the click command in
:mod:`recovery.cli.checkpoint`, which defines the options and gives the usual
help and errors; both run :func:`take_checkpoint`.
"""

from __future__ import annotations

from recovery.base.errors import UsageError
from recovery.base.output import human_age, out
from recovery.cli.common import echo_json, open_repo, say_if_interrupted
from recovery.core.checkpoint import create_checkpoint

# The options with a value, by every spelling, and the name they set.
_VALUED = {"-m": "message", "--message": "message", "--reason": "reason"}


def plain_checkpoint(argv: list[str]) -> int | None:
    """Run ``checkpoint`` with the options ``argv`` when they are in a plain
    form (see the module docstring).

    Returns:
        ``0`` once the checkpoint is taken; ``None`` when ``argv`` is not in a
        plain form and nothing was done (the click command handles it).

    Raises:
        RecoverError: as :func:`take_checkpoint`.
    """
    values: dict[str, str] = {}
    as_json = False
    rest = list(argv)
    while rest:
        arg = rest.pop(0)
        name, eq, value = arg.partition("=")
        if arg == "--json":
            as_json = True
        elif eq and name in _VALUED and name.startswith("--"):
            values[_VALUED[name]] = value
        elif arg in _VALUED and rest and not rest[0].startswith("-"):
            values[_VALUED[arg]] = rest.pop(0)
        else:
            return None
    say_if_interrupted(["checkpoint", *argv])
    take_checkpoint(values.get("message"), values.get("reason", "manual"), as_json)
    return 0


def take_checkpoint(message: str | None, reason: str, as_json: bool) -> None:
    """Take a checkpoint of the worktree around the current directory and say
    which (one line, or the checkpoint as JSON).

    Args:
        message: the note stored with it (``None``: none).
        reason: why it is taken (``manual``; hooks pass their name).
        as_json: print the checkpoint as JSON instead of a line.

    Raises:
        UsageError: ``reason`` is empty, not one line (``list`` shows it in a
            column) or a restore's own (``restore-*``).
        RecoverError: outside a repository, or the capture failed (nothing published).
    """
    if not reason.strip() or not reason.isprintable():
        raise UsageError("--reason must be a non-empty line of printable characters")
    if reason.startswith("restore-"):
        # `list` and `last` pass over a restore's safety checkpoints, and
        # `status` names them as such: the user's own would vanish among them.
        raise UsageError(f"--reason {reason}: restore-* reasons are a restore's own")
    cp = create_checkpoint(open_repo(), reason, message, by_user=True)
    if as_json:
        echo_json(cp.to_json())
        return
    if cp.unchanged:
        out(f"checkpoint {cp.short} (#{cp.number}, {cp.reason}, {human_age(cp.age_s())} old) unchanged: "
            "the state equals it, nothing new written")
        return
    skipped = f", {len(cp.skipped)} path(s) skipped" if cp.skipped else ""
    # The capture's own time: the command's start-up is not in it (README, Performance).
    out(f"checkpoint {cp.short} (#{cp.number}, {cp.reason}, capture {cp.capture_s * 1000:.0f} ms{skipped})")
