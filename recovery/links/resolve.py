"""Resolving an import to a file (docs/links.md, "Profiles"), and the hints for the
ones that do not resolve.

- claude-code: a relative path resolves from the directory of the file that
  contains the import (never the project root or the working directory); ``~/``
  is the user's home; absolute paths are taken as they are. Paths are normalised
  lexically, as Node's ``path.resolve`` does.
- framework: a bare relative path is tried in the importing file's directory, then
  the project root, then each base directory (default ``.claude/``); the first
  that exists wins, the base is recorded, and two bases giving different files is
  an ambiguity. ``./`` and ``../`` paths are explicit about their base and are
  only tried from the importing file.

A target outside the project is never read or even probed (it depends on the
machine: ``~/.claude/...`` exists on one laptop and not on CI); a symlink inside
the project that leads out is reported as outside and not followed.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from recovery.links.files import os_reason
from recovery.links.tokens import framework_path

FILE = "file"
DIRECTORY = "directory"
MISSING = "missing"
OUTSIDE = "outside"
UNREADABLE = "unreadable"
SPECIAL = "special"

FILE_DIR = "the importing file's directory"
PROJECT_ROOT = "the project root"

# Extensions that make a token look like a file name (docs/links.md: `@pytest.mark.unit`
# has no file extension, so a bare "has a dot" test is not enough).
KNOWN_EXTENSIONS = frozenset("""
md markdown mdx mdc txt rst adoc org tex json jsonc json5 jsonl ndjson yaml yml toml xml
html htm csv tsv ini cfg conf env properties log lock sh bash zsh fish ps1 bat py pyi
ipynb js mjs cjs ts tsx jsx vue svelte rb go rs java kt kts scala c h cc cpp cxx hpp cs
swift m php pl lua r sql graphql proto css scss sass less svg png jpg jpeg gif webp pdf
dockerfile gradle tf hcl
""".split())


def looks_like_path(path: str) -> bool:
    """Has a ``/`` or a known file extension, or names a dotfile (``.env``)."""
    if "/" in path:
        return True
    name = path.rsplit("/", 1)[-1]
    if name.startswith(".") and len(name) > 1 and name[1].isalnum():
        return True
    _, dot, ext = name.rpartition(".")
    return bool(dot) and ext.lower() in KNOWN_EXTENSIONS


@dataclass(frozen=True)
class Probe:
    """What is at one absolute path: ``status`` (a constant above), the real path
    when it exists, and a few words of detail (why unreadable, where a symlink
    leads)."""

    status: str
    real: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class Target:
    """Where one import resolved.

    Attributes:
        status: FILE, DIRECTORY, MISSING, OUTSIDE, UNREADABLE or SPECIAL.
        path: the absolute path that was chosen or, if none exists, tried first.
        real: the real path when it exists inside the project.
        base: which base resolved it (``FILE_DIR``, ``PROJECT_ROOT``, ``"`.claude/`"``).
        tried: every absolute path that was tried, in order.
        detail: why unreadable, or where a symlink leads.
        others: ``(base, path)`` of other bases that give a *different* file.
    """

    status: str
    path: str
    real: str | None = None
    base: str | None = None
    tried: tuple[str, ...] = ()
    detail: str = ""
    others: tuple[tuple[str, str], ...] = ()


class Resolver:
    """Resolves import paths for one project; caches every probe."""

    def __init__(self, toplevel: str, bases: tuple[str, ...], home: str | None = None) -> None:
        self.top = os.path.abspath(toplevel)
        self.real_top = os.path.realpath(self.top)
        self.home = home if home is not None else os.path.expanduser("~")
        # Only bases that exist: a project without `.claude/` should not hear about it.
        self.bases: list[tuple[str, str, str]] = [
            (f"`{b}/`", os.path.normpath(os.path.join(self.top, b)), b + "/")
            for b in (b.rstrip("/") for b in bases)
            if os.path.isdir(os.path.join(self.top, b))
        ]
        self._probes: dict[str, Probe] = {}
        self._resolved: dict[tuple[str, str, str], Target] = {}
        self._shown: dict[str, str] = {}
        self._listings: dict[str, dict[str, list[str]]] = {}
        self._real_dirs: dict[str, str] = {}

    # -- paths ------------------------------------------------------------------

    def inside(self, path: str) -> bool:
        return path == self.top or path.startswith(self.top.rstrip("/") + "/")

    def _inside_real(self, real: str) -> bool:
        return real == self.real_top or real.startswith(self.real_top.rstrip("/") + "/")

    def lexical(self, real: str) -> str:
        """``real`` (a real path) written under the project root as given, when it
        is inside the project's real path (the root may be reached by a symlink)."""
        if real == self.real_top:
            return self.top
        if real.startswith(self.real_top.rstrip("/") + "/"):
            return self.top.rstrip("/") + real[len(self.real_top.rstrip("/")):]
        return real

    def display(self, path: str) -> str:
        """``path`` relative to the project root with ``/``, or as is when outside."""
        shown = self._shown.get(path)
        if shown is None:
            shown = self._shown[path] = self._display(path)
        return shown

    def _display(self, path: str) -> str:
        for top in (self.top, self.real_top):
            if path == top:
                return "."
            if path.startswith(top.rstrip("/") + "/"):
                return path[len(top.rstrip("/")) + 1:]
        if self.home and path.startswith(self.home.rstrip("/") + "/"):
            return "~/" + path[len(self.home.rstrip("/")) + 1:]
        return path

    def absolute(self, src_dir: str, path: str, base_dir: str | None = None) -> str:
        """The lexical absolute path ``path`` names from ``src_dir``."""
        if path.startswith("~/"):
            return os.path.normpath(os.path.join(self.home, path[2:]))
        if path.startswith("/"):
            return os.path.normpath(path)
        return os.path.normpath(os.path.join(base_dir or src_dir, path))

    # -- probing ----------------------------------------------------------------

    def probe(self, path: str) -> Probe:
        """Stat ``path`` (inside the project) without reading it."""
        cached = self._probes.get(path)
        if cached is not None:
            return cached
        result = self._probe(path)
        self._probes[path] = result
        return result

    def _probe(self, path: str) -> Probe:
        try:
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                st = os.stat(path)
                real = os.path.realpath(path)
            else:
                real = os.path.join(self._real_dir(os.path.dirname(path)), os.path.basename(path))
        except (FileNotFoundError, NotADirectoryError):
            return Probe(MISSING)
        except OSError as exc:
            return Probe(UNREADABLE, None, os_reason(exc))
        if not self._inside_real(real):
            # Never named: what lies outside the project is not ours to show.
            return Probe(OUTSIDE, real, "behind a symlink that leads out of the project")
        if stat.S_ISREG(st.st_mode):
            return Probe(FILE, real)
        if stat.S_ISDIR(st.st_mode):
            return Probe(DIRECTORY, real)
        return Probe(SPECIAL, real, "not a regular file")

    def _real_dir(self, directory: str) -> str:
        """``realpath`` of a directory, once per directory (most imports share a few)."""
        real = self._real_dirs.get(directory)
        if real is None:
            real = self._real_dirs[directory] = os.path.realpath(directory)
        return real

    # -- resolution ---------------------------------------------------------------

    def candidates(self, src_dir: str, path: str, profile: str) -> list[tuple[str, str]]:
        """``(base, absolute path)`` to try, in order."""
        if path.startswith(("~/", "/")):
            return [("", self.absolute(src_dir, path))]
        out = [(FILE_DIR, self.absolute(src_dir, path))]
        if profile == "framework" and not path.startswith(("./", "../")):
            out.append((PROJECT_ROOT, self.absolute(src_dir, path, self.top)))
            for label, base_dir, prefix in self.bases:
                if not path.startswith(prefix):  # `.claude/x` under `.claude/`: never meant
                    out.append((label, self.absolute(src_dir, path, base_dir)))
        seen: set[str] = set()
        unique = []
        for label, abs_path in out:
            if abs_path not in seen:
                seen.add(abs_path)
                unique.append((label, abs_path))
        return unique

    def resolve(self, src_dir: str, path: str, profile: str) -> Target:
        """Resolve ``path`` (fragment already removed) imported from ``src_dir``."""
        key = (src_dir, path, profile)
        cached = self._resolved.get(key)
        if cached is None:
            cached = self._resolved[key] = self._resolve(src_dir, path, profile)
        return cached

    def _resolve(self, src_dir: str, path: str, profile: str) -> Target:
        tries = self.candidates(src_dir, path, profile)
        tried = tuple(p for _, p in tries)
        chosen: tuple[str, str, Probe] | None = None
        others: list[tuple[str, str]] = []
        for label, abs_path in tries:
            if not self.inside(abs_path):
                if chosen is None and abs_path == tries[0][1]:
                    return Target(OUTSIDE, abs_path, None, label or None, tried)
                continue
            found = self.probe(abs_path)
            if found.status == MISSING:
                continue
            if chosen is None:
                chosen = (label, abs_path, found)
                if profile != "framework":
                    break
            elif found.real != chosen[2].real and found.status in (FILE, DIRECTORY):
                others.append((label, abs_path))
        if chosen is None:
            return Target(MISSING, tries[0][1], None, None, tried)
        label, abs_path, found = chosen
        return Target(found.status, abs_path, found.real, label or None, tried,
                      found.detail, tuple(others))

    # -- hints ---------------------------------------------------------------------

    def missing_hint(self, src_dir: str, path: str, profile: str) -> str | None:
        """One line saying which near spelling or base would resolve ``path``."""
        stripped = strip_trailing(path) if profile == "claude-code" else path
        dropped = path[len(stripped):] if stripped != path else ""
        attempts: list[tuple[str, str, str]] = []  # (path, base label, base dir)
        for candidate in ([stripped] if dropped else []) + [path]:
            if candidate.startswith(("~/", "/")):
                continue
            attempts.append((candidate, FILE_DIR, src_dir))
            if profile == "claude-code" and not candidate.startswith(("./", "../")):
                attempts.append((candidate, PROJECT_ROOT, self.top))
                attempts.extend((candidate, label, d) for label, d, prefix in self.bases
                                if not candidate.startswith(prefix))
        for candidate, label, base_dir in attempts:
            if candidate == path and label == FILE_DIR:
                continue  # that is the import itself
            abs_path = self.absolute(src_dir, candidate, base_dir)
            if not self.inside(abs_path) or self.probe(abs_path).status != FILE:
                continue
            return self._describe(src_dir, path, candidate, dropped if candidate == stripped else "",
                                  label, abs_path, profile)
        # A missing extension, or a different case, in the directory tried first.
        for _base, abs_path in self.candidates(src_dir, stripped, profile):
            if not self.inside(abs_path):
                continue
            if not os.path.splitext(abs_path)[1] and self.probe(abs_path + ".md").status == FILE:
                return (f"`{self.display(abs_path + '.md')}` exists: add the `.md` extension"
                        + self._write(src_dir, abs_path + ".md", profile))
            other_case = self._case_variant(abs_path)
            if other_case:
                return (f"`{self.display(other_case)}` exists with different letter case"
                        + self._write(src_dir, other_case, profile))
        if dropped:
            return (f"the trailing `{dropped}` is part of the path in Claude Code; "
                    "put whitespace between the path and what follows it")
        return None

    def _describe(self, src_dir: str, path: str, candidate: str, dropped: str, label: str,
                  abs_path: str, profile: str) -> str:
        shown = f"`{self.display(abs_path)}`"
        if label == FILE_DIR:
            return (f"resolves to {shown} if the trailing `{dropped}` is dropped "
                    "(Claude Code keeps punctuation in the path: put a space before it)")
        where = ("relative to the project root" if label == PROJECT_ROOT
                 else f"under {label} (framework base)")
        lead = f"if the trailing `{dropped}` is dropped and " if dropped else ""
        lead = f"resolves to {shown} {lead}" + ("read " if dropped else "") + where
        return (f"{lead}, but imports resolve relative to the importing file"
                + self._write(src_dir, abs_path, profile))

    def _write(self, src_dir: str, abs_path: str, profile: str) -> str:
        if profile != "claude-code":
            return ""
        rel = os.path.relpath(abs_path, src_dir).replace(os.sep, "/").replace(" ", "\\ ")
        return f": write `@{rel}`"

    def _case_variant(self, abs_path: str) -> str | None:
        parent, name = os.path.split(abs_path)
        listing = self._listings.get(parent)
        if listing is None and not self._inside_real(self._real_dir(parent)):
            # A symlinked directory leading out of the project: its entries are not
            # ours to list, nor to name in a hint.
            listing = self._listings[parent] = {}
        if listing is None:
            listing = {}
            try:
                with os.scandir(parent) as it:
                    for entry in it:
                        listing.setdefault(entry.name.lower(), []).append(entry.name)
            except OSError:
                pass
            self._listings[parent] = listing
        for other in listing.get(name.lower(), ()):
            if other != name:
                return os.path.join(parent, other)
        return None


def strip_trailing(path: str) -> str:
    """``path`` without the trailing punctuation or HTML tag that the framework
    profile would not count as part of it (``notes.md,`` → ``notes.md``,
    ``x.md</rule>`` → ``x.md``)."""
    parsed = framework_path("@" + path.replace(" ", "\\ "), 0)
    return parsed[0] if parsed else path
