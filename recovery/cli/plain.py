"""``git recover checkpoint`` and ``git recover verify`` in their plain forms, without click.

Scripts and agents take checkpoints often, and importing click costs 25-34 ms
of a ``checkpoint`` command that git itself can do in about 35 ms at 1k files
(README, Performance); ``verify`` of a 1k-file checkpoint is measured against
git reading and hashing its objects in about 110 ms. So
:func:`recovery.cli.main.main` hands their plain forms here: for
``checkpoint``, ``--json``, ``-m``/``--message`` and ``--reason`` with their
value as the next argument or after ``=``; for ``verify``, a checkpoint id,
``--all`` and ``--worktree``. Any other form (help, an unknown option, a value
that looks like an option) goes to the click commands in
:mod:`recovery.cli.checkpoint` and :mod:`recovery.cli.verify`, which define the
options and give the usual help and errors; both run :func:`take_checkpoint`
and :func:`run_verify`.
"""

from __future__ import annotations

from recovery.base.errors import EXIT_FINDINGS, RecoverError, UsageError
from recovery.base.output import colour, human_age, out, progress, summarize
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


def plain_verify(argv: list[str]) -> int | None:
    """Run ``verify`` with the options ``argv`` when they are in a plain form
    (see the module docstring): at most one checkpoint id, ``--all``, ``--worktree``.

    Returns:
        ``0`` once verified intact; ``None`` when ``argv`` is not in a plain form
        and nothing was done (the click command handles it).

    Raises:
        RecoverError: as :func:`run_verify`.
    """
    ids = [arg for arg in argv if not arg.startswith("-")]
    flags = [arg for arg in argv if arg.startswith("-")]
    if len(ids) > 1 or any(flag not in ("--all", "--worktree") for flag in flags):
        return None
    say_if_interrupted(["verify", *argv])
    run_verify(ids[0] if ids else None, "--all" in flags, "--worktree" in flags)
    return 0


def run_verify(checkpoint_id: str | None, every: bool, worktree: bool) -> None:
    """Re-hash every object of the checkpoint ``checkpoint_id`` (default: last;
    every one with ``every``) and say what was found; with ``worktree``, also
    compare the live state with it.

    Raises:
        UsageError: an empty id, or an id and ``every`` both given.
        RecoverError: exit 2 when an object is missing or corrupt, or the live
            state differs; as :func:`recovery.core.refs.resolve` for an unknown id.
    """
    # Here, not at the top: a checkpoint imports this module and needs neither.
    from recovery.core.integrity import check_checkpoint, verify_objects
    from recovery.core.refs import list_checkpoints, resolve

    if checkpoint_id == "":
        raise UsageError("an empty checkpoint id (leave it out for `last`)")
    if every and checkpoint_id is not None:
        raise UsageError(f"--all verifies every checkpoint; leave out {checkpoint_id!r} or --all")
    repo = open_repo()
    # A checkpoint whose own commit is missing or corrupt is listed by nobody:
    # verify names it (the check found a problem) whichever checkpoint it is asked about.
    broken: list[str] = []
    listed = list_checkpoints(repo, broken)
    targets = listed if every else [resolve(repo, checkpoint_id or "last")]
    if not targets and not broken:
        out("no checkpoints to verify")
    failed = bool(broken)
    differs = False
    for ref in broken:
        out(f"{ref}: {colour('commit missing or corrupt', 'red')}; the checkpoint cannot be restored "
            f"(remove the ref with `git update-ref -d {ref}`)")
    with progress(f"verifying {len(targets)} checkpoint(s)", total=len(targets)) as bar:
        for cp in targets:
            roots = [cp.sha, cp.index_commit] + [sha for sha in (cp.head, cp.conflict_commit) if sha]
            report = verify_objects(repo, roots)
            bar.advance()
            if report.ok:
                out(f"{cp.short}: {report.checked} objects re-hashed, {colour('all intact', 'green')} "
                    f"({report.duration_s * 1000:.0f} ms)")
            else:
                failed = True
                bad = report.missing + report.corrupt
                out(f"{cp.short}: {colour(f'{len(report.missing)} missing, {len(report.corrupt)} corrupt', 'red')} "
                    f"of {report.checked} objects: {', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}")
    if worktree and targets:
        # With --all too, the live state is compared with `last`, as without it
        # (the newest of all may be a restore's safety checkpoint).
        cp = targets[0] if not every else resolve(repo, "last")
        with progress(f"comparing the live state with {cp.short}"):
            verdict = check_checkpoint(repo, cp)
        if verdict.ok:
            same = "identical" if not verdict.limits else "identical as far as checked"
            out(f"live state is {colour(same, 'green')} to {cp.short} ({verdict.duration_s * 1000:.0f} ms)")
            for limit in verdict.limits:
                out(f"  not covered: {limit}")
        else:
            differs = True
            out(f"live state {colour('differs', 'red')} from {cp.short}:")
            for line in summarize(verdict.mismatches):
                out(f"  {line}")
    # Two findings, said apart: a user read "verification failed" after an
    # intact checkpoint and a live state that had moved on as damage.
    if failed:
        raise RecoverError("verification failed: objects are missing or corrupt" + (
            "; the live state differs too" if differs else ""), EXIT_FINDINGS)
    if differs:
        raise RecoverError("the checkpoint is intact; the live state differs from it (listed above)", EXIT_FINDINGS)
