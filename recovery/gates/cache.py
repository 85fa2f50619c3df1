"""The pass cache: a gate that passed on a tree is not run again on that tree
(the same tree is not tested twice).

The key is the gate's :attr:`~recovery.gates.model.Gate.definition_key` (command,
shell, built-in and options) plus the tree id, so editing a gate's command or
testing a different tree misses. Only passes are kept: a failure is re-run, since
it may have been flaky or environmental. Entries are small JSON files under the
repository's common git directory (``<common>/recovery/gate-cache/``), shared by
linked worktrees because a tree id means the same content in all of them; a file
is written to a temporary name and renamed, so a reader never sees half of one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from recovery.base.fs import atomic_write
from recovery.gates.model import Gate


@dataclass(frozen=True)
class PassCache:
    """Cached passes of one repository.

    Args:
        directory: where entries live (``<common_dir>/recovery/gate-cache``).
    """

    directory: Path

    def _path(self, gate: Gate, tree: str) -> Path:
        return self.directory / f"{gate.definition_key[:32]}-{tree}"

    def hit(self, gate: Gate, tree: str) -> float | None:
        """The duration (seconds) of the cached pass of ``gate`` on ``tree``, or ``None``
        on a miss (a damaged entry is a miss)."""
        try:
            data = json.loads(self._path(gate, tree).read_text())
            return float(data["duration_s"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def store(self, gate: Gate, tree: str, duration_s: float) -> None:
        """Remember that ``gate`` passed on ``tree`` in ``duration_s`` seconds.
        A cache that cannot be written is skipped silently: it only saves time."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            entry = json.dumps({"gate": gate.name, "tree": tree, "duration_s": duration_s})
            atomic_write(self._path(gate, tree), entry, durable=False)
        except OSError:
            pass
