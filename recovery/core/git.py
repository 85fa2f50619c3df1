"""The one place that runs git.

Every git process git-recover starts goes through :meth:`Git.run`, which uses
GitPython's command runner (``git.cmd.Git.execute``) so that git itself does the
work: clean/smudge filters, ``core.fsmonitor``, sparse checkouts and the stat
cache behave exactly as in the user's own git.

Internal calls are made hook-free and non-recursive (issue #3): ``core.hooksPath``
points at ``/dev/null`` (so not even ``reference-transaction`` fires on our
``update-ref``), and ``GIT_RECOVER_INTERNAL=1`` tells our own hook scripts to
exit at once should anything still reach them. ``GIT_OPTIONAL_LOCKS=0`` keeps
read-only commands from refreshing the user's real index behind their back
(git-status(1), "BACKGROUND REFRESH").
"""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import git.cmd

from recovery.base.errors import RecoverError

INTERNAL_ENV = "GIT_RECOVER_INTERNAL"
NULL_SHA = "0" * 40

# Applied to every internal git call; see the module docstring for the why.
_BASE_ENV = {
    INTERNAL_ENV: "1",
    "GIT_OPTIONAL_LOCKS": "0",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_EDITOR": ":",
}
_BASE_ARGS = ("-c", "core.hooksPath=/dev/null")


@dataclass(frozen=True)
class Result:
    """What a finished git process left: exit status, raw stdout, decoded stderr."""

    returncode: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        """stdout decoded as UTF-8 (surrogate-escaped), trailing newline removed."""
        return self.stdout.decode("utf-8", "surrogateescape").rstrip("\n")


class GitCommandError(RecoverError):
    """A git command exited non-zero (or was killed by a signal).

    Attributes:
        argv: the git arguments, without the internal ``-c`` prefix.
        returncode: git's exit status; negative when killed by that signal number.
        stderr: git's full stderr, decoded.
    """

    def __init__(self, argv: tuple[str, ...], returncode: int, stderr: str) -> None:
        lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
        # The first "error:" line names the cause (`error: open("x"): Permission
        # denied`); the final "fatal:" line only says that the command failed.
        errors = [line for line in lines if line.startswith("error:")]
        reason = (errors or lines or ["no message"])[0 if errors else -1]
        if returncode < 0:
            try:
                reason = f"killed by {signal.Signals(-returncode).name}"
            except ValueError:
                reason = f"killed by signal {-returncode}"
        name = " ".join(argv[:1])
        super().__init__(f"git {name} failed (exit {returncode}): {reason}")
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr


class Git:
    """Runs git with a fixed environment (repository, index file, hook guard).

    Args:
        cwd: directory git runs in (the worktree's top level).
        env: variables layered over ``os.environ`` for every call, e.g. ``GIT_DIR``,
            ``GIT_WORK_TREE`` and ``GIT_INDEX_FILE``.
    """

    def __init__(self, cwd: Path, env: Mapping[str, str] | None = None) -> None:
        self.cwd = cwd
        self.env: dict[str, str] = {**_BASE_ENV, **(env or {})}
        self._runner = git.cmd.Git(str(cwd))

    def with_env(self, **env: str) -> Git:
        """A runner for the same repository with extra variables (e.g. a temporary
        ``GIT_INDEX_FILE``)."""
        return Git(self.cwd, {**self.env, **env})

    def with_index(self, index_file: Path) -> Git:
        """A runner whose commands read and write ``index_file`` instead of the real index."""
        return self.with_env(GIT_INDEX_FILE=str(index_file))

    def run(
        self,
        *args: str,
        input: bytes | None = None,
        check: bool = True,
        timeout_s: float | None = None,
    ) -> Result:
        """Run ``git <args>`` and wait for it.

        Args:
            args: git arguments, e.g. ``("write-tree",)``.
            input: bytes fed to git's stdin (``None``: stdin is empty).
            check: raise :class:`GitCommandError` on a non-zero exit.
            timeout_s: kill git after this many seconds.

        Returns:
            The :class:`Result`; ``returncode`` is checked only when ``check`` is true.

        Raises:
            GitCommandError: git exited non-zero or died of a signal and ``check`` is true.
            RecoverError: the git executable could not be started.
        """
        argv = ("git", *_BASE_ARGS, *args)
        with tempfile.TemporaryFile() as stdin:
            if input:
                stdin.write(input)
                stdin.seek(0)
            try:
                status, out, err = self._runner.execute(
                    list(argv),
                    istream=stdin,
                    with_extended_output=True,
                    with_exceptions=False,
                    stdout_as_string=False,
                    strip_newline_in_stdout=False,
                    kill_after_timeout=timeout_s,
                    env=self.env,
                )
            except git.exc.GitCommandNotFound as exc:
                raise RecoverError(f"cannot run git: {exc}") from None
        stderr = err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err or "")
        stdout = out if isinstance(out, bytes) else str(out or "").encode()
        result = Result(int(status), stdout, stderr)
        if check and result.returncode != 0:
            raise GitCommandError(tuple(args), result.returncode, stderr)
        return result

    def text(self, *args: str, input: bytes | None = None) -> str:
        """Run git (checked) and return its stdout as text without the trailing newline."""
        return self.run(*args, input=input).text


def user_env() -> dict[str, str]:
    """A copy of the environment for running *user* programs (gates, wrapped git
    commands): our internal-call marker removed so their own git calls behave
    normally."""
    env = dict(os.environ)
    env.pop(INTERNAL_ENV, None)
    return env
