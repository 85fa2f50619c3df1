"""Whether a repository's gates may run: the one trust policy.

Gates are commands from the project's ``.recover.toml`` (or ``[tool.git-recover]``
in ``pyproject.toml``): running them runs whatever the repository's author wrote.
A hook installed in a shared ``core.hooksPath`` also fires in a repository just
cloned, and ``git recover run -- checkout`` is typed without a thought for
gates; running a stranger's commands there would run a stranger's code (hostile
testing). So every path that runs gates without being asked to by name (the
hooks, ``git recover run``) goes through :func:`allowed_gates`, and only
``git recover gates run``, which names the gates, runs them regardless, with a note.

Trusted means ``recover.trusted`` is true in the repository's git config
(``git recover install`` sets it with :func:`trust`, once the user has chosen to
install that repository's hooks) or the pre-commit framework runs the hook
(``PRE_COMMIT`` is set: the user installed that repository's pre-commit config).
"""

from __future__ import annotations

import os

from recovery.base.output import say
from recovery.core.config import GitConfig
from recovery.core.repo import Repo
from recovery.gates.config import GateConfig

TRUST_KEY = "recover.trusted"


def is_trusted(config: GitConfig) -> bool:
    """True when the repository's own gates may run (see the module docstring).

    Raises:
        UsageError: ``recover.trusted`` is not a boolean.
    """
    return config.get_bool(TRUST_KEY, False) or bool(os.environ.get("PRE_COMMIT"))


def trust(repo: Repo) -> str:
    """Mark ``repo`` trusted in its local git config; returns the line to show."""
    repo.git.run("config", "--local", TRUST_KEY, "true")
    return f"trusted: the hooks and `git recover run` run the gates of {repo.toplevel} ({TRUST_KEY}=true)"


def allowed_gates(repo: Repo, config: GitConfig, gates: GateConfig) -> GateConfig:
    """``gates`` when the repository is trusted, else none (said on stderr once,
    with how to trust it)."""
    if gates.gates and not is_trusted(config):
        say(f"gates not run: {repo.toplevel} is not trusted yet; once you have read its gate "
            f"configuration, run `git recover install` there (or `git config {TRUST_KEY} true`)")
        return GateConfig((), gates.disabled, gates.source)
    return gates


def untrusted_note(repo: Repo, config: GitConfig) -> str | None:
    """For a by-hand ``gates run``: a note when the repository is not trusted
    (the user asked by name, so the gates run; the note says the hooks would not)."""
    if is_trusted(config):
        return None
    return (f"note: {repo.toplevel} is not trusted ({TRUST_KEY}); running its gates because you asked; "
            "the hooks and `git recover run` do not run them")
