"""The restore intent record: what a restore is doing, written before it touches anything.

``<git-dir>/recovery/restore-intent.json`` exists exactly while a restore is
between "about to change the worktree" and "verified". It names the target
state in full (trees and HEAD, not just a checkpoint id, so path-limited
restores can be resumed) and the safety checkpoint that holds what was there
before. A later run that finds it knows a restore was interrupted: ``restore
--continue`` drives the worktree to ``target`` again, ``--abort`` to the safety
checkpoint's state. The file is replaced atomically (write, fsync, rename),
so it is either the old record or the new one, never half of one.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from recovery.base.errors import RecoverError
from recovery.base.fs import atomic_write, fsync_dir
from recovery.core.lock import lock_held_by
from recovery.core.model import Intent, RestorePhase, TargetState
from recovery.core.repo import Repo

INTENT_FILE = "restore-intent.json"


def intent_path(repo: Repo) -> Path:
    """Where the intent record of ``repo`` lives."""
    return repo.state_dir / INTENT_FILE


def write_intent(repo: Repo, intent: Intent) -> None:
    """Replace the intent record atomically and durably."""
    path = intent_path(repo)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps({**intent._asdict(), "target": intent.target._asdict()}, indent=1))


def read_intent(repo: Repo) -> Intent | None:
    """The interrupted restore, or ``None`` when there is none.

    Raises:
        RecoverError: the record exists but cannot be read (it names the file).
    """
    path = intent_path(repo)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["target"] = TargetState(**data["target"])
        data["paths"] = tuple(data.get("paths", ()))
        data["phase"] = RestorePhase(data.get("phase", RestorePhase.WORKTREE))
        return Intent(**data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise RecoverError(
            f"the restore record {path} is damaged ({exc}); `git recover restore --abort` goes back "
            "to the state before that restore (checkpoint `undo`)"
        ) from None


def clear_intent(repo: Repo) -> None:
    """Remove the intent record (the restore is verified or abandoned)."""
    intent_path(repo).unlink(missing_ok=True)
    fsync_dir(repo.state_dir)


def in_progress(repo: Repo, intent: Intent) -> bool:
    """Whether the restore ``intent`` records is still running: its process
    holds the repository lock (a restore keeps it until it clears the record).
    ``False`` means interrupted: killed, crashed, or the machine went down."""
    return lock_held_by(repo, intent.pid)


def now_iso() -> str:
    """The current UTC time in ISO 8601 with microseconds."""
    return datetime.now(timezone.utc).isoformat()


def interruption_report(cwd: Path | None = None) -> str:
    """The line a command interrupted by Ctrl-C prints: whether it left a
    restore half-done (and how to finish it) or nothing to resolve. A bare
    "aborted" after a restore stopped mid-switch would leave the user guessing
    whether their files are whole.

    Never raises: outside a repository it says only that the command stopped.
    """
    try:
        intent = read_intent(Repo.discover(cwd))
    except RecoverError as exc:
        if "restore record" in exc.message:
            return f"interrupted; {exc.message}"
        return "interrupted"
    if intent is None:
        return ("interrupted; no restore is half-done (a checkpoint is published whole or not at all), "
                "so there is nothing to resolve")
    return ("interrupted in the middle of a restore: the files, the index and HEAD may be half-switched "
            "(see `git recover status`); run `git recover restore --continue` to finish it or "
            "`git recover restore --abort` to go back; nothing is lost either way")
