"""The one error type the user sees.

Modelled on pre-commit's ``FatalError``: every expected failure (bad input, a git
command that refused, a lock held by someone else) is raised as a
:class:`RecoverError` carrying a one-line message and an exit code; the CLI prints
``git-recover: <message>`` and exits with that code. Anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

# Exit codes shared by every command (documented in README.md and the man page).
EXIT_OK = 0
EXIT_ERROR = 1  # a runtime failure: git refused, integrity mismatch, lock busy
EXIT_FINDINGS = 2  # a check ran and found problems (gates failed, links broken)
EXIT_USAGE = 3  # bad configuration or arguments


class RecoverError(Exception):
    """An expected failure with a one-line message for the user.

    Args:
        message: one line, no trailing period needed; never a traceback.
        exit_code: process exit status the CLI uses (see the ``EXIT_*`` constants).
    """

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class UsageError(RecoverError):
    """Bad configuration or arguments (exit code 3)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)
