"""Entry point of ``git-recover`` (and so of ``git recover``).

Expected failures (:class:`RecoverError`) become one line on stderr and their
exit code, never a traceback. ``git-recover hook <name>`` runs on every commit
and ``git-recover agent-hook <event>`` before every tool call of an agent, so
both are dispatched here without importing click (about 25 ms of the hooks'
budget, benchmarks/bench_hooks.py), as are the plain forms of ``checkpoint``
and ``verify`` (:mod:`recovery.cli.plain`); every other command goes through the click
application in :mod:`recovery.cli.app`.
"""

from __future__ import annotations

import os
import sys

from recovery.base.errors import EXIT_ERROR, EXIT_USAGE, RecoverError
from recovery.base.output import say

TYPE_CHECKING = False  # typing's own constant without importing typing (mypy reads it as such)
if TYPE_CHECKING:
    from typing import NoReturn


def main(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["hook"]:
            from recovery.cli.hook import hook_main

            return hook_main(args[1:])
        if args[:1] == ["agent-hook"]:
            from recovery.agent.hook import agent_hook_main

            return agent_hook_main(args[1:])
        if args[:1] in (["checkpoint"], ["verify"]):
            from recovery.cli.plain import plain_checkpoint, plain_verify

            code = (plain_checkpoint if args[0] == "checkpoint" else plain_verify)(args[1:])
            if code is not None:
                return code
        from recovery.cli.app import run_cli

        return run_cli(args)
    except RecoverError as exc:
        say(exc.message)
        return exc.exit_code
    except BrokenPipeError:
        # The reader of stdout left (`| head -1`, `| true`): quiet, exit 1, as
        # click does for the other commands. What is still buffered goes to
        # /dev/null, or the interpreter's last flush would report the pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except KeyboardInterrupt:
        from recovery.core.intent import interruption_report

        say(interruption_report())
        return 130
    except OSError as exc:
        # A state file in the way, a full disk, a permission problem: one line.
        # A failed copy or rename names its source first; the file that could
        # not be written (filename2) is the one to name.
        target = exc.filename2 or exc.filename
        where = f": {target}" if target else ""
        say(f"{exc.strerror or exc}{where}")
        return EXIT_ERROR


def run() -> NoReturn:
    """Run :func:`main` as the whole process (the ``git-recover`` command and
    ``python -m recovery``) and exit with its status, skipping the interpreter's
    teardown.

    Why: tearing down the modules a checkpoint imported took 8-18 ms of every
    hook and agent hook on the 2-core development machine, a third to half of
    git's own floor for a checkpoint at 1k files, and it frees nothing the
    kernel does not. Everything this process writes is finished when
    :func:`main` returns (files are written through ``with`` blocks, no
    ``atexit`` handler is registered, every thread is a daemon); only Python's
    own buffers of stdout and stderr remain, flushed here. If that flush fails
    (a closed pipe), the normal exit reports it as Python always has. With no
    stdout at all, nothing is run (exit 3).
    """
    if sys.stdout is None:
        # Python found no file descriptor 1 (`>&-`): a command would do its work
        # and then fail on its first line of output. Nothing is done instead;
        # except by the hooks, whose protection must not depend on a stream
        # they barely use.
        if sys.argv[1:2] in (["hook"], ["agent-hook"]):
            sys.stdout = open(os.devnull, "w")
        else:
            if sys.stderr is not None:
                say("standard output is closed; nothing was done (redirect it to /dev/null to discard it)")
            os._exit(EXIT_USAGE)
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)
    os._exit(code)


if __name__ == "__main__":
    run()
