"""``git recover install`` / ``uninstall``: where hooks go, chaining foreign hooks,
recognising our own, core.hooksPath, linked worktrees, and the hook script itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from recovery.hooks import HOOKS
from recovery.hooks.script import CHAINED_SUFFIX, MARKER, render
from tests.conftest import ROOT, GitRepo
from tests.hooks.helpers import checkpoints_by_reason, configure, install_hooks, no_bad_gate

FOREIGN = "#!/bin/sh\necho foreign-ran \"$@\" >> \"$(git rev-parse --git-dir)/foreign.log\"\nexit ${FOREIGN_EXIT:-0}\n"


def _hooks(repo: GitRepo) -> Path:
    return repo.path / ".git" / "hooks"


def test_install_writes_every_hook_with_this_interpreter(repo: GitRepo) -> None:
    out = repo.recover("install").stdout
    for name in HOOKS:
        hook = _hooks(repo) / name
        text = hook.read_text()
        assert MARKER in text
        assert f"GIT_RECOVER_PYTHON={sys.executable}" in text or f"GIT_RECOVER_PYTHON='{sys.executable}'" in text
        assert os.access(hook, os.X_OK)
        assert f"{name}: installed" in out
    # A second install updates ours in place and chains nothing.
    out = repo.recover("install").stdout
    assert "pre-commit: updated" in out
    assert not list(_hooks(repo).glob(f"*{CHAINED_SUFFIX}"))


def test_repository_hook_scripts_are_the_rendered_script() -> None:
    """hooks/ in this repository holds the script `install` writes, minus the interpreter."""
    for name in HOOKS:
        path = ROOT / "hooks" / name
        assert path.read_text() == render(None), name
        assert os.access(path, os.X_OK), name


def test_foreign_hook_is_chained_and_restored(repo: GitRepo) -> None:
    original = _hooks(repo) / "pre-commit"
    original.write_text(FOREIGN)
    original.chmod(0o755)
    out = repo.recover("install").stdout
    assert f"kept as pre-commit{CHAINED_SUFFIX}" in out
    assert (_hooks(repo) / f"pre-commit{CHAINED_SUFFIX}").read_text() == FOREIGN

    repo.write("f.txt", "1\n")
    repo.git("add", "f.txt")
    repo.git("commit", "-q", "-m", "one")
    assert (repo.path / ".git" / "foreign.log").read_text() == "foreign-ran\n"
    assert checkpoints_by_reason(repo, "pre-commit")  # ours ran too

    # The foreign hook still decides: its failure blocks the commit.
    head = repo.git("rev-parse", "HEAD")
    repo.write("f.txt", "2\n")
    proc = subprocess.run(["git", "commit", "-qam", "two"], cwd=repo.path, capture_output=True,
                          env={**os.environ, "FOREIGN_EXIT": "1"}, check=False)
    assert proc.returncode != 0
    assert repo.git("rev-parse", "HEAD") == head

    out = repo.recover("uninstall").stdout
    assert "pre-commit: removed; your previous hook is back" in out
    assert original.read_text() == FOREIGN
    assert not (_hooks(repo) / f"pre-commit{CHAINED_SUFFIX}").exists()
    assert not (_hooks(repo) / "post-commit").exists()


def test_install_refuses_to_clobber(repo: GitRepo) -> None:
    for name in ("pre-commit", f"pre-commit{CHAINED_SUFFIX}"):
        (_hooks(repo) / name).write_text(FOREIGN)
    proc = repo.recover("install", check=False)
    assert proc.returncode == 1
    assert "already exists" in proc.stderr and "nothing was changed" in proc.stderr
    assert (_hooks(repo) / "pre-commit").read_text() == FOREIGN
    assert not (_hooks(repo) / "post-commit").exists()


def test_uninstall_leaves_foreign_hooks_alone(repo: GitRepo) -> None:
    install_hooks(repo)
    (_hooks(repo) / "post-merge").write_text(FOREIGN)  # replaced by someone else since
    out = repo.recover("uninstall").stdout
    assert "post-merge: not a git-recover hook, left alone" in out
    assert (_hooks(repo) / "post-merge").read_text() == FOREIGN
    assert not (_hooks(repo) / "pre-commit").exists()


def test_core_hooks_path_is_honoured_and_explained(repo: GitRepo) -> None:
    repo.git("config", "core.hooksPath", "team-hooks")
    team = repo.path / "team-hooks"
    team.mkdir()
    (team / "pre-commit").write_text(FOREIGN)
    (team / "pre-commit").chmod(0o755)
    out = repo.recover("install").stdout
    assert f"core.hooksPath is set (file:{repo.path / '.git' / 'config'})" in out
    assert f"installing into {team}" in out
    assert MARKER in (team / "pre-commit").read_text()
    assert not (_hooks(repo) / "pre-commit").exists()
    repo.write("f.txt", "1\n")
    repo.git("add", "f.txt")
    repo.git("commit", "-q", "-m", "one")
    assert (repo.path / ".git" / "foreign.log").read_text() == "foreign-ran\n"
    assert checkpoints_by_reason(repo, "pre-commit")


def test_linked_worktree(repo: GitRepo, tmp_path: Path) -> None:
    linked = GitRepo(tmp_path / "linked")
    repo.git("worktree", "add", "-q", "-b", "side", str(linked.path))
    out = linked.recover("install").stdout
    assert f"hooks directory: {repo.path / '.git' / 'hooks'}" in out
    linked.write("side.txt", "side\n")
    linked.git("add", "side.txt")
    linked.git("commit", "-q", "-m", "side")
    refs = repo.git("for-each-ref", "--format=%(refname)", "refs/recovery/")
    assert "refs/recovery/wt-linked/cp/" in refs
    assert "refs/recovery/main/" not in refs


def test_script_exits_at_once_for_internal_calls(repo: GitRepo) -> None:
    install_hooks(repo)
    chained = _hooks(repo) / f"pre-commit{CHAINED_SUFFIX}"
    chained.write_text(FOREIGN)
    chained.chmod(0o755)
    proc = subprocess.run([str(_hooks(repo) / "pre-commit")], cwd=repo.path, capture_output=True,
                          env={**os.environ, "GIT_RECOVER_INTERNAL": "1"}, check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
    assert not (repo.path / ".git" / "foreign.log").exists()
    assert not checkpoints_by_reason(repo, "pre-commit")


def test_script_without_git_recover_still_chains(repo: GitRepo, tmp_path: Path) -> None:
    """A hook written for an interpreter that is gone, with no git-recover on PATH:
    a clear message, and the user's own hook still runs."""
    repo.recover("install", "--hook", "pre-commit", "--use-path")
    chained = _hooks(repo) / f"pre-commit{CHAINED_SUFFIX}"
    chained.write_text(FOREIGN)
    chained.chmod(0o755)
    bare_path = tmp_path / "bin"
    bare_path.mkdir()
    for tool in ("git", "sh", "cat"):
        found = shutil.which(tool)
        assert found
        (bare_path / tool).symlink_to(found)
    proc = subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "x"], cwd=repo.path,
                          capture_output=True, text=True, env={**os.environ, "PATH": str(bare_path)}, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "git-recover: not installed" in proc.stderr
    assert (repo.path / ".git" / "foreign.log").read_text() == "foreign-ran\n"


