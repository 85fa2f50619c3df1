"""Hostile setups found by testing: untrusted repositories, hooks renamed by
other managers, husky, and a removed git-recover package."""

from __future__ import annotations

import os
import subprocess

from tests.conftest import GitRepo
from tests.hooks.helpers import configure, git_proc, install_hooks, no_bad_gate


def test_gates_of_an_untrusted_repository_never_run(repo: GitRepo, tmp_path) -> None:
    marker = tmp_path / "ran"
    configure(repo, f'[gates.evil]\ncommand = ["touch", "{marker}"]\nstages = ["pre-commit"]\n')
    install_hooks(repo)
    repo.git("config", "--unset", "recover.trusted")  # as a fresh clone under a shared core.hooksPath
    repo.write("f.txt", "x\n")
    repo.git("add", "f.txt")
    proc = git_proc(repo, "commit", "-q", "-m", "c")
    assert proc.returncode == 0
    assert not marker.exists()
    assert "is not trusted yet" in proc.stderr
    repo.git("config", "recover.trusted", "true")
    repo.write("f.txt", "y\n")
    git_proc(repo, "commit", "-qam", "c2")
    assert marker.exists()


def test_foreign_hook_still_runs_when_another_manager_renames_ours(repo: GitRepo, tmp_path) -> None:
    ran = tmp_path / "foreign-ran"
    hooks = repo.path / ".git/hooks"
    (hooks / "pre-commit").write_text(f"#!/bin/sh\necho ran >> {ran}\n")
    (hooks / "pre-commit").chmod(0o755)
    install_hooks(repo)
    # pre-commit's `install` keeps an existing hook as <hook>.legacy and calls it
    (hooks / "pre-commit").rename(hooks / "pre-commit.legacy")
    (hooks / "pre-commit").write_text(f'#!/bin/sh\nexec "{hooks}/pre-commit.legacy" "$@"\n')
    (hooks / "pre-commit").chmod(0o755)
    repo.write("f.txt", "x\n")
    repo.git("add", "f.txt")
    assert git_proc(repo, "commit", "-q", "-m", "c").returncode == 0
    assert ran.read_text() == "ran\n"


def test_install_refuses_a_husky_hooks_directory(repo: GitRepo) -> None:
    husky = repo.path / ".husky/_"
    husky.mkdir(parents=True)
    (husky / "h").write_text("#!/bin/sh\n")
    repo.git("config", "core.hooksPath", ".husky/_")
    proc = repo.recover("install", check=False)
    assert proc.returncode == 1 and "managed by husky" in proc.stderr
    assert sorted(p.name for p in husky.iterdir()) == ["h"]


def test_removed_package_never_blocks_commits(repo: GitRepo, tmp_path) -> None:
    repo.write("a.py", "x = 1\n")
    configure(repo, no_bad_gate())
    install_hooks(repo)
    hook = repo.path / ".git/hooks/pre-commit"
    text = hook.read_text()
    start = text.index("GIT_RECOVER_PACKAGE=") + len("GIT_RECOVER_PACKAGE=")
    end = text.index("\n", start)
    hook.write_text(text[:start] + str(tmp_path / "uninstalled") + text[end:])  # as after pip uninstall
    repo.write("f.txt", "x\n")
    repo.git("add", "f.txt")
    env = {**os.environ, "PATH": "/usr/bin:/bin"}  # and no git-recover on PATH either
    proc = subprocess.run(["git", "commit", "-q", "-m", "c"], cwd=repo.path, capture_output=True,
                          text=True, env=env)
    assert "not installed" in proc.stderr
    assert proc.returncode == 0


def test_run_refuses_what_its_checkpoint_cannot_protect(repo: GitRepo, tmp_path) -> None:
    other = GitRepo(tmp_path / "other")
    other.path.mkdir()
    other.git("init", "-q", "-b", "main")
    other.write("f.txt", "committed\n")
    other.commit_all()
    other.write("f.txt", "uncommitted work in the other repo\n")
    repo.write(".gitignore", ".env\n")
    repo.write(".env", "SECRET=1\n")
    repo.git("config", "alias.cl", "clean -fdx")
    repo.git("config", "alias.sh", "!git clean -fdx")
    nested = GitRepo(repo.path / "vendored")
    nested.path.mkdir()
    nested.git("init", "-q", "-b", "main")
    nested.write("work.c", "uncommitted\n")
    for args in (["-C", str(other.path), "reset", "--hard"], ["clean", "-fdx"], ["clean", "-f", "-X"],
                 ["stash", "drop"], ["cl"], ["sh"], ["clean", "-ffd"], ["worktree", "remove", "--force", "x"]):
        proc = repo.recover("run", "--", *args, check=False)
        assert proc.returncode == 3, args
        assert proc.stderr.strip().splitlines()[-1].startswith("git-recover: ") and "Traceback" not in proc.stderr
    assert other.read("f.txt") == b"uncommitted work in the other repo\n"
    assert repo.read(".env") == b"SECRET=1\n"
    assert nested.read("work.c") == b"uncommitted\n"
    repo.write("scratch.txt", "untracked, captured\n")
    (repo.path / "vendored").rename(repo.path.parent / "vendored-away")
    proc = repo.recover("run", "--", "clean", "-fd", check=False)  # all of it is in the checkpoint
    assert proc.returncode == 0, proc.stderr
    assert not (repo.path / "scratch.txt").exists() and repo.read(".env") == b"SECRET=1\n"


