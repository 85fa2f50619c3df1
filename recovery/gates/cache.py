"""The result cache: a gate runs once on a tree; its pass *or failure* is kept.

Why failures too: one operation reaches the gates at several stages (``git
commit --amend`` runs pre-commit, post-commit and post-rewrite on the same tree),
and re-running a failing test suite at each of them only repeats the verdict
while the user waits. A result that depends on something besides the tree is not
kept: a timeout (load), a missing program (the environment), an error of the
gate itself. ``--no-cache`` runs the gates afresh, for a failure thought flaky.

The key is the gate's :attr:`~recovery.gates.model.Gate.definition_key`
(command, shell, built-in and options) plus the tree id, so editing a gate's
command or testing a different tree misses. Entries are small JSON files under
the repository's common git directory (``<common>/recovery/gate-cache/``),
shared by linked worktrees because a tree id means the same content in all of
them; a file is written to a temporary name and renamed, so a reader never sees
half of one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from recovery.base.fs import atomic_write
from recovery.gates.model import Gate

CachedStatus = Literal["pass", "fail"]
# A cached failure keeps the end of its output (where test runners summarise),
# so the cached verdict still says why.
_KEPT_OUTPUT = 4096


@dataclass(frozen=True)
class CachedResult:
    """A verdict remembered for one gate definition and tree.

    Attributes:
        status: ``pass`` or ``fail``.
        duration_s: how long the run that produced it took, in seconds.
        reason: its one-line reason (``exit 1``).
        output: the end of its output (at most 4 KiB).
    """

    status: CachedStatus
    duration_s: float
    reason: str
    output: str


@dataclass(frozen=True)
class ResultCache:
    """Cached gate results of one repository.

    Args:
        directory: where entries live (``<common_dir>/recovery/gate-cache``).
    """

    directory: Path

    def _path(self, gate: Gate, tree: str) -> Path:
        return self.directory / f"{gate.definition_key[:32]}-{tree}"

    def hit(self, gate: Gate, tree: str) -> CachedResult | None:
        """The cached result of ``gate`` on ``tree``, or ``None`` on a miss (a
        damaged entry is a miss)."""
        try:
            data = json.loads(self._path(gate, tree).read_text())
            status = data.get("status", "pass")
            if status not in ("pass", "fail"):
                return None
            return CachedResult(status, float(data["duration_s"]), str(data.get("reason", "")),
                                str(data.get("output", "")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def store(self, gate: Gate, tree: str, result: CachedResult) -> None:
        """Remember ``result`` for ``gate`` on ``tree``. A cache that cannot be
        written is skipped silently: it only saves time."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            entry = json.dumps({"gate": gate.name, "tree": tree, "status": result.status,
                                "duration_s": result.duration_s, "reason": result.reason,
                                "output": result.output[-_KEPT_OUTPUT:]})
            atomic_write(self._path(gate, tree), entry, durable=False)
        except OSError:
            pass
