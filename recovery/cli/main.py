"""Entry point of ``git-recover`` (and so of ``git recover``).

Expected failures (:class:`RecoverError`) become one line on stderr and their
exit code, never a traceback. ``git-recover hook <name>`` runs on every commit
and ``git-recover agent-hook <event>`` before every tool call of an agent, so
both are dispatched here without importing click (about 25 ms of the hooks'
budget, benchmarks/bench_hooks.py); every other command goes through the click
application in :mod:`recovery.cli.app`.
"""

from __future__ import annotations

import sys

from recovery.base.errors import EXIT_ERROR, RecoverError
from recovery.base.output import say


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
        from recovery.cli.app import run_cli

        return run_cli(args)
    except RecoverError as exc:
        say(exc.message)
        return exc.exit_code
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


if __name__ == "__main__":
    sys.exit(main())
