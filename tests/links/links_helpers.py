"""Helpers for the @-link validator tests (imported by the test modules; fixtures
live in conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from recovery.links import check
from recovery.links.report import LinkReport

ROOT = Path(__file__).resolve().parents[2]
CORPORA = ROOT.parent / "shared" / "corpora"


def write_tree(top: Path, files: dict[str, str | bytes]) -> Path:
    """Write ``files`` (relative path -> text or bytes) under ``top``."""
    for rel, data in files.items():
        path = top / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return top


def run(top: Path, **overrides: Any) -> LinkReport:
    """``check(top, overrides)``."""
    return check(top, overrides or None)


def codes(report: LinkReport) -> list[tuple[str, int, int, str]]:
    """``(path, line, col, code)`` of every finding, in report order."""
    return [(f.path, f.line, f.col, f.code) for f in report.findings]


def only(report: LinkReport, code: str) -> list[Any]:
    """The findings with ``code``."""
    return [f for f in report.findings if f.code == code]


def cli(cwd: Path, *args: str, env: dict[str, str] | None = None,
        user: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``git-recover ARGS`` as a separate process (optionally as ``user`` via
    setpriv); never raises on a non-zero exit."""
    argv = [sys.executable, "-m", "recovery", *args]
    if user:
        argv = ["setpriv", f"--reuid={user}", f"--regid={user_group(user)}", "--clear-groups",
                *argv]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def user_group(user: str) -> str:
    import grp
    import pwd

    return grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name


def unprivileged_skip_reason() -> str | None:
    """Why permission tests cannot run here (no setpriv, no `nobody`, or `nobody`
    cannot run this checkout's Python), or ``None`` when they can."""
    if shutil.which("setpriv") is None:
        return "setpriv is not installed"
    try:
        import pwd

        pwd.getpwnam("nobody")
    except KeyError:
        return "no user `nobody`"
    if os.geteuid() != 0:
        return "needs root to switch to `nobody`"
    probe = subprocess.run(
        ["setpriv", "--reuid=nobody", f"--regid={user_group('nobody')}", "--clear-groups",
         sys.executable, "-c", "import recovery.links"],
        capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd="/")
    if probe.returncode != 0:
        return f"`nobody` cannot import this checkout: {probe.stderr.strip()[-200:]}"
    return None


@contextmanager
def world_readable_tmp() -> Iterator[Path]:
    """A temp directory `nobody` can enter (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="links-perm-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for dirpath, dirnames, _ in os.walk(path):
            for name in dirnames:
                os.chmod(os.path.join(dirpath, name), 0o755)
        shutil.rmtree(path, ignore_errors=True)
