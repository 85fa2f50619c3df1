"""Where an automatic undo goes when branches are involved: back to where the
operation started (the branch the user was on, its commit before the merge),
never to a newer good state of another branch, and never taking the user's
untracked work with it (reports from a first-time user)."""

from __future__ import annotations

from tests.conftest import GitRepo
from tests.hooks.helpers import configure, git_proc, install_hooks, no_bad_gate


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
