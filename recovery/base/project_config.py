"""The team's shared configuration file: ``.recover.toml`` at the worktree's top
level, or the ``[tool.git-recover]`` table of ``pyproject.toml``.

``.recover.toml`` wins when both exist. Sections (``gates``, ``links``, ``metrics``)
are read by the feature that owns them; this module only finds and parses the file
and names the source in every error, so a bad config is one clear line.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recovery.base.errors import UsageError

RECOVER_TOML = ".recover.toml"
PYPROJECT = "pyproject.toml"


@dataclass(frozen=True)
class ProjectConfig:
    """The parsed configuration and where it came from.

    Attributes:
        data: the top-level table (empty when no file configures git-recover).
        source: the file it came from, or ``None``.
        prefix: how keys are spelled in that file, for error messages
            (``""`` for ``.recover.toml``, ``"tool.git-recover."`` for pyproject.toml).
    """

    data: dict[str, Any] = field(default_factory=dict)
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


def load_project_config(toplevel: Path) -> ProjectConfig:
    """Find and parse the project configuration under ``toplevel``.

    Raises:
        UsageError: the file is not valid TOML or cannot be read.
    """
    own = toplevel / RECOVER_TOML
    if own.is_file():
        return ProjectConfig(_parse(own), own, "")
    pyproject = toplevel / PYPROJECT
    if pyproject.is_file():
        tool = _parse(pyproject).get("tool", {})
        table = tool.get("git-recover") if isinstance(tool, dict) else None
        if isinstance(table, dict):
            return ProjectConfig(table, pyproject, "tool.git-recover.")
    return ProjectConfig()


def _parse(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path.name}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise UsageError(f"{path.name}: cannot read: {exc.strerror}") from None
