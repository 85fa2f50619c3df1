"""Finding the root files: globs matched against one walk of the project.

Globs are relative to the project root and use ``/``: ``*`` and ``?`` stay inside
one path segment, ``**`` spans any number of directories (``**/CLAUDE.md`` is
``CLAUDE.md`` at any depth), ``[abc]`` is a character class. An exclude glob that
matches a directory excludes everything under it.

The walk never follows directory symlinks (so a symlink loop cannot make it spin),
starts only from the literal prefix of each glob (``.claude/commands/**/*.md``
walks ``.claude/commands`` only), prunes ``.git``, ``node_modules``, virtualenvs
and tool caches (:data:`PRUNE`), and turns an unlistable directory into an
``unreadable-directory`` finding instead of an error.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from recovery.base.errors import UsageError
from recovery.links.files import os_reason as _reason
from recovery.links.findings import Finding, make_finding

# Never worth walking into for prompt files, and often huge: VCS metadata, package
# and virtualenv trees, tool caches.
PRUNE = frozenset({".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__",
                   ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache"})
_GLOB_CHARS = re.compile(r"[*?\[]")


@lru_cache(maxsize=256)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """The regular expression matching the relative paths ``pattern`` names."""
    parts = pattern.split("/")
    out: list[str] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            out.append(".*" if last else "(?:[^/]*/)*")
            continue
        out.append(_segment(part) + ("" if last else "/"))
    return re.compile("".join(out) + r"\Z")


def _segment(part: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(part):
        ch = part[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = part.find("]", i + 2)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = part[i + 1:end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def is_excluded(rel: str, excludes: tuple[str, ...]) -> bool:
    """``rel`` (a ``/`` path relative to the root) or one of its parent
    directories matches an exclude glob."""
    if not excludes:
        return False
    parts = rel.split("/")
    for n in range(len(parts), 0, -1):
        prefix = "/".join(parts[:n])
        for pattern in excludes:
            if compile_glob(pattern).match(prefix):
                return True
    return False


def literal_prefix(pattern: str) -> str:
    """The directory part of ``pattern`` before its first wildcard ("" for the root)."""
    parts = pattern.split("/")
    fixed: list[str] = []
    for part in parts[:-1]:
        if _GLOB_CHARS.search(part):
            break
        fixed.append(part)
    return "/".join(fixed)


@dataclass
class RootScan:
    """What discovery found.

    Attributes:
        roots: relative ``/`` paths of root files (regular files or symlinks to
            files inside the project), sorted.
        findings: unlistable directories, root symlinks that loop or lead outside.
    """

    roots: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def discover(toplevel: Path, patterns: tuple[str, ...], excludes: tuple[str, ...],
             profile: str, explicit: bool = False) -> RootScan:
    """Find the root files under ``toplevel``.

    Args:
        explicit: the patterns came from the command line; a literal one that
            does not exist is then a usage error instead of nothing.

    Raises:
        UsageError: an explicit literal root does not exist.
    """
    scan = RootScan()
    found: set[str] = set()
    top = str(toplevel)
    real_top = os.path.realpath(top)
    wild: list[str] = []
    for pattern in patterns:
        if _GLOB_CHARS.search(pattern):
            wild.append(pattern)
            continue
        full = os.path.join(top, pattern)
        try:
            st = os.stat(full)
        except OSError as exc:
            if os.path.islink(full):
                _symlink_problem(scan, profile, pattern, exc)
            elif explicit and isinstance(exc, (FileNotFoundError, NotADirectoryError)):
                raise UsageError(f"root not found: {pattern}") from None
            elif not isinstance(exc, (FileNotFoundError, NotADirectoryError)):
                _symlink_problem(scan, profile, pattern, exc)
            continue
        if stat.S_ISDIR(st.st_mode):
            if explicit:  # `--root docs` means the Markdown files under docs/
                wild.append(f"{pattern}/**/*.md")
            continue
        if not is_excluded(pattern, excludes) and _inside_or_report(
                scan, profile, top, real_top, pattern):
            found.add(pattern)
    if wild:
        regexes = [compile_glob(p) for p in wild]
        starts = sorted({literal_prefix(p) for p in wild}, key=len)
        walked: list[str] = []
        for start in starts:
            if any(start == w or start.startswith(w + "/") or w == "" for w in walked):
                continue
            walked.append(start)
            _walk(scan, profile, top, real_top, start, regexes, excludes, found)
    scan.roots = sorted(found)
    return scan


def _walk(scan: RootScan, profile: str, top: str, real_top: str, start: str,
          regexes: list[re.Pattern[str]], excludes: tuple[str, ...], found: set[str]) -> None:
    if start and is_excluded(start, excludes):
        return
    stack = [start]
    while stack:
        rel_dir = stack.pop()
        full_dir = os.path.join(top, rel_dir) if rel_dir else top
        try:
            with os.scandir(full_dir) as it:
                entries = list(it)
        except FileNotFoundError:
            continue
        except NotADirectoryError:
            continue
        except OSError as exc:
            finding = make_finding(
                profile, "unreadable-directory", rel_dir or ".", 1, 1,
                f"cannot list directory `{rel_dir or '.'}`: {_reason(exc)}; "
                "root files inside it were not checked",
                hint="fix its permissions, or add it to links.exclude")
            if finding:
                scan.findings.append(finding)
            continue
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                if entry.name not in PRUNE and not is_excluded(rel, excludes):
                    stack.append(rel)
                continue
            if not any(r.match(rel) for r in regexes) or is_excluded(rel, excludes):
                continue
            if entry.is_symlink():
                try:
                    st = os.stat(entry.path)
                except OSError as exc:
                    _symlink_problem(scan, profile, rel, exc)
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                if not _inside_or_report(scan, profile, top, real_top, rel):
                    continue
            elif not entry.is_file(follow_symlinks=False):
                continue
            found.add(rel)


def _inside_or_report(scan: RootScan, profile: str, top: str, real_top: str, rel: str) -> bool:
    real = os.path.realpath(os.path.join(top, rel))
    if real == real_top or real.startswith(real_top.rstrip("/") + "/"):
        return True
    finding = make_finding(
        profile, "outside-project", rel, 1, 1,
        f"root `{rel}` is a symlink that leads out of the project: not read")
    if finding:
        scan.findings.append(finding)
    return False


def _symlink_problem(scan: RootScan, profile: str, rel: str, exc: OSError) -> None:
    if isinstance(exc, FileNotFoundError):
        message = f"root `{rel}` is a dangling symlink: its target does not exist"
        code = "missing-target"
    else:
        message = f"root `{rel}` cannot be read: {_reason(exc)}"
        code = "unreadable-target"
    finding = make_finding(profile, code, rel, 1, 1, message)
    if finding:
        scan.findings.append(finding)


