"""The team's shared configuration file: ``.recover.toml`` at the worktree's top
level, or the ``[tool.git-recover]`` table of ``pyproject.toml``.

``.recover.toml`` wins when both exist. The whole file is checked against one JSON
schema (``recovery/data/recover-config.schema.json``) before any feature reads
it: every unknown table or key, at any level, is an error naming the file, the
key and the nearest valid name, because a typo such as ``[gate.pytest]`` would
otherwise switch a gate off without a word. Sections (``gates``, ``links``,
``metrics``) are then read by the feature that owns them.

The validator (jsonschema) costs 70-150 ms to import, more than a hook may
spend, so a file is validated once per content: the SHA-256 of the schema and
the file is remembered as an empty marker file under
``$XDG_CACHE_HOME/git-recover/valid-config/`` and a file whose hash has a marker
is not validated again. A cache that cannot be written only costs time.

The parser, the hash and the spelling suggestions are imported where they are
used: a hook in a repository with neither file asks only
:func:`has_project_file`, and those imports are about 5 ms of every commit.
"""

from __future__ import annotations

import importlib
import json
import os
import stat
from pathlib import Path
from typing import Any, NamedTuple

from recovery.base.errors import UsageError

RECOVER_TOML = ".recover.toml"
PYPROJECT = "pyproject.toml"
TOOL_TABLE = "git-recover"
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "data" / "recover-config.schema.json"
_VALID_CACHE = "valid-config"


class ProjectConfig(NamedTuple):
    """The parsed configuration and where it came from.

    Attributes:
        data: the top-level table (empty when no file configures git-recover).
        source: the file it came from, or ``None``.
        prefix: how keys are spelled in that file, for error messages
            (``""`` for ``.recover.toml``, ``"tool.git-recover."`` for pyproject.toml).
    """

    data: dict[str, Any]
    source: Path | None = None
    prefix: str = ""

    def table(self, name: str) -> dict[str, Any]:
        """The sub-table ``name`` (``{}`` when absent).

        Raises:
            UsageError: ``name`` exists but is not a table.
        """
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise UsageError(f"{self.where(name)}: expected a table")
        return value

    def where(self, key: str) -> str:
        """``file: key`` for error messages, e.g. ``pyproject.toml: tool.git-recover.gates``."""
        name = self.source.name if self.source else "(defaults)"
        return f"{name}: {self.prefix}{key}"


def has_project_file(toplevel: Path) -> bool:
    """Whether ``toplevel`` holds a file :func:`load_project_config` reads; without
    one every section is empty, which a hook can know without parsing anything.

    Raises:
        UsageError: an entry by one of those names is no readable file (see :func:`_present`).
    """
    return _present(toplevel / RECOVER_TOML) or _present(toplevel / PYPROJECT)


def _present(path: Path) -> bool:
    """Whether the configuration file ``path`` exists.

    An entry by that name that is not a readable regular file is an error, not
    an absent file: a directory, a symbolic link to nothing or in a loop, or a
    file behind a directory the user cannot search would otherwise switch every
    gate off without a word (hostile testing).

    Raises:
        UsageError: naming the file and what is wrong with it.
    """
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        if os.path.lexists(path):
            raise UsageError(f"{path.name}: a symbolic link to nothing") from None
        return False
    except OSError as exc:
        raise UsageError(f"{path.name}: cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{path.name}: not a regular file")
    return True


def load_project_config(toplevel: Path) -> ProjectConfig:
    """Find, parse and validate the project configuration under ``toplevel``.

    Raises:
        UsageError: the file is not valid TOML, cannot be read, or does not match
            the schema (an unknown table or key, a value of the wrong type).
    """
    own = toplevel / RECOVER_TOML
    if _present(own):
        raw = _read(own)
        config = ProjectConfig(_parse(own, raw), own, "")
    else:
        pyproject = toplevel / PYPROJECT
        if not _present(pyproject):
            return ProjectConfig({})
        raw = _read(pyproject)
        try:
            data = _parse(pyproject, raw)
        except UsageError:
            if b"recover" in raw.lower():
                raise
            # Another tool's file, half-edited: a pyproject.toml that does not
            # parse and never names git-recover blocked every commit of a
            # project without gates (new-user trial).
            return ProjectConfig({})
        tool = data.get("tool", {})
        if not isinstance(tool, dict) or TOOL_TABLE not in tool:
            _reject_misplaced_tables(data)
            return ProjectConfig({})
        table = tool[TOOL_TABLE]
        config = ProjectConfig(table if isinstance(table, dict) else {}, pyproject, f"tool.{TOOL_TABLE}.")
        if not isinstance(table, dict):
            raise UsageError(f"{PYPROJECT}: tool.{TOOL_TABLE}: expected a table")
    _validate_once(config, raw)
    return config


