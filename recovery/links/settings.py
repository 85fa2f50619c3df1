"""Settings of the validator: the ``links`` table of the project configuration
(``.recover.toml`` or ``[tool.git-recover.links]`` in pyproject.toml), then
command-line overrides on top.

Keys (all optional)::

    [links]
    profile = "claude-code"      # or "framework"
    roots = ["CLAUDE.md", "**/CLAUDE.md", ".claude/commands/**/*.md"]   # replaces the defaults
    bases = [".claude"]          # extra base directories (framework resolution, hints)
    depth = 5                    # hop limit; "none" for no limit (framework: none unless set)
    fail_level = "error"         # error | warning | info | none
    exclude = ["archive/**"]     # globs: not roots, not read, no findings inside
    html_blocks = "skip"         # claude-code: "skip" HTML blocks like code, or "evaluate"
    max_file_mb = 2              # larger files are reported (too-large), not scanned
                                 #   (claude-code: 4, the client's own limit)
    client_version = "2.1.197"   # claude-code: the client whose rules are modelled

Every bad value is a :class:`~recovery.base.errors.UsageError` (exit 3) naming the file
and key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from recovery.base.errors import UsageError
from recovery.links.findings import FAIL_LEVELS, PROFILES

# docs/links.md, "Profiles": the memory files Claude Code loads, and the command/agent/rule
# files that are prompts of their own.
DEFAULT_ROOTS: tuple[str, ...] = (
    "CLAUDE.md",
    ".claude/CLAUDE.md",
    "CLAUDE.local.md",
    "**/CLAUDE.md",
    ".claude/commands/**/*.md",
    ".claude/agents/**/*.md",
    ".claude/rules/**/*.md",
)
DEFAULT_BASES: tuple[str, ...] = (".claude",)
# The client loads imports at hops 1 to 4 and never at hop 5 (a root is hop 0).
CLAUDE_CODE_DEPTH = 4
CLAUDE_CODE_MAX_BYTES = 4 * 1024 * 1024
HTML_BLOCK_MODES = ("skip", "evaluate")
KEYS = ("profile", "roots", "bases", "depth", "fail_level", "exclude", "html_blocks",
        "max_file_mb", "client_version")


@dataclass(frozen=True)
class LinkSettings:
    """Resolved settings for one run.

    Attributes:
        profile: ``claude-code`` or ``framework``.
        roots: globs (relative to the project root, ``**`` for any depth) naming
            the files traversal starts from.
        bases: directories (relative to the project root) tried after the
            importing file's directory and the root (framework profile), and used
            for hints in both profiles.
        depth: hop limit counted from the root, or ``None`` for no limit.
        fail_level: lowest severity that makes the exit status 2 (``none``: never).
        exclude: globs of files and directories that are neither roots nor read.
        html_blocks: ``skip`` (imports inside HTML blocks are not evaluated, as in
            Claude Code's Markdown lexer) or ``evaluate``.
        max_file_bytes: files larger than this are reported, not scanned. The
            default, 2 MB, is already more text than any context window holds
            (200k tokens is about 800 KB), and bounds the time one file can take.
        client_version: the Claude Code version whose rules the claude-code
            profile models (:func:`recovery.links.client.rules_for`).
        explicit_roots: roots came from the command line (a literal one that
            does not exist is then an error).
    """

    profile: str = "claude-code"
    roots: tuple[str, ...] = DEFAULT_ROOTS
    bases: tuple[str, ...] = DEFAULT_BASES
    depth: int | None = CLAUDE_CODE_DEPTH
    fail_level: str = "error"
    exclude: tuple[str, ...] = ()
    html_blocks: str = "skip"
    max_file_bytes: int = 2 * 1024 * 1024
    client_version: str = "2.1.197"
    explicit_roots: bool = field(default=False, compare=False)

    @classmethod
    def load(cls, toplevel: Path, overrides: dict[str, Any] | None = None) -> LinkSettings:
        """Settings from ``toplevel``'s project config, with ``overrides`` on top.

        ``overrides`` uses the config's key names; ``exclude`` is added to the
        configured excludes, every other key replaces the configured value.

        Raises:
            UsageError: bad config file, unknown key or bad value.
        """
        from recovery.base.project_config import load_project_config

        config = load_project_config(toplevel)
        table = config.table("links")
        merged = _validate(table, lambda key: config.where(f"links.{key}"))
        if overrides:
            cli = _validate({k: v for k, v in overrides.items() if v is not None},
                            lambda key: f"command line: {key}")
            excludes = merged.get("exclude", ()) + cli.pop("exclude", ())
            merged.update(cli)
            if excludes:
                merged["exclude"] = excludes
            if "roots" in cli:
                merged["explicit_roots"] = True
        profile = merged.get("profile", "claude-code")
        if "depth" not in merged:
            # docs/links.md: the depth limit is n/a in the framework profile unless configured.
            merged["depth"] = CLAUDE_CODE_DEPTH if profile == "claude-code" else None
        if "max_file_bytes" not in merged and profile == "claude-code":
            merged["max_file_bytes"] = CLAUDE_CODE_MAX_BYTES
        return replace(cls(), **merged)


def _validate(table: dict[str, Any], where: Any) -> dict[str, Any]:
    """Check every key of ``table``; return LinkSettings field values."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1)
            more = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(f"{where(key)}: unknown key{more}; known: {', '.join(KEYS)}")
        if key == "profile":
            out["profile"] = _choice(value, PROFILES, where(key))
        elif key == "fail_level":
            out["fail_level"] = _choice(value, FAIL_LEVELS, where(key))
        elif key == "html_blocks":
            out["html_blocks"] = _choice(value, HTML_BLOCK_MODES, where(key))
        elif key in ("roots", "bases", "exclude"):
            items = _globs(value, where(key))
            if key == "roots" and not items:
                raise UsageError(f"{where(key)}: needs at least one glob")
            out[key] = items
        elif key == "depth":
            out["depth"] = parse_depth(value, where(key))
        elif key == "client_version":
            from recovery.links.client import rules_for

            try:
                out["client_version"] = rules_for(str(value)).version
            except ValueError as exc:
                raise UsageError(f"{where(key)}: {exc}") from None
        elif key == "max_file_mb":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1024:
                raise UsageError(f"{where(key)}: expected a number of MB from 0 to 1024, got {value!r}")
            out["max_file_bytes"] = int(value * 1024 * 1024)
    return out


def _choice(value: Any, choices: tuple[str, ...], where: str) -> str:
    if value not in choices:
        raise UsageError(f"{where}: expected one of {', '.join(choices)}, got {value!r}")
    return str(value)


def _globs(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where}: expected a list of strings, got {value!r}")
    out = []
    for item in value:
        glob = item.strip()
        while glob.startswith("./"):
            glob = glob[2:]
        if not glob or glob.startswith("/") or ".." in glob.split("/"):
            raise UsageError(f"{where}: {item!r} must be a path relative to the project root")
        out.append(glob.rstrip("/") or glob)
    return tuple(out)


def parse_depth(value: Any, where: str) -> int | None:
    """A hop limit from config or the command line: a whole number >= 1, or
    ``none``/``unlimited`` (``None``). Raises :class:`UsageError` naming ``where``."""
    if isinstance(value, str) and value.strip().lower() in ("none", "unlimited"):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{where}: expected a whole number of hops >= 1 or \"none\", got {value!r}")
    return value
