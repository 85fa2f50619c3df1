"""``git-recover hook [--chain PATH] <name> [ARGS...]``: what the installed hook
scripts and the pre-commit framework's hook ids run.

Not a click command: git runs it on every commit, and its argv is fixed by our
own hook scripts and ``.pre-commit-hooks.yaml``, so :func:`recovery.cli.main.main`
hands it here before click is imported.
"""

from __future__ import annotations

from pathlib import Path

from recovery.base.errors import UsageError
from recovery.hooks import HOOKS
from recovery.hooks.dispatch import dispatch

USAGE = "usage: git-recover hook [--chain PATH] <" + "|".join(HOOKS) + "> [ARGS...]"


def hook_main(argv: list[str]) -> int:
    """Parse ``[--chain PATH] NAME ARGS...`` and run hook NAME.

    Returns:
        The hook's exit status (non-zero blocks a pre-hook).

    Raises:
        UsageError: no hook name, an unknown one, or ``--chain`` without a path.
    """
    chain = None
    if argv[:1] == ["--chain"]:
        if len(argv) < 2:
            raise UsageError(USAGE)
        chain, argv = Path(argv[1]), argv[2:]
    if not argv or argv[0] not in HOOKS:
        raise UsageError(USAGE)
    return dispatch(argv[0], tuple(argv[1:]), chain)
