"""Sparse checkouts and skip-worktree entries, as a restore must keep them.

A path whose index entry has the skip-worktree bit is not on disk by design
(git-sparse-checkout(1), git-update-index(1) "SKIP-WORKTREE BIT"): a restore
that changes it must change the index entry only, keep the bit, and leave the
disk alone, as ``git checkout`` does. A path the restore adds is left out of the
disk too when the sparse-checkout cone excludes it.
"""

from __future__ import annotations

from pathlib import Path

from recovery.core.config import GitConfig
from recovery.core.git import Git
from recovery.core.repo import Repo


def skip_worktree_paths(git: Git, index_file: Path) -> set[bytes]:
    """Paths of the index entries in ``index_file`` that carry the skip-worktree bit.

    An index of version 2 cannot hold the bit (it needs the extended flags of
    version 3, gitformat-index(5)), so that common case costs no git process.
    """
    try:
        with open(index_file, "rb") as handle:
            header = handle.read(8)
    except FileNotFoundError:
        return set()
    if len(header) < 8 or header[:4] != b"DIRC" or int.from_bytes(header[4:8], "big") < 3:
        return set()
    listed = git.with_index(index_file).run("ls-files", "-t", "-z").stdout
    return {entry[2:] for entry in listed.split(b"\0") if entry.startswith(b"S ")}


def cone_excludes(repo: Repo, config: GitConfig) -> ConeFilter | None:
    """The cone of a cone-mode sparse checkout, or ``None`` when there is none
    (no sparse checkout, or patterns that are not in cone mode)."""
    if not config.get_bool("core.sparseCheckout", False) or not config.get_bool("core.sparseCheckoutCone", True):
        return None
    try:
        lines = (repo.git_dir / "info" / "sparse-checkout").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return ConeFilter.parse(lines)


class ConeFilter:
    """Which paths a cone-mode sparse checkout puts on disk.

    Cone mode writes ``/*`` and ``!/*/`` (files at the top level), then for each
    directory ``D`` of the cone ``/D/`` (everything below it), and for each of its
    parents ``/P/`` followed by ``!/P/*/`` (only the files directly in ``P``)
    (git-sparse-checkout(1), "INTERNALS -- CONE PATTERN SET").

    Args:
        recursive: directories whose whole subtree is in the cone.
        parents: directories whose direct files only are in the cone.
    """

    def __init__(self, recursive: set[str], parents: set[str]) -> None:
        self.recursive = recursive
        self.parents = parents

    @classmethod
    def parse(cls, lines: list[str]) -> ConeFilter | None:
        """Read a cone-mode pattern file; ``None`` when a line is not a cone pattern."""
        positive: set[str] = set()
        negated: set[str] = set()
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#") or line in ("/*", "!/*/"):
                continue
            if line.startswith("!/") and line.endswith("/*/"):
                negated.add(_unescape(line[2:-3]))
            elif line.startswith("/") and line.endswith("/") and "*" not in line.replace("\\*", ""):
                positive.add(_unescape(line[1:-1]))
            else:
                return None
        return cls(positive - negated, positive & negated)

    def includes(self, path: str) -> bool:
        """Whether the file ``path`` (``/``-separated, relative to the top level) is in the cone."""
        directory = path.rpartition("/")[0]
        if not directory or directory in self.parents:
            return True
        parts = directory.split("/")
        return any("/".join(parts[:depth]) in self.recursive for depth in range(1, len(parts) + 1))


def _unescape(pattern: str) -> str:
    """Drop the backslashes git puts before ``*``, ``?``, ``[``, ``]`` and ``\\`` in cone patterns."""
    out: list[str] = []
    escaped = False
    for char in pattern:
        if char == "\\" and not escaped:
            escaped = True
            continue
        out.append(char)
        escaped = False
    return "".join(out)