@pytest.mark.parametrize("name", ["pre-commit", "post-merge"])
def test_hook_names_only(repo: GitRepo, name: str) -> None:
    repo.recover("install", "--hook", name)
    assert sorted(p.name for p in _hooks(repo).iterdir() if MARKER in p.read_text(errors="replace")) == [name]


def test_gate_config_error_names_file_and_key_in_hook(repo: GitRepo) -> None:
    """A bad configuration blocks pre-commit (the gates cannot run) with one clear line."""
    configure(repo, no_bad_gate(), commit=True)
    install_hooks(repo)
    repo.write(".recover.toml", "[gates.nobad]\ncommand = ['true']\ntimeout = -1\n")
    repo.git("add", ".recover.toml")
    proc = subprocess.run(["git", "commit", "-q", "-m", "x"], cwd=repo.path, capture_output=True, text=True,
                          check=False)
    assert proc.returncode != 0
    assert ".recover.toml: gates.nobad.timeout: expected a number of seconds from 0 to 86400" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_recovery_package_in_the_project_does_not_shadow_ours(repo: GitRepo) -> None:
    """Hooks run in the user's worktree; `python -P` keeps it off sys.path."""
    repo.write("recovery/__init__.py", "")
    repo.write("recovery/__main__.py", "raise SystemExit('the project\\'s own recovery package ran')\n")
    repo.git("add", "-A")
    install_hooks(repo)
    proc = subprocess.run(["git", "commit", "-q", "-m", "own package"], cwd=repo.path, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "own recovery package" not in proc.stderr
    assert checkpoints_by_reason(repo, "pre-commit")


def test_pre_push_checkpoints_and_chains_with_stdin(repo: GitRepo, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    repo.git("remote", "add", "origin", str(remote))
    hook = _hooks(repo) / "pre-push"
    hook.write_text("#!/bin/sh\ncat > \"$(git rev-parse --git-dir)/pre-push.stdin\"\necho \"$@\" > "
                    "\"$(git rev-parse --git-dir)/pre-push.args\"\n")
    hook.chmod(0o755)
    install_hooks(repo)
    repo.write("uncommitted.txt", "work in progress\n")
    repo.git("push", "-q", "origin", "main")
    head = repo.git("rev-parse", "HEAD")
    stdin = (repo.path / ".git" / "pre-push.stdin").read_text()
    assert stdin.split() == ["refs/heads/main", head, "refs/heads/main", "0" * 40]
    assert (repo.path / ".git" / "pre-push.args").read_text().split() == ["origin", str(remote)]
    (before,) = checkpoints_by_reason(repo, "pre-push")
    assert subprocess.run(["git", "show", f"{before}:uncommitted.txt"], cwd=repo.path, capture_output=True,
                          check=True).stdout == b"work in progress\n"


def test_hooks_switched_off_by_core_hooks_path_is_explained(repo: GitRepo) -> None:
    repo.git("config", "core.hooksPath", "/dev/null")
    proc = repo.recover("install", check=False)
    assert proc.returncode == 1
    assert "core.hooksPath (file:" in proc.stderr and "is /dev/null, not a directory" in proc.stderr
