"""Gate definitions: the ``gates`` table of the project configuration, then the
per-user overrides from git config ``recover.gate.<name>.<key>``.

Project file (``.recover.toml``, or ``[tool.git-recover]`` in ``pyproject.toml``)::

    [gates.pytest]
    command = ["pytest", "-q"]      # argv list; a string is split with shlex
    timeout = 600                   # seconds
    severity = "high"               # critical / high / medium / low
    stages = ["pre-commit", "post-merge"]
    required = true
    policy = "restore"              # restore / block / warn

    [gates.tdd]
    builtin = "tdd"
    sources = ["src/**/*.py"]
    tests = ["tests/**/*.py"]

A user overrides one value for themselves with, e.g.,
``git config recover.gate.pytest.timeout 900`` or turns a gate off with
``git config recover.gate.pytest.enabled false``. Every value remembers where it
came from (:attr:`Gate.sources`); every error names the file or git config key.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from recovery.core.config import GitConfig
from recovery.base.errors import UsageError
from recovery.gates import GIT_PREFIX
from recovery.gates.model import BUILTINS, POLICIES, SEVERITIES, STAGES, Gate
from recovery.links.findings import FAIL_LEVELS
from recovery.base.project_config import load_project_config

_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
# Keys of one gate table, with the Gate field each one sets.
_FIELD_OF_KEY = {
    "command": "command",
    "builtin": "builtin",
    "shell": "shell",
    "timeout": "timeout_s",
    "severity": "severity",
    "stages": "stages",
    "required": "required",
    "policy": "policy",
}
# Settings a built-in gate reads (kept in Gate.options).
_BUILTIN_OPTIONS = {
    "tdd": {"sources", "tests"},
    "links": {"fail_level"},
}
# git config keys a user may override per gate (recover.gate.<name>.<key>).
MAX_TIMEOUT_S = 86400.0  # a day: longer is a hang, not a gate
_OVERRIDABLE = {"command", "timeout", "severity", "stages", "required", "policy", "enabled"}
DEFAULT_SOURCE = "default"


@dataclass(frozen=True)
class GateConfig:
    """The effective gate configuration of a worktree.

    Attributes:
        gates: enabled gates in file order.
        disabled: names turned off by ``recover.gate.<name>.enabled=false``.
        source: the project file read, or ``None`` when there is none.
    """

    gates: tuple[Gate, ...]
    disabled: tuple[str, ...] = ()
    source: Path | None = None

    def for_stage(self, stage: str | None) -> tuple[Gate, ...]:
        """The gates that run in ``stage`` (all of them for ``None``)."""
        return tuple(g for g in self.gates if stage is None or stage in g.stages)


def load_gates(toplevel: Path, git_config: GitConfig) -> GateConfig:
    """Read the gate definitions of the worktree at ``toplevel``.

    Args:
        toplevel: the worktree's top-level directory.
        git_config: the ``recover.*`` git config (per-user overrides).

    Returns:
        The :class:`GateConfig`; empty when no file configures gates.

    Raises:
        UsageError: a bad value, naming the file and key (or git config key).
    """
    project = load_project_config(toplevel)
    table = project.table("gates")
    gates: list[Gate] = []
    disabled: list[str] = []
    for name, body in table.items():
        where = project.where(f"gates.{name}")
        if not _NAME.match(name):
            raise UsageError(f"{where}: gate names use letters, digits, '-' and '_' only")
        if not isinstance(body, dict):
            raise UsageError(f"{where}: expected a table")
        gate = _from_table(name, body, project.where)
        gate = _apply_overrides(gate, git_config)
        if git_config.get_bool(f"{GIT_PREFIX}{name}.enabled", True):
            gates.append(gate)
        else:
            disabled.append(name)
    _reject_unknown_overrides(git_config, {name.lower() for name in table})
    return GateConfig(tuple(gates), tuple(disabled), project.source)


def _from_table(name: str, body: dict[str, Any], where: Callable[[str], str]) -> Gate:
    builtin = body.get("builtin")
    if builtin is not None and builtin not in BUILTINS:
        raise UsageError(f"{where(f'gates.{name}.builtin')}: unknown built-in {builtin!r} "
                         f"(known: {', '.join(BUILTINS)})")
    allowed_options = _BUILTIN_OPTIONS.get(builtin or "", set())
    values: dict[str, Any] = {}
    sources: dict[str, str] = {f.name: DEFAULT_SOURCE for f in fields(Gate)
                               if f.name not in ("name", "options", "sources")}
    options: dict[str, Any] = {}
    for key, raw in body.items():
        key_where = where(f"gates.{name}.{key}")
        if key in allowed_options:
            options[key] = _check_option(key, raw, key_where)
            sources[key] = key_where
            continue
        target = _FIELD_OF_KEY.get(key)
        if target is None:
            known = sorted({*_FIELD_OF_KEY, *allowed_options})
            raise UsageError(f"{key_where}: unknown key (known: {', '.join(known)})")
        values[target] = _parse_value(key, raw, key_where)
        sources[target] = key_where
    if builtin is None and not values.get("command"):
        raise UsageError(f"{where(f'gates.{name}')}: a gate needs a command or a builtin")
    if builtin is not None and values.get("command"):
        raise UsageError(f"{where(f'gates.{name}')}: set command or builtin, not both")
    if values.get("shell"):
        # The shell gets the command line as written; shlex splitting is for argv.
        if isinstance(body.get("command"), str):
            values["command"] = (body["command"],)
        elif len(values.get("command", ())) != 1:
            raise UsageError(f"{where(f'gates.{name}.command')}: with shell = true, give the command as one string")
    return Gate(name=name, options=options, sources=sources, **values)


def _parse_value(key: str, raw: Any, where: str) -> Any:
    """Check and convert one value of a gate table (TOML types) or git config (strings)."""
    if key == "command":
        if isinstance(raw, str):
            try:
                argv = shlex.split(raw)
            except ValueError as exc:
                raise UsageError(f"{where}: cannot split command: {exc}") from None
        elif isinstance(raw, list) and all(isinstance(item, str) for item in raw):
            argv = list(raw)
        else:
            raise UsageError(f"{where}: expected a non-empty list of strings or a string")
        if not argv or any("\0" in item for item in argv):
            raise UsageError(f"{where}: expected a non-empty command without NUL bytes")
        return tuple(argv)
    if key == "builtin":
        return raw
    if key in ("shell", "required"):
        if not isinstance(raw, bool):
            raise UsageError(f"{where}: expected true or false")
        return raw
    if key == "timeout":
        # nan and inf pass `> 0` checks, and turn the timeout off (hostile testing).
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 < raw <= MAX_TIMEOUT_S:
            raise UsageError(f"{where}: expected a number of seconds from 0 to {MAX_TIMEOUT_S:.0f}")
        return float(raw)
    if key == "severity":
        if raw not in SEVERITIES:
            raise UsageError(f"{where}: expected one of {', '.join(SEVERITIES)}")
        return raw
    if key == "policy":
        if raw not in POLICIES:
            raise UsageError(f"{where}: expected one of {', '.join(POLICIES)}")
        return raw
    if key == "stages":
        if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
            raise UsageError(f"{where}: expected a list of stage names")
        unknown = [s for s in raw if s not in STAGES]
        if unknown:
            raise UsageError(f"{where}: unknown stage {unknown[0]!r} (known: {', '.join(STAGES)})")
        return tuple(raw)
    raise AssertionError(key)


def _check_option(key: str, raw: Any, where: str) -> Any:
    if key in ("sources", "tests"):
        if not isinstance(raw, list) or not raw or not all(isinstance(p, str) and p for p in raw):
            raise UsageError(f"{where}: expected a non-empty list of glob patterns")
        return list(raw)
    if key == "fail_level":
        if raw not in FAIL_LEVELS:
            raise UsageError(f"{where}: expected one of {', '.join(FAIL_LEVELS)}")
    if not isinstance(raw, str):
        raise UsageError(f"{where}: expected a string")
    return raw


def _apply_overrides(gate: Gate, config: GitConfig) -> Gate:
    """Layer ``recover.gate.<name>.<key>`` values (git's string syntax) over ``gate``."""
    changes: dict[str, Any] = {}
    sources = dict(gate.sources)
    for key in sorted(_OVERRIDABLE - {"enabled"}):
        git_key = f"{GIT_PREFIX}{gate.name}.{key}"
        raw = config.get(git_key)
        if raw is None:
            continue
        where = f"git config {git_key}"
        value: Any
        if key in ("required",):
            value = config.get_bool(git_key, gate.required)
        elif key == "timeout":
            try:
                value = _parse_value(key, float(raw), where)
            except ValueError:
                raise UsageError(f"{where}: expected a number of seconds from 0 to {MAX_TIMEOUT_S:.0f}") from None
        elif key == "stages":
            value = _parse_value(key, raw.replace(",", " ").split(), where)
        else:
            value = _parse_value(key, raw, where)
        if key == "command" and gate.builtin is not None:
            raise UsageError(f"{where}: gate {gate.name!r} is the built-in {gate.builtin!r}; it has no command")
        target = _FIELD_OF_KEY.get(key, key)
        changes[target] = value
        sources[target] = where
    return replace(gate, sources=sources, **changes) if changes else gate


def _reject_unknown_overrides(config: GitConfig, names: set[str]) -> None:
    """A typo in a git config override is an error, not a silent no-op."""
    for key in config.values:
        if not key.startswith(GIT_PREFIX):
            continue
        name, _, setting = key[len(GIT_PREFIX):].rpartition(".")
        if name not in names:
            raise UsageError(f"git config {key}: no gate named {name!r} in the project configuration "
                             f"(`git config --unset {key}` removes the override)")
        if setting not in _OVERRIDABLE:
            raise UsageError(f"git config {key}: unknown key (known: {', '.join(sorted(_OVERRIDABLE))}; "
                             f"`git config --unset {key}` removes it)")
