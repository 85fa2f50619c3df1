"""Where an automatic undo goes when branches are involved: back to where the
operation started (the branch the user was on, its commit before the merge),
never to a newer good state of another branch, and never taking the user's
untracked work with it (reports from a first-time user)."""

from __future__ import annotations

from tests.conftest import GitRepo
from tests.hooks.helpers import configure, diverged_red_branch, git_proc, install_hooks, no_bad_gate


def test_bad_merge_on_main_undoes_the_merge_and_keeps_untracked_work(repo: GitRepo) -> None:
    repo.write("a.py", "x = 1\n")
    repo.commit_all("a")
    configure(repo, no_bad_gate(stages=["pre-commit", "post-commit", "post-merge"]))
    install_hooks(repo)
    repo.git("commit", "-q", "--allow-empty", "-m", "good on main")  # post-commit marks main good
    main_good = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("b.py", "y = 2\n")
    repo.commit_all("good on feature")  # marks feature good: the newest good overall
    repo.write("a.py", "x = 1  # BAD\n")
    repo.git("commit", "-q", "--no-verify", "-am", "bad on feature")
    repo.git("checkout", "-q", "main")
    repo.write("wip.txt", "untracked work on main\n")
    proc = git_proc(repo, "merge", "-q", "--no-ff", "-m", "merge feature", "feature")
    assert proc.returncode == 0, proc.stderr
    assert "undid the merge" in proc.stderr, proc.stderr
    assert repo.git("symbolic-ref", "HEAD") == "refs/heads/main"
    assert repo.git("rev-parse", "HEAD") == main_good
    assert not (repo.path / "b.py").exists()
    assert repo.read("a.py") == b"x = 1\n"
    # The untracked work made after the last good state stays on disk (it was
    # removed by a restore of `good` once), and `undo` holds the merge.
    assert repo.read("wip.txt") == b"untracked work on main\n"
    undo = repo.git("rev-parse", "refs/recovery/main/undo")
    assert repo.git("cat-file", "blob", f"{undo}:b.py") == "y = 2"
    assert repo.git("status", "--porcelain") == "?? wip.txt"


def test_undo_after_an_undone_merge_is_the_merge_commit_not_a_half_merge(repo: GitRepo) -> None:
    """git writes MERGE_HEAD, MERGE_MSG and MERGE_MODE before the merge commit and
    removes them after post-merge: the checkpoint of the merge's result must not
    record them, or `git recover undo` leaves a concluded merge "in progress"."""
    diverged_red_branch(repo, "feature", ["pre-commit", "post-merge"])
    install_hooks(repo)
    repo.write("wip.txt", "untracked work\n")
    proc = git_proc(repo, "merge", "-q", "--no-edit", "feature")
    assert "undid the merge" in proc.stderr, proc.stderr
    merge_commit = repo.git("rev-parse", "refs/recovery/main/undo^1")  # the safety checkpoint's HEAD
    assert repo.git("rev-parse", f"{merge_commit}^2") == repo.git("rev-parse", "feature")

    undo = repo.recover("undo")
    assert undo.returncode == 0, undo.stderr
    # Where the merge left the user: on main at the merge commit, merge concluded.
    assert repo.git("symbolic-ref", "HEAD") == "refs/heads/main"
    assert repo.git("rev-parse", "HEAD") == merge_commit
    for name in ("MERGE_HEAD", "MERGE_MSG", "MERGE_MODE", "AUTO_MERGE"):
        assert not (repo.path / ".git" / name).exists(), name
    assert repo.git("status", "--porcelain") == "?? wip.txt"
    assert repo.read("a.py") == b"x = 1  # BAD\n"
    assert repo.read("wip.txt") == b"untracked work\n"
    # git agrees that no merge is in progress: `merge --abort` has nothing to abort.
    assert git_proc(repo, "merge", "--abort").returncode != 0
    assert git_proc(repo, "commit", "-q", "--no-verify", "--allow-empty", "-m", "next").returncode == 0
