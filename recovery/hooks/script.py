"""The hook script git runs, one copy per hook name.

The script is POSIX sh, so it costs one ``sh`` start before Python; a post-hook
in a repository without gate configuration never starts Python at all. It finds
git-recover the way pre-commit's own hook finds pre-commit: the interpreter that
ran ``git recover install`` is written into the script (so a virtualenv that is
not on PATH still works), and ``git-recover`` on PATH is the fallback. When
neither exists it says so and still runs the chained foreign hook, so a removed
git-recover never breaks the user's other hooks. ``-P`` keeps the worktree (the
hook's working directory) off ``sys.path``, so a ``recovery/`` directory in the
user's project cannot shadow the installed package. The copies in the repository's
``hooks/`` directory are the same script with no interpreter written in.
"""

from __future__ import annotations

import shlex

# Recognises our own hook on install/uninstall (never a foreign one).
MARKER = "git-recover-hook-v1"
# A foreign hook found at install time is kept beside ours under this suffix and
# chained; uninstall puts it back. Distinct from pre-commit's ".legacy", so the two
# tools can wrap each other.
CHAINED_SUFFIX = ".pre-recover"

_TEMPLATE = """\
#!/bin/sh
# {marker}: installed by `git recover install`; `git recover uninstall` removes it
# and puts back the hook it replaced (kept as <hook>{suffix}).
# git-recover's own git calls export GIT_RECOVER_INTERNAL: leave at once, so an
# internal call never runs this hook or a hook it chains (no recursion).
[ -n "${{GIT_RECOVER_INTERNAL:-}}" ] && exit 0
GIT_RECOVER_PYTHON={python}
GIT_RECOVER_PACKAGE={package}
hook=${{0##*/}}
# Another manager may have renamed this script when it chained it (pre-commit
# keeps it as <hook>.legacy): hook names have no dots, so cut at the first one,
# and find the hook we chain by the hook's name, not by this file's.
hook=${{hook%%.*}}
chained="${{0%/*}}/$hook{suffix}"
# Hooks run in the worktree's top level (githooks(5)). With no project
# configuration there are no gates, so a post-hook has nothing to validate:
# skip the Python start (the commit overhead budget, benchmarks/bench_hooks.py).
case $hook in
post-*)
    if [ ! -f .recover.toml ] && ! grep -qs git-recover pyproject.toml; then
        if [ -x "$chained" ]; then
            exec "$chained" "$@"
        fi
        exit 0
    fi
    ;;
esac
# The interpreter alone is not enough: `pip uninstall git-recover` leaves it.
if [ -x "$GIT_RECOVER_PYTHON" ] && [ -f "$GIT_RECOVER_PACKAGE/__init__.py" ]; then
    exec "$GIT_RECOVER_PYTHON" -P -m recovery hook --chain "$chained" "$hook" "$@"
fi
if command -v git-recover >/dev/null 2>&1; then
    exec git-recover hook --chain "$chained" "$hook" "$@"
fi
echo "git-recover: not installed (package ${{GIT_RECOVER_PACKAGE:-none}} gone, no git-recover on PATH):" \\
    "$hook hook skipped; reinstall it or run 'git recover uninstall'" >&2
if [ -x "$chained" ]; then
    exec "$chained" "$@"
fi
exit 0
"""


def render(python: str | None, package: str | None = None) -> str:
    """The hook script text.

    Args:
        python: absolute path of the interpreter that has ``recovery`` installed,
            or ``None`` to rely on ``git-recover`` on PATH (the ``hooks/`` copies).
        package: the directory of the installed ``recovery`` package, checked
            before the interpreter is used.
    """
    return _TEMPLATE.format(marker=MARKER, suffix=CHAINED_SUFFIX, python=shlex.quote(python or ""),
                            package=shlex.quote(package or ""))


def is_ours(text: str) -> bool:
    """Whether a hook file's text is a git-recover hook script."""
    return MARKER in text
