"""What every drill clone gets: a small Markdown project with ``@`` imports (the
"modules"), a shell test suite, and the gates that watch them.

The fixture lives in ``recover-drill/`` and the gates in the clone's
``.recover.toml`` (replacing the project's own, so a drill never runs the
project's slow test suite and its timings measure git-recover, not the tests).
Gates are shell scripts run with ``/bin/sh``, available wherever git is.

Under root the test gate runs as an unprivileged user through ``setpriv(1)``:
root reads files whatever their permission bits, so without it the permission
scenario would test nothing (CI runs drills as root).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

DIR = "recover-drill"
MODULES = ("alpha", "beta", "gamma")
END_MARKER = "<!-- end of module -->"
UNPRIVILEGED = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--")
TEST_GATE_TIMEOUT_S = 3
CHECKER = "recover-drill-checker"  # the external program
CHECKER_GATE = "checker"  # the optional gate that runs it

# The entry point imports alpha and beta; alpha imports gamma (Claude Code's
# memory-import syntax: `@path`, relative to the importing file).
FILES: dict[str, str] = {
    f"{DIR}/CLAUDE.md": (
        "# Drill project\n\nModules this project loads:\n\n"
        "- @modules/alpha.md\n- @modules/beta.md\n"
    ),
    f"{DIR}/modules/alpha.md": (
        "# Alpha\n\nAlpha builds on @gamma.md for its vocabulary.\n\n"
        "Naïve café déjà vu — the module is UTF-8 text.\n\n" + END_MARKER + "\n"
    ),
    f"{DIR}/modules/beta.md": "# Beta\n\nBeta stands alone: ünïcödé — ✓.\n\n" + END_MARKER + "\n",
    f"{DIR}/modules/gamma.md": "# Gamma\n\nGamma is a leaf: «terms», “quotes”.\n\n" + END_MARKER + "\n",
    f"{DIR}/tests/run.sh": (
        "#!/bin/sh\n"
        "# The drill's test gate: every module present, readable and complete,\n"
        "# then every tests/test_*.sh.\n"
        "cd \"$(dirname \"$0\")/..\" || exit 2\n"
        "status=0\n"
        f"for m in {' '.join(MODULES)}; do\n"
        "  f=modules/$m.md\n"
        "  if [ ! -e \"$f\" ]; then echo \"FAIL: module $m is missing\"; status=1; continue; fi\n"
        "  if ! cat \"$f\" >/dev/null; then echo \"FAIL: cannot read $f\"; status=1; continue; fi\n"
        f"  [ \"$(tail -n 1 \"$f\")\" = '{END_MARKER}' ] || {{ echo \"FAIL: $f is truncated\"; status=1; }}\n"
        "done\n"
        "for t in tests/test_*.sh; do\n"
        "  [ -e \"$t\" ] || continue\n"
        "  sh \"$t\" || { echo \"FAIL: $t\"; status=1; }\n"
        "done\n"
        "if [ -d bulk ] && grep -rlq BROKEN bulk; then echo 'FAIL: bulk files damaged'; status=1; fi\n"
        "exit $status\n"
    ),
    f"{DIR}/tests/test_sanity.sh": "#!/bin/sh\n[ 2 -eq 2 ] || exit 1\n",
}

CHECKER_SCRIPT = "#!/bin/sh\n# An external checker the drill's optional gate runs.\nexit 0\n"


def running_as_root() -> bool:
    """True when the effective user is root (permission bits do not stop reads)."""
    return os.geteuid() == 0


def unprivileged_available() -> bool:
    """True when a step can be run as user 65534 (root and ``setpriv`` present)."""
    return running_as_root() and shutil.which("setpriv") is not None


def gates_toml(tools_dir: Path) -> str:
    """The clone's ``.recover.toml``: the links gate, the test gate (as an unprivileged
    user under root) and an optional external checker in ``tools_dir``."""
    prefix = UNPRIVILEGED if unprivileged_available() else ()
    test_cmd = [*prefix, "sh", f"{DIR}/tests/run.sh"]
    return (
        "# Written by git recover drill in its disposable clone.\n"
        "# Only the fixture is a links root, so the project's own prompt files\n"
        "# cannot fail the baseline; cycles (a warning by default) fail the gate.\n"
        "[links]\n"
        f'roots = ["{DIR}/CLAUDE.md"]\n\n'
        "[gates.links]\n"
        'builtin = "links"\n'
        'fail_level = "warning"\n'
        'policy = "restore"\n'
        "timeout = 60\n\n"
        "[gates.tests]\n"
        f"command = {_toml_list(test_cmd)}\n"
        f"timeout = {TEST_GATE_TIMEOUT_S}\n"
        'policy = "restore"\n\n'
        f"[gates.{CHECKER_GATE}]\n"
        f"command = {_toml_list([str(tools_dir / CHECKER)])}\n"
        "required = false\n"
        "timeout = 10\n"
    )


def install_checker(tools_dir: Path) -> Path:
    """Put the external checker program in ``tools_dir`` (executable by everyone)."""
    tools_dir.mkdir(parents=True, exist_ok=True)
    path = tools_dir / CHECKER
    path.write_text(CHECKER_SCRIPT)
    path.chmod(0o755)
    return path


def example_project() -> dict[str, str]:
    """The built-in example repository a drill uses outside any repository."""
    return {
        "README.md": "# Example project\n\nA project for `git recover drill` to break and recover.\n",
        "src/app.py": "def greet(name: str) -> str:\n    return f'hello {name}'\n",
        "docs/guide.md": "# Guide\n\nRun the app with `python -m app`.\n",
    }


def _toml_list(items: list[str]) -> str:
    # TOML basic strings share JSON's escapes for what paths contain.
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"
