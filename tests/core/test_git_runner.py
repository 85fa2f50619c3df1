"""The git runner: locale, stdin from memory, exit codes, child set-up."""

from __future__ import annotations

import os
import time

import pytest

from recovery.core.git import Git, GitCommandError, INTERNAL_ENV
from tests.conftest import GitRepo


def test_stdin_from_memory_reaches_git_and_the_object_is_real(repo: GitRepo) -> None:
    data = b"\x00binary\xffpayload\n" * 1000
    sha = Git(repo.path).text("hash-object", "-w", "--stdin", input=data)
    # An independent reader: the user's own git sees the very bytes.
    assert repo.git("cat-file", "-t", sha) == "blob"
    assert repo.git("cat-file", "-s", sha) == str(len(data))


def test_the_c_locale_is_forced_over_the_callers(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    monkeypatch.setenv("LANGUAGE", "de")
    out = Git(repo.path).text("var", "GIT_EDITOR")  # any command; the environment is what we check
    assert out == ":"
    env = Git(repo.path, {"LC_ALL": "fr_FR.UTF-8"}).full_env()
    assert env["LC_ALL"] == "C" and env["LANGUAGE"] == "C" and env[INTERNAL_ENV] == "1"


def test_a_failing_command_raises_with_git_s_reason(repo: GitRepo) -> None:
    with pytest.raises(GitCommandError) as caught:
        Git(repo.path).run("cat-file", "-t", "0" * 40)
    assert caught.value.returncode == 128
    assert "git cat-file failed (exit 128)" in caught.value.message
    result = Git(repo.path).run("cat-file", "-t", "0" * 40, check=False)
    assert result.returncode == 128 and result.stderr


def test_the_child_set_up_hook_runs_in_every_git_child(repo: GitRepo, tmp_path: os.PathLike[str]) -> None:
    marker = f"{tmp_path}/children"

    def mark() -> None:  # runs in the child between fork and exec
        with open(marker, "a") as out:
            out.write(f"{os.getpid()}\n")

    git = Git(repo.path, preexec_fn=mark).with_env(GIT_TRACE="0")  # with_env keeps the hook
    git.run("rev-parse", "HEAD", check=False)
    git.with_index(repo.path / ".git" / "index").run("status", "--porcelain")
    pids = open(marker).read().split()
    assert len(pids) == 2 and os.getpid() not in {int(p) for p in pids}


def test_a_new_process_group_is_used_when_asked(repo: GitRepo) -> None:
    # `git var` cannot tell us its group, so run a shell through git's alias
    # mechanism: `!sh` aliases start a shell in git's own process group.
    git = Git(repo.path, process_group=0).with_env(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="alias.pg",
                                                    GIT_CONFIG_VALUE_0="!ps -o pgid= -p $$")
    group = int(git.text("pg"))
    assert group != os.getpgid(0)


def test_the_child_set_up_hook_runs_only_for_the_commands_named(repo: GitRepo, tmp_path: os.PathLike[str]) -> None:
    """A restore's runner sets git's parent-death signal only where a child
    outliving it would change the worktree, an index or refs: the others keep
    the cheap ``vfork`` start."""
    marker = f"{tmp_path}/children"

    def mark() -> None:
        with open(marker, "a") as out:
            out.write(f"{os.getpid()}\n")

    git = Git(repo.path, preexec_fn=mark, preexec_for=frozenset({"update-ref"})).with_config("core.x", "1")
    git.run("rev-parse", "HEAD")
    git.run("-c", "user.name=x", "update-ref", "refs/heads/marked", "HEAD")
    with git.object_reader():
        pass
    assert len(open(marker).read().split()) == 1
    assert repo.git("rev-parse", "refs/heads/marked") == repo.git("rev-parse", "HEAD")


def test_tree_comparisons_do_not_read_the_index(repo: GitRepo) -> None:
    """``trees_git`` compares trees without reading the index: with the real
    index damaged, the plain runner's ``diff-tree`` fails on it and the
    tree runner's gives the same raw output as before the damage."""
    from recovery.core.repo import Repo

    old = repo.git("rev-parse", "HEAD^{tree}")
    repo.write("README.md", "changed\n")
    repo.write("new.txt", "new\n")
    new = repo.commit_all("second")
    new_tree = repo.git("rev-parse", f"{new}^{{tree}}")
    found = Repo.discover(repo.path)
    args = ("diff-tree", "-r", "-z", "--no-renames", old, new_tree)
    expected = found.git.run(*args).stdout
    assert expected.count(b"\0") == 4  # two changed paths, each a meta and a name
    (repo.path / ".git" / "index").write_bytes(b"DIRC damaged")
    assert found.git.run(*args, check=False).returncode != 0  # the plain runner reads the index
    assert found.trees_git.run(*args).stdout == expected
    assert not (found.state_dir / "absent-index").exists()


def test_a_started_command_gets_its_input_before_it_is_waited_for(repo: GitRepo) -> None:
    # Two started commands overlap only if git can work on its input at once
    # (a restore clears the switched index's stat data beside other steps).
    # More than a pipe's buffer, so a writer that waited for wait() would stall.
    data = b"started\n" * 100_000
    sha = repo.git("hash-object", "--stdin", input=data)
    running = Git(repo.path).start("hash-object", "-w", "--stdin", input=data)
    stored = repo.path / ".git" / "objects" / sha[:2] / sha[2:]
    deadline = time.monotonic() + 30
    while not stored.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stored.exists(), "git never got its input before wait()"
    assert running.wait().text == sha


def test_a_command_that_exits_without_reading_its_input_is_not_an_error(repo: GitRepo) -> None:
    running = Git(repo.path).start("rev-parse", "HEAD", input=b"unread\n" * 200_000)
    assert running.wait().text == repo.git("rev-parse", "HEAD")
