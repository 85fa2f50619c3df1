"""Gate configurations and hooked repositories for the gate and hook tests.

Gate programs are this interpreter running a one-line script, so the tests need
nothing on PATH; hooks are installed with ``python -m recovery install``, which
writes this interpreter into the hook scripts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence

from recovery.core.refs import list_checkpoints
from recovery.core.repo import Repo
from tests.conftest import GitRepo


def python_gate(name: str, code: str, *, stages: Sequence[str] | None = None, policy: str | None = None,
                timeout: float | None = None, required: bool | None = None) -> str:
    """A ``[gates.<name>]`` TOML table whose command is ``python -c code``."""
    lines = [f"[gates.{name}]", f"command = {json.dumps([sys.executable, '-c', code])}"]
    if stages is not None:
        lines.append(f"stages = {json.dumps(list(stages))}")
    if policy is not None:
        lines.append(f'policy = "{policy}"')
    if timeout is not None:
        lines.append(f"timeout = {timeout}")
    if required is not None:
        lines.append(f"required = {'true' if required else 'false'}")
    return "\n".join(lines) + "\n"


def no_bad_gate(path: str = "a.py", name: str = "nobad", **kwargs: object) -> str:
    """A gate that fails while ``path`` contains the bytes ``BAD``."""
    code = f"import sys; sys.exit(b'BAD' in open({path!r}, 'rb').read())"
    return python_gate(name, code, **kwargs)  # type: ignore[arg-type]


def diverged_red_branch(repo: GitRepo, branch: str, stages: Sequence[str]) -> None:
    """``main`` with a green ``a.py`` and the ``nobad`` gate for ``stages``;
    ``branch`` off it breaks the gate, and main moves on by one commit (so a
    merge of ``branch`` makes a merge commit). Ends on main."""
    repo.write("a.py", "x = 1\n")
    repo.commit_all("a")
    configure(repo, no_bad_gate(stages=stages))
    repo.git("checkout", "-q", "-b", branch)
    repo.write("a.py", "x = 1  # BAD\n")
    repo.git("commit", "-q", "-am", f"bad on {branch}")
    repo.git("checkout", "-q", "main")
    repo.write("m.txt", "main moves on\n")
    repo.commit_all("main moves on")


def configure(repo: GitRepo, *tables: str, commit: bool = True) -> None:
    """Write ``.recover.toml`` from gate tables and (by default) commit it."""
    repo.write(".recover.toml", "\n".join(tables))
    if commit:
        repo.git("add", ".recover.toml")
        repo.git("commit", "-q", "--no-verify", "-m", "gates")


def install_hooks(repo: GitRepo) -> None:
    """``git recover install`` (this interpreter is written into the hooks)."""
    repo.recover("install")


def label(repo: GitRepo, name: str) -> str | None:
    """The checkpoint sha a label (``good``, ``undo``) points at, or ``None``."""
    out = repo.git("for-each-ref", "--format=%(objectname)", f"refs/recovery/main/{name}")
    return out or None


def checkpoints_by_reason(repo: GitRepo, reason: str) -> list[str]:
    """Checkpoint shas (newest first) whose reason is ``reason`` (read in-process
    with the core's reader: the tests start enough processes already)."""
    return [cp.sha for cp in list_checkpoints(Repo.discover(repo.path)) if cp.reason == reason]


def git_proc(repo: GitRepo, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a user's ``git`` command (hooks fire) and keep its exit status and output."""
    return subprocess.run(["git", *args], cwd=repo.path, capture_output=True, text=True, check=False,
                          timeout=timeout)


def captures(argvs: list[str]) -> int:
    """Captures among the git processes ``argvs`` (each ``git ...`` as one string,
    from a ``GIT_TRACE2_EVENT`` trace): each capture that hashes the worktree
    lists its changed tracked files once with ``diff-files --name-only`` (``add
    -u`` in a sparse checkout); reusing a capture runs ``diff-files --quiet``."""
    return sum(1 for argv in argvs if " diff-files --name-only " in f" {argv} " or " add -u " in f" {argv} ")
