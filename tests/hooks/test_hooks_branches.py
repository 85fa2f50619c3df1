"""Which good state an automatic restore goes back to when branches are involved:
the last good state of the branch the user is on (or came from), never the newer
good state of another branch (a report from a first-time user)."""

from __future__ import annotations

from tests.conftest import GitRepo
from tests.hooks.helpers import configure, git_proc, install_hooks, no_bad_gate


def test_bad_merge_on_main_restores_main_not_feature(repo: GitRepo) -> None:
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
    assert "restored the last good checkpoint" in proc.stderr, proc.stderr
    assert repo.git("symbolic-ref", "HEAD") == "refs/heads/main"
    assert repo.git("rev-parse", "HEAD") == main_good
    assert not (repo.path / "b.py").exists()
    assert repo.read("a.py") == b"x = 1\n"
    # Work made after the last good state rolls back with it, kept by `undo`.
    undo = repo.git("rev-parse", "refs/recovery/main/undo")
    assert repo.git("cat-file", "blob", f"{undo}:wip.txt") == "untracked work on main"
