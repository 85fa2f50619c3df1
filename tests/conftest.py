"""Hermetic fixtures: every test gets a temp HOME, no system or user git config,
a fixed identity and fixed commit dates, and real ``git`` in temp repositories
(as git-revise's test fixture does)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from claude.client import Client

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CASES = SHARED / "cases"
CORPORA = SHARED / "corpora"

_KEEP_GIT_VARS = {"GIT_EXEC_PATH"}


@pytest.fixture(autouse=True)
def hermetic_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Isolate git from the machine: temp HOME and global config, identity, dates."""
    home = tmp_path_factory.mktemp("home")
    for key in list(os.environ):
        if key.startswith(("GIT_", "PRE_COMMIT")) and key not in _KEEP_GIT_VARS:
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")
        monkeypatch.setenv(f"GIT_{role}_DATE", "2026-01-01T00:00:00Z")
    (home / ".gitconfig").write_text(
        "[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n"
        "[protocol \"file\"]\n\tallow = always\n"
    )
    return home


@dataclass
class GitRepo:
    """A real repository in a temp directory, driven with real git."""

    path: Path

    @classmethod
    def init(cls, path: Path, branch: str = "main") -> GitRepo:
        """A new empty repository at ``path`` (created), on ``branch``."""
        path.mkdir(parents=True)
        repo = cls(path)
        repo.git("init", "-q", "-b", branch)
        return repo

    def git(self, *args: str, check: bool = True, input: bytes | None = None) -> str:
        proc = subprocess.run(
            ["git", *args], cwd=self.path, input=input, capture_output=True, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.decode()}")
        return proc.stdout.decode("utf-8", "surrogateescape").rstrip("\n")

    def write(self, rel: str, data: str | bytes, mode: int | None = None) -> Path:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode() if isinstance(data, str) else data)
        if mode is not None:
            target.chmod(mode)
        return target

    def read(self, rel: str) -> bytes:
        return (self.path / rel).read_bytes()

    def commit_all(self, message: str = "commit") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def recover(self, *args: str, check: bool = True, input: str | None = None,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``git-recover`` as a separate process, as a user would."""
        return run_recover(self.path, *args, check=check, input=input, env=env)


def run_recover(cwd: Path, *args: str, check: bool = True, input: str | None = None,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m recovery ARGS`` in ``cwd``; raise with its output when ``check``
    and the exit status is non-zero."""
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "recovery", *args],
        cwd=cwd, input=input, capture_output=True, text=True, check=False,
        env={**os.environ, **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"git-recover {' '.join(args)} exited {proc.returncode}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[GitRepo]:
    """A repository with one commit of ``README.md`` on ``main``."""
    r = GitRepo.init(tmp_path / "repo")
    r.write("README.md", "hello\n")
    r.commit_all("base")
    yield r


# A permission test is run as `nobody` (root reads any file, so a test run as
# root would test nothing); switching users takes root and setpriv.
needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv: it chowns files to `nobody` and runs the step as that user",
)


def needs_shared(path: Path) -> Path:
    """Skip the calling test, with the reason shown, when ``../shared`` data is absent."""
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (clone beside ../shared to run this test)")
    return path


@pytest.fixture(scope="session")
def claude_client() -> Client:
    """The real Claude Code client at the pinned version (a ``claude.client.Client``),
    installed from the npm registry into ``.cache/`` on first use; skips the test with
    the reason shown when npm or the registry is unavailable."""
    from claude.client import Unavailable, install

    try:
        return install()
    except Unavailable as exc:
        pytest.skip(f"real Claude Code client unavailable: {exc}")
