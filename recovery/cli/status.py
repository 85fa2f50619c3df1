"""``git recover status``: the recovery point you have right now."""

from __future__ import annotations

import click

from recovery.base.output import clean, colour, human_age, out
from recovery.cli.common import echo_json, open_repo
from recovery.base.errors import RecoverError
from recovery.core.intent import in_progress, read_intent
from recovery.core.refs import get_label, list_checkpoints


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(as_json: bool) -> None:
    """Show the newest checkpoint and its age (what `restore last` brings back),
    a newer restore's safety checkpoint when there is one, the last good
    checkpoint, and whether a restore is in progress or was interrupted."""
    repo = open_repo()
    checkpoints = list_checkpoints(repo)
    newest = checkpoints[0] if checkpoints else None
    # `last` (and `list`) skip a restore's safety checkpoints: the line that
    # names what `restore last` brings back must name the same one (a new user
    # took a hidden safety checkpoint for their own newest).
    last = next((cp for cp in checkpoints if not cp.is_safety), None)
    good = get_label(repo, "good")
    try:
        intent = read_intent(repo)
        damaged = None
    except RecoverError as exc:
        intent, damaged = None, exc.message
    running = intent is not None and in_progress(repo, intent)
    if as_json:
        echo_json({
            "checkpoints": len(checkpoints),
            "newest": newest.to_json() if newest else None,
            "newest_age_s": newest.age_s() if newest else None,
            "last": last.to_json() if last else None,
            "good": good.to_json() if good else None,
            "interrupted_restore": intent.checkpoint if intent and not running else None,
            "restore_in_progress": intent.pid if intent and running else None,
            "damaged_restore_record": damaged,
        })
        return
    if newest is None:
        out("no checkpoints yet: nothing can be restored (take one with `git recover checkpoint`)")
    if last is not None:
        out(f"newest checkpoint: {last.short} (#{last.number}, {clean(last.reason)}), {human_age(last.age_s())} ago "
            f"-- what `git recover restore last` brings back (not what changed since); {len(checkpoints)} in all")
    if newest is not None and newest.is_safety:
        undo = get_label(repo, "undo")
        back = "`git recover undo`" if undo is not None and undo.sha == newest.sha else (
            f"`git recover restore {newest.short}`")
        # --continue and --abort take theirs of the half-restored state they find.
        taken = ("by `restore --continue` or `--abort`, of the state it found" if newest.reason in
                 ("restore-continue", "restore-abort") else "by a restore before it changed anything")
        out(f"{'newer' if last else 'newest'}, taken {taken}: {newest.short} "
            f"(#{newest.number}), "
            f"{human_age(newest.age_s())} ago -- {back} brings that state back")
    if good is None:
        out("last good checkpoint: none yet (no checkpoint has passed the gates)")
    else:
        out(f"last good checkpoint: {good.short} (#{good.number}, {clean(good.reason)}), {human_age(good.age_s())} ago")
    if damaged is not None:
        out(f"{colour('INTERRUPTED RESTORE', 'red')}: {damaged}")
    if intent is not None:
        numbers = {cp.sha: cp.number for cp in checkpoints}
        target = f"{intent.checkpoint[:10]} (#{numbers[intent.checkpoint]})" if intent.checkpoint in numbers else (
            (intent.checkpoint or "?")[:10])
        safety = f"{intent.safety[:10]} (#{numbers[intent.safety]})" if intent.safety in numbers else intent.safety[:10]
        if running:
            out(f"a restore is in progress (pid {intent.pid}): {target} since {intent.started}")
            return
        out(f"{colour('INTERRUPTED RESTORE', 'red')} of {target} started {intent.started}: "
            "run `git recover restore --continue` to finish it or `git recover restore --abort` to go back to "
            f"checkpoint {safety}")
