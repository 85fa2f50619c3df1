"""Adding git-recover's hooks to a project's Claude Code settings, and removing them.

Claude Code reads hooks from ``.claude/settings.json`` (shared with the team,
committed) and ``.claude/settings.local.json`` (personal, ignored by git)::

    {"hooks": {"PreToolUse": [{"matcher": "Write|Edit|...", "hooks": [
        {"type": "command", "command": "git-recover agent-hook PreToolUse", "timeout": 60}]}]}}

Install merges: every other key, event and hook is kept as it was, in its
order; a previous git-recover entry is replaced, so installing twice changes
nothing. Uninstall removes only hooks whose command is git-recover's
(``... agent-hook <event>``) and the groups and events that leaves empty. A
settings file that is not a JSON object is never overwritten: it is an error
naming the file. The file is written to a temporary file and renamed, so the
client never reads half of it.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from recovery.agent.hook import FILE_TOOLS
from recovery.base.fs import atomic_write
from recovery.base.errors import UsageError

# (event, matcher or None): what git-recover hooks into.
HOOKS: tuple[tuple[str, str | None], ...] = (
    ("SessionStart", None),
    ("UserPromptSubmit", None),
    ("PreToolUse", "|".join(FILE_TOOLS)),
    ("PostToolUse", "|".join(FILE_TOOLS)),
    ("PostToolUseFailure", "|".join(FILE_TOOLS)),
)
TIMEOUT_S = 60
_OURS = re.compile(r"(?:git-recover|-m recovery)\s+agent-hook\s")


def settings_path(toplevel: Path, local: bool) -> Path:
    """``.claude/settings.json``, or ``settings.local.json`` when ``local``."""
    return toplevel / ".claude" / ("settings.local.json" if local else "settings.json")


def hook_command(event: str, local: bool) -> str:
    """The command line Claude Code runs for ``event``.

    The shared file names ``git-recover`` (every teammate has their own on
    PATH); the personal file, and a machine where ``git-recover`` is not on
    PATH, get this installation's interpreter, which works without PATH.
    """
    if not local and shutil.which("git-recover"):
        return f"git-recover agent-hook {event}"
    return f"{_quote(sys.executable)} -P -m recovery agent-hook {event}"


def _quote(path: str) -> str:
    import shlex

    return shlex.quote(path)


def is_ours(hook: Any) -> bool:
    """Whether a hook entry is git-recover's."""
    return isinstance(hook, dict) and bool(_OURS.search(str(hook.get("command", "")) + " "))


def _load(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise UsageError(f"{path} is not valid JSON ({exc}); fix it first, nothing was changed") from None
    if not isinstance(data, dict) or not isinstance(data.get("hooks", {}), dict):
        raise UsageError(f"{path}: expected a JSON object with a \"hooks\" object; nothing was changed")
    return data


def _without_ours(groups: Any) -> list[Any]:
    """An event's matcher groups with git-recover's hooks taken out (a group
    left without hooks is dropped; foreign entries are kept as they are)."""
    kept: list[Any] = []
    for group in groups if isinstance(groups, list) else []:
        if isinstance(group, dict) and isinstance(group.get("hooks"), list):
            hooks = [h for h in group["hooks"] if not is_ours(h)]
            if not hooks and group["hooks"]:
                continue
            group = {**group, "hooks": hooks}
        kept.append(group)
    return kept


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(data, indent=2) + "\n")


def install(toplevel: Path, local: bool) -> list[str]:
    """Add git-recover's hooks to the project's settings (merging).

    Returns:
        One line per event hooked.

    Raises:
        UsageError: the settings file exists and is not a JSON object.
        OSError: it cannot be written.
    """
    path = settings_path(toplevel, local)
    data = _load(path)
    hooks: dict[str, Any] = dict(data.get("hooks", {}))
    lines = []
    for event, matcher in HOOKS:
        group: dict[str, Any] = {"hooks": [{"type": "command", "command": hook_command(event, local),
                                            "timeout": TIMEOUT_S}]}
        if matcher is not None:
            group = {"matcher": matcher, **group}
        hooks[event] = [*_without_ours(hooks.get(event, [])), group]
        lines.append(f"{event}{f' ({matcher})' if matcher else ''}: git-recover agent-hook {event}")
    data["hooks"] = hooks
    _write(path, data)
    return [f"installed in {path}:", *[f"  {line}" for line in lines]]


def uninstall(toplevel: Path, local: bool) -> list[str]:
    """Remove git-recover's hooks (only those) from the project's settings.

    Returns:
        What was done, one line each.

    Raises:
        UsageError: the settings file is not a JSON object.
    """
    path = settings_path(toplevel, local)
    data = _load(path)
    hooks: dict[str, Any] = dict(data.get("hooks", {}))
    removed = 0
    for event in list(hooks):
        before = json.dumps(hooks[event])
        kept = _without_ours(hooks[event])
        if json.dumps(kept) == before:
            continue
        removed += 1
        if kept:
            hooks[event] = kept
        else:
            del hooks[event]
    if not removed:
        return [f"no git-recover hooks in {path}; nothing changed"]
    if hooks:
        data["hooks"] = hooks
    else:
        data.pop("hooks", None)
    _write(path, data)
    return [f"removed git-recover's hooks from {removed} event(s) in {path}; other hooks kept"]
