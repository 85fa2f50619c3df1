"""The ``tdd`` gate: when source files change, test files must change too.

Settings (``[gates.<name>]`` with ``builtin = "tdd"``): ``sources`` and ``tests``,
lists of glob patterns in git's ``:(glob)`` pathspec syntax (gitglossary(7),
"pathspec": ``**/`` matches any number of directories). A test file is never
counted as a source, even when a source pattern matches it.

The change is measured from ``ctx.base`` (HEAD before the operation): in
pre-commit against the index git is about to commit (``GIT_INDEX_FILE``), in the
later stages against the tree that was checkpointed.
"""

from __future__ import annotations

from recovery.gates.model import Gate, GateContext, Verdict
from recovery.core.git import Git

DEFAULT_SOURCES = ["**/*.py"]
DEFAULT_TESTS = ["tests/**", "**/test_*.py", "**/*_test.py"]


def run(gate: Gate, ctx: GateContext) -> Verdict:
    """Check the rule on the change ``ctx`` describes.

    Returns:
        A failing :class:`Verdict` naming every source file changed without a test change.

    Raises:
        RecoverError: git could not compute the change.
    """
    sources = gate.options.get("sources", DEFAULT_SOURCES)
    tests = gate.options.get("tests", DEFAULT_TESTS)
    git = ctx.repo.git
    base = ctx.base or git.text("hash-object", "-t", "tree", "--stdin")
    if ctx.index_file is not None:
        git = git.with_index(ctx.index_file)
        diff: tuple[str, ...] = ("diff-index", "--cached", "--no-renames", "--name-only", "-z", base)
    elif ctx.tree is not None:
        diff = ("diff-tree", "-r", "--no-renames", "--name-only", "-z", base, ctx.tree)
    else:
        return Verdict(False, "no tree to compare (the checkpoint failed)")
    source_spec = [f":(glob){p}" for p in sources] + [f":(glob,exclude){p}" for p in tests]
    changed_sources = _names(git, diff, source_spec)
    if not changed_sources:
        return Verdict(True, "no source file changed")
    if _names(git, diff, [f":(glob){p}" for p in tests]):
        return Verdict(True, f"{len(changed_sources)} source file(s) changed with their tests")
    listing = "\n".join(f"  {path}" for path in changed_sources)
    return Verdict(
        False,
        f"{len(changed_sources)} source file(s) changed without a test change: {', '.join(changed_sources[:3])}"
        + (" ..." if len(changed_sources) > 3 else ""),
        f"source files changed with no change under {', '.join(tests)}:\n{listing}\n",
    )


def _names(git: Git, diff: tuple[str, ...], pathspec: list[str]) -> list[str]:
    out = git.run(*diff, "--", *pathspec).stdout
    return [name.decode("utf-8", "surrogateescape") for name in out.split(b"\0") if name]