def test_a_commit_is_not_good_while_a_required_gate_has_not_run_on_it(repo: GitRepo) -> None:
    repo.write("a.py", "x = 1\n")
    repo.commit_all("a")
    configure(repo, no_bad_gate(stages=["post-merge"]))
    install_hooks(repo)
    repo.git("commit", "-q", "--allow-empty", "-m", "no gate ran on this")
    assert repo.git("for-each-ref", "refs/recovery/main/good") == ""


def test_bisect_checkouts_are_not_validated(repo: GitRepo) -> None:
    repo.write("a.py", "x = 1\n")
    repo.commit_all("good")
    configure(repo, no_bad_gate(stages=["post-checkout"]))
    install_hooks(repo)
    repo.write("a.py", "x = 1  # BAD\n")
    repo.git("commit", "-q", "--no-verify", "-am", "bad")
    proc = git_proc(repo, "bisect", "start", "HEAD", "HEAD~2")
    assert proc.returncode == 0, proc.stderr
    assert "restored" not in proc.stderr
    assert (repo.path / ".git/BISECT_LOG").exists()


def test_a_stale_pre_commit_patch_from_a_reused_pid_is_ignored(tmp_path, monkeypatch) -> None:
    from recovery.hooks.dispatch import _process_start_time, _stash_patch

    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path))
    patch = tmp_path / f"patch1700000000-{os.getppid()}"
    patch.write_text("GHOST LINE\n")
    started = _process_start_time(os.getppid())
    assert started is not None
    os.utime(patch, (started - 3600, started - 3600))  # written by an earlier process with this pid
    assert _stash_patch() is None
    os.utime(patch, None)  # written now, by our parent
    assert _stash_patch() == patch


def test_git_recover_run_never_runs_the_gates_of_an_untrusted_repository(repo: GitRepo, tmp_path) -> None:
    marker = tmp_path / "ran"
    configure(repo, f'[gates.evil]\ncommand = ["touch", "{marker}"]\nstages = ["run"]\n')
    # a fresh clone: nobody ran `git recover install`, so recover.trusted is unset
    # (`reset -q` changes nothing here; read-only commands such as `status` are never gated at all)
    proc = repo.recover("run", "--", "reset", "-q", check=False)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()
    assert "is not trusted yet" in proc.stderr
    # `gates run` names the gates, so it runs them, and says the repository is not trusted
    proc = repo.recover("gates", "run", check=False)
    assert marker.exists()
    assert "is not trusted" in proc.stderr
    marker.unlink()
    repo.git("config", "recover.trusted", "true")
    repo.write("new.txt", "a state the gate has not passed on yet\n")
    assert repo.recover("run", "--", "reset", "-q", check=False).returncode == 0
    assert marker.exists()


def test_run_refuses_deleting_the_only_ref_that_reaches_commits(repo: GitRepo) -> None:
    repo.write("a.txt", "a\n")
    repo.commit_all("base")
    repo.git("checkout", "-q", "-b", "lonely")
    repo.write("lonely.txt", "only on this branch\n")
    lonely = repo.commit_all("lonely")
    repo.git("checkout", "-q", "main")
    repo.git("branch", "merged", "main")
    for args in (["branch", "-D", "lonely"], ["branch", "-d", "--force", "lonely"], ["branch", "-df", "lonely"]):
        proc = repo.recover("run", "--", *args, check=False)
        assert proc.returncode == 3, (args, proc.stderr)
        assert "lonely" in proc.stderr and "Traceback" not in proc.stderr
    assert repo.git("rev-parse", "lonely") == lonely
    repo.git("tag", "-a", "-m", "t", "only-tag", lonely)
    # the tag alone still reaches the commit, so deleting the branch is safe; then the tag is not
    assert repo.recover("run", "--", "branch", "-D", "lonely", check=False).returncode == 0
    proc = repo.recover("run", "--", "tag", "-d", "only-tag", check=False)
    assert proc.returncode == 3 and "only-tag" in proc.stderr
    assert repo.git("cat-file", "-t", lonely) == "commit"
    assert repo.git("rev-parse", "only-tag^{commit}") == lonely
    # a branch whose commits main reaches goes, as without git recover run
    assert repo.recover("run", "--", "branch", "-D", "merged", check=False).returncode == 0
    assert repo.git("branch", "--list", "merged") == ""


def test_clean_of_an_untracked_symlink_to_the_root_neither_walks_nor_crashes(repo: GitRepo) -> None:
    os.symlink("/", repo.path / "root-link")
    os.symlink("/etc", repo.path / "etc-link")
    repo.write("scratch.txt", "untracked\n")
    proc = repo.recover("run", "--", "clean", "-f", "-d", check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "ValueError" not in proc.stderr
    assert not os.path.lexists(repo.path / "root-link") and not os.path.lexists(repo.path / "etc-link")
    assert os.path.isdir("/etc")
