"""The real Claude Code client, pinned, for tests that must agree with it.

:func:`install` puts ``@anthropic-ai/claude-code`` at :data:`VERSION` from the npm
registry into the repository's ignored ``.cache/`` once (a file lock makes that safe
for pytest-xdist's parallel workers; later runs reuse it) and returns a
:class:`Client`, or raises :class:`Unavailable` with the reason when npm or the
registry cannot be reached.  Tests get it through the ``claude_client`` fixture
(tests/conftest.py), which turns :class:`Unavailable` into a visible skip.

:meth:`Client.run` runs ``claude -p PROMPT`` in a directory with an isolated
``HOME``, a dummy API key and ``ANTHROPIC_BASE_URL`` pointing at a
:class:`~claude.standin.StandIn`, so the client talks only to 127.0.0.1::

    with StandIn([tool_use("Write", {...}), text("done")]) as api:
        proc = claude_client.run(project, "go", api, args=SKIP_PERMISSIONS)
    assert api.steps_taken == 1
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from claude.standin import StandIn

__all__ = ["VERSION", "PACKAGE", "SKIP_PERMISSIONS", "Client", "Unavailable", "install",
           "approve_external_imports"]

#: The client version the tests were written against (docs/links.md names it too).
VERSION = "2.1.197"
PACKAGE = "@anthropic-ai/claude-code"
#: Arguments that let the client run Write, Edit and Bash without asking (needs
#: ``IS_SANDBOX=1`` as root, which :meth:`Client.run` sets).
SKIP_PERMISSIONS = ("--dangerously-skip-permissions",)

_ROOT = Path(__file__).resolve().parents[2]
CACHE = _ROOT / ".cache" / "claude-code"
_INSTALL_TIMEOUT = 600


class Unavailable(Exception):
    """The pinned client cannot be installed here (no npm, no registry, no
    binary for this platform); the message says which."""


@dataclass(frozen=True)
class Client:
    """An installed client: ``binary`` is the native ``claude`` executable."""

    binary: Path
    version: str

    def run(self, cwd: Path, prompt: str, api: StandIn, *, home: Path | None = None,
            args: Sequence[str] = (), env: Mapping[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``claude -p prompt *args`` in ``cwd`` against ``api``.

        ``home`` is the client's ``HOME`` (a fresh temporary directory when None, so
        no user memory or settings leak in); ``env`` adds or overrides variables of
        the minimal environment (PATH, LANG, the caller's ``GIT_*``, the dummy key,
        the base URL, no telemetry, no auto-update).  Returns the finished process
        (text stdout/stderr, any exit code); raises ``subprocess.TimeoutExpired``
        after ``timeout`` seconds."""
        with tempfile.TemporaryDirectory(prefix="claude-home-") as fresh:
            full = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "LANG": "C.UTF-8",
                "HOME": str(home or fresh),
                "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
                "ANTHROPIC_API_KEY": "sk-ant-standin-0000",
                "ANTHROPIC_BASE_URL": api.url,
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                "DISABLE_AUTOUPDATER": "1",
                "DISABLE_TELEMETRY": "1",
                "DISABLE_ERROR_REPORTING": "1",
                **{k: v for k, v in os.environ.items() if k.startswith("GIT_")},
            }
            if os.geteuid() == 0:
                full["IS_SANDBOX"] = "1"  # the client refuses to skip permissions as root otherwise
            full.update(env or {})
            return subprocess.run([str(self.binary), "-p", prompt, *args], cwd=cwd, env=full,
                                  capture_output=True, text=True, timeout=timeout, check=False)


def approve_external_imports(home: Path, project: Path) -> None:
    """Record in ``home/.claude.json`` that the user approved imports from outside
    ``project`` (what the client's one-time dialog stores), so ``claude -p`` in
    ``project`` loads them."""
    config = home / ".claude.json"
    data = json.loads(config.read_text()) if config.exists() else {}
    entry = data.setdefault("projects", {}).setdefault(str(project), {})
    entry["hasClaudeMdExternalIncludesApproved"] = True
    entry["hasClaudeMdExternalIncludesWarningShown"] = True
    config.write_text(json.dumps(data))


def install(version: str = VERSION, cache: Path = CACHE) -> Client:
    """Install ``PACKAGE@version`` under ``cache/version`` once and return it.

    Safe to call from many processes at once: one installs under a file lock into
    a temporary directory renamed into place, the others wait and reuse it.  Install
    scripts are not run; the native binary is taken from the platform package.
    Raises :class:`Unavailable` when npm is missing, the registry refuses, or no
    binary fits this platform."""
    target = cache / version
    cache.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache / f"{version}.lock"), timeout=_INSTALL_TIMEOUT):
        if not (target / "installed").exists():
            _npm_install(version, cache, target)
    binary = _native_binary(target)
    return Client(binary=binary, version=version)


def _npm_install(version: str, cache: Path, target: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise Unavailable("npm not found on PATH: cannot install the Claude Code client")
    staging = Path(tempfile.mkdtemp(prefix=f"{version}.", dir=cache))
    try:
        proc = subprocess.run(
            [npm, "install", "--prefix", str(staging), "--ignore-scripts", "--no-audit",
             "--no-fund", "--no-save", "--loglevel=error", f"{PACKAGE}@{version}"],
            capture_output=True, text=True, timeout=_INSTALL_TIMEOUT, check=False,
            env={**os.environ, "npm_config_cache": str(cache / "npm")},
        )
        if proc.returncode != 0:
            errors = [line for line in proc.stderr.splitlines() if "log of this run" not in line]
            reason = " / ".join(errors[:2]) or f"exit {proc.returncode}"
            raise Unavailable(f"npm install {PACKAGE}@{version} failed: {reason}")
        (staging / "installed").write_text(version + "\n")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _native_binary(target: Path) -> Path:
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine())
    system = platform.system().lower()
    candidates = [f"{PACKAGE}-{system}-{arch}", f"{PACKAGE}-{system}-{arch}-musl"]
    for name in candidates:
        binary = target / "node_modules" / name / "claude"
        if binary.is_file():
            return binary
    raise Unavailable(f"no native Claude Code binary for {system}-{arch} in {target}")
