"""``git recover install`` / ``uninstall``: put our hook script into the hooks
directory git uses, chaining (never clobbering) hooks already there.

The directory is the one ``git rev-parse --git-path hooks`` names: ``core.hooksPath``
when set (git-config(1); a relative value is relative to the worktree's top level,
where hooks run, githooks(5)), else ``<common git dir>/hooks``, which linked
worktrees share. Our internal git runner overrides ``core.hooksPath`` on its
command line, so the user's value is read from the config files with
``--show-origin`` and the command-line entry skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from recovery.base.errors import RecoverError
from recovery.base.fs import atomic_write
from recovery.hooks import HOOKS
from recovery.hooks.script import CHAINED_SUFFIX, is_ours, render
from recovery.core.repo import Repo


@dataclass(frozen=True)
class HooksDir:
    """Where hooks go.

    Attributes:
        path: the directory.
        origin: ``None`` for the default ``<git dir>/hooks``; otherwise where
            ``core.hooksPath`` was set (``file:/home/me/.gitconfig``).
    """

    path: Path
    origin: str | None = None


def hooks_dir(repo: Repo) -> HooksDir:
    """The hooks directory git runs hooks from in ``repo``.

    Raises:
        RecoverError: git config cannot be read.
    """
    out = repo.git.run("config", "-z", "--show-origin", "--type=path", "--get-all", "core.hooksPath",
                       check=False).stdout
    items = out.split(b"\0")
    found: tuple[str, str] | None = None
    for origin, value in zip(items[0::2], items[1::2], strict=False):
        origin_text = origin.decode("utf-8", "surrogateescape")
        if origin_text.startswith("command line:"):
            continue
        found = (origin_text, value.decode("utf-8", "surrogateescape"))
    if found is None or not found[1]:
        return HooksDir(repo.common_dir / "hooks")
    path = Path(found[1])
    return HooksDir(path if path.is_absolute() else repo.toplevel / path, found[0])


def install(repo: Repo, python: str | None, names: tuple[str, ...] = HOOKS) -> list[str]:
    """Install our hook script for each of ``names``.

    A foreign hook in the way is renamed to ``<hook>.pre-recover`` and chained;
    our own hook is rewritten in place (an upgrade).

    Args:
        repo: the worktree.
        python: the interpreter written into the script (``None``: PATH only).
        names: hook names (a subset of :data:`recovery.hooks.HOOKS`).

    Returns:
        One line per hook saying what was done.

    Raises:
        RecoverError: a foreign hook is in the way and a chained one already
            exists (nothing is overwritten), or the directory is not writable.
    """
    where = hooks_dir(repo)
    husky_v9 = (where.path / "h").is_file() and where.path.name == "_" and where.path.parent.name == ".husky"
    husky_v5_to_v8 = (where.path / "_" / "husky.sh").is_file()
    if husky_v9 or husky_v5_to_v8:
        # husky's scripts find the user's hook by their own file name and
        # directory (v9), or the team's hooks are the tracked files themselves
        # (v5-v8): a renamed, chained copy would lose them.
        raise RecoverError(
            f"{where.path} is managed by husky; add `git-recover hook <name>` lines to the files "
            "in .husky/ instead of installing here"
        )
    if where.path.exists() and not where.path.is_dir():
        # e.g. core.hooksPath=/dev/null, a common way to switch every hook off.
        raise RecoverError(f"core.hooksPath ({where.origin}) is {where.path}, not a directory, so git runs "
                           "no hooks; point it at a directory (or unset it) to install")
    text = render(python, str(Path(__file__).resolve().parents[1]) if python else None)
    lines = []
    if where.origin:
        lines.append(f"core.hooksPath is set ({where.origin}): installing into {where.path}; "
                     "hooks there stay chained")
    for name in names:
        hook = where.path / name
        chained = hook.with_name(name + CHAINED_SUFFIX)
        # Check every hook before writing any, so a refusal leaves nothing half-installed.
        if _exists(hook) and not _ours(hook) and _exists(chained):
            raise RecoverError(f"{hook} is not ours and {chained.name} already exists; "
                               "move one of them away (nothing was changed)")
    try:
        where.path.mkdir(parents=True, exist_ok=True)
        for name in names:
            hook = where.path / name
            chained = hook.with_name(name + CHAINED_SUFFIX)
            if _exists(hook) and not _ours(hook):
                os.replace(hook, chained)
                lines.append(f"{name}: installed; your existing hook is kept as {chained.name} and runs from ours")
            elif _ours(hook):
                lines.append(f"{name}: updated")
            else:
                lines.append(f"{name}: installed")
            _write_executable(hook, text)
    except OSError as exc:
        raise RecoverError(f"cannot install hooks into {where.path}: {exc.strerror}") from None
    lines.append(f"hooks directory: {where.path}")
    if where.path.is_relative_to(repo.toplevel) and repo.git.run(
            "ls-files", "--", str(where.path.relative_to(repo.toplevel)), check=False).stdout:
        # A tracked hooks directory (`.githooks`) is shared with the team: our
        # scripts name this machine's interpreter (hostile testing).
        lines.append(f"warning: {where.path} is tracked by git; the hooks written there name this "
                     "machine's Python: do not commit them (or install with --use-path)")
    return lines


def uninstall(repo: Repo, names: tuple[str, ...] = HOOKS) -> list[str]:
    """Remove our hook scripts and put back the hooks they chained.

    A hook that is not ours is left alone (and said so).

    Returns:
        One line per hook saying what was done.

    Raises:
        RecoverError: a file could not be moved or removed.
    """
    where = hooks_dir(repo)
    lines = []
    try:
        for name in names:
            hook = where.path / name
            chained = hook.with_name(name + CHAINED_SUFFIX)
            if _exists(hook) and not _ours(hook):
                lines.append(f"{name}: not a git-recover hook, left alone")
                continue
            if _exists(hook):
                hook.unlink()
                if _exists(chained):
                    os.replace(chained, hook)
                    lines.append(f"{name}: removed; your previous hook is back")
                else:
                    lines.append(f"{name}: removed")
            elif _exists(chained):
                os.replace(chained, hook)
                lines.append(f"{name}: your previous hook is back")
    except OSError as exc:
        raise RecoverError(f"cannot uninstall hooks from {where.path}: {exc.strerror}") from None
    return lines


def _exists(path: Path) -> bool:
    return path.is_file() or path.is_symlink()


def _ours(path: Path) -> bool:
    try:
        return is_ours(path.read_text("utf-8", "replace"))
    except OSError:
        return False


def _write_executable(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file, then rename) as mode 0755."""
    atomic_write(path, text, mode=0o755)