def _reject_misplaced_tables(data: dict[str, Any]) -> None:
    """A pyproject.toml whose git-recover configuration is where git-recover
    does not read it is an error, not a project without gates (they would be
    off without a word). Misplaced means: a ``tool`` table whose name, in lower
    case without ``-_.``, starts with ``gitrecover`` (``git_recover``,
    ``GIT-RECOVER``, ``git-recover-gates``); one whose name holds ``recover``
    and whose content has a table of ours (``[tool.recover.gates.x]``,
    ``[tool.git.recover.gates.x]``, ``[tool.recovery...]``); ``[tools...]`` for
    ``[tool...]``; our tables at the top level (README's ``.recover.toml``
    snippet pasted as it is; PEP 518 leaves the top level to the standard).
    A near name alone is not enough: ``[tool.git-river]`` is another tool's.

    Raises:
        UsageError: naming the table and where it belongs.
    """
    ours = _schema_tables()
    for top in ("tool", "tools"):
        tables = data.get(top)
        if not isinstance(tables, dict):
            continue
        for name, table in _named_tables(tables):
            squashed = name.lower().replace("-", "").replace("_", "").replace(".", "")
            if (top == "tools" and "recover" in squashed) or squashed.startswith("gitrecover") or (
                    "recover" in squashed and isinstance(table, dict) and ours & set(table)):
                raise UsageError(f"{PYPROJECT}: {top}.{name}: unknown table (did you mean 'tool.{TOOL_TABLE}'?)")
    for name in sorted(ours & set(data)):
        raise UsageError(f"{PYPROJECT}: {name}: unknown table (in {PYPROJECT} git-recover's tables go under "
                         f"[tool.{TOOL_TABLE}]: did you mean 'tool.{TOOL_TABLE}.{name}'?)")


def _named_tables(tables: dict[str, Any]) -> list[tuple[str, Any]]:
    """``tables``' entries and, one level down, ``parent.child`` entries
    (``[tool.git.recover]`` is the table ``recover`` inside ``git``)."""
    named: list[tuple[str, Any]] = []
    for name, table in tables.items():
        named.append((str(name), table))
        if isinstance(table, dict):
            named += [(f"{name}.{child}", value) for child, value in table.items()]
    return named


def _schema_tables() -> set[str]:
    """The top-level tables the configuration schema defines (``gates``...)."""
    return set(json.loads(SCHEMA_PATH.read_bytes())["properties"])


def _validate_once(config: ProjectConfig, raw: bytes) -> None:
    """Validate ``config`` unless this exact content passed before (see the module doc)."""
    import hashlib

    schema_bytes = SCHEMA_PATH.read_bytes()
    digest = hashlib.sha256(schema_bytes + b"\0" + config.prefix.encode() + b"\0" + raw).hexdigest()
    marker = _cache_dir() / digest
    if marker.exists():
        return
    validate(config, json.loads(schema_bytes))
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass  # only an optimisation: the next run validates again


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "git-recover" / _VALID_CACHE


def validate(config: ProjectConfig, schema: dict[str, Any]) -> None:
    """Check ``config.data`` against ``schema``; the first problem becomes one line.

    Each schema node may carry ``x-error`` (the message for a bad value) and
    ``x-unknown`` (what an unknown key is called there, default "unknown key").

    Raises:
        UsageError: naming the file, the dotted key and, for an unknown key, the
            nearest valid name.
    """
    import difflib

    # Through importlib: the type stubs are not installed everywhere mypy runs.
    jsonschema = importlib.import_module("jsonschema")
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(config.data),
                    key=jsonschema.exceptions.relevance)
    if not errors:
        return
    error = errors[0]
    path = ".".join(str(part) for part in error.absolute_path)
    node = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted(node.get("properties", {}))
        unknown = [key for key in error.instance if key not in known][0]
        key = f"{path}.{unknown}" if path else unknown
        what = node.get("x-unknown") or ("unknown table" if isinstance(error.instance[unknown], dict)
                                         else "unknown key")
        close = difflib.get_close_matches(unknown, known, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        if unknown == "tool" and not path and not config.prefix:
            hint = f" (in {RECOVER_TOML} write the tables without the tool.{TOOL_TABLE}. prefix)"
        raise UsageError(f"{config.where(key)}: {what}{hint}; known: {', '.join(known)}")
    if "propertyNames" in error.schema_path:
        raise UsageError(f"{config.where(f'{path}.{error.instance}')}: {node.get('x-error') or error.message}")
    # A list item is named by its list ("stages", not "stages.0"); the value says which.
    path = ".".join(str(part) for part in error.absolute_path if not isinstance(part, int))
    message = str(node.get("x-error") or error.message)
    if isinstance(error.instance, dict):
        raise UsageError(f"{config.where(path)}: {message}")
    got = repr(error.instance)
    raise UsageError(f"{config.where(path)}: " + (message.replace("{got}", got) if "{got}" in message
                                                    else f"{message}, got {got}"))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path.name}: cannot read: {exc.strerror}") from None


def _parse(path: Path, raw: bytes) -> dict[str, Any]:
    import tomllib

    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path.name}: invalid TOML: {exc}") from None
