"""Checkpoint capture: what goes in, what never does, and that nothing is touched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recovery.core.checkpoint import PatchNotApplied, create_checkpoint
from recovery.core.model import METADATA_MARKER
from recovery.core.refs import list_checkpoints
from recovery.core.repo import Repo
from tests.conftest import GitRepo, needs_root
from tests.core.helpers import (checkpoint_refs, disk_state, hand_to_nobody, nobody_ids, recover_as_nobody,
                                trace2_counts)


def test_captures_tracked_untracked_and_index_but_never_ignored(repo: GitRepo) -> None:
    repo.write(".gitignore", "*.log\nbuild/\n")
    repo.write("src/app.py", "print(1)\n")
    repo.commit_all("tracked")
    repo.write("src/app.py", "print(2)\n")  # unstaged edit
    repo.write("staged.txt", "staged\n")
    repo.git("add", "staged.txt")
    repo.write("notes/todo.md", "untracked\n")
    repo.write("debug.log", "ignored\n")
    repo.write("build/out.bin", b"\0ignored")

    cp = create_checkpoint(Repo.discover(repo.path), "manual")

    files = repo.git("ls-tree", "-r", "--name-only", cp.worktree_tree).splitlines()
    assert sorted(files) == [".gitignore", "README.md", "notes/todo.md", "src/app.py", "staged.txt"]
    assert repo.git("cat-file", "blob", f"{cp.worktree_tree}:src/app.py") == "print(2)"
    index_files = repo.git("ls-tree", "-r", "--name-only", cp.index_tree).splitlines()
    assert "staged.txt" in index_files and "notes/todo.md" not in index_files
    assert repo.git("cat-file", "blob", f"{cp.index_tree}:src/app.py") == "print(1)"
    assert cp.head == repo.git("rev-parse", "HEAD")
    assert cp.branch == "refs/heads/main"
    # stash-like shape: parents are HEAD and the index commit
    parents = repo.git("rev-list", "--parents", "-n1", cp.sha).split()[1:]
    assert parents == [cp.head, cp.index_commit]
    assert repo.git("rev-parse", f"{cp.index_commit}^{{tree}}") == cp.index_tree


def test_never_touches_real_index_or_worktree(repo: GitRepo) -> None:
    repo.write("a.txt", "one\n")
    repo.commit_all()
    repo.write("a.txt", "two\n")
    repo.write("new.txt", "new\n")
    status_before = repo.git("status", "--porcelain")  # refreshes the index: before the snapshot
    index_before = (repo.path / ".git" / "index").read_bytes()
    disk_before = disk_state(repo.path)
    mtimes = {p: (repo.path / p).stat().st_mtime_ns for p in disk_before}

    create_checkpoint(Repo.discover(repo.path), "manual")

    assert (repo.path / ".git" / "index").read_bytes() == index_before
    assert disk_state(repo.path) == disk_before
    assert {p: (repo.path / p).stat().st_mtime_ns for p in disk_before} == mtimes
    assert repo.git("-c", "core.fsmonitor=false", "status", "--porcelain") == status_before


def test_modes_symlinks_and_executables_recorded_as_git_does(repo: GitRepo) -> None:
    repo.write("run.sh", "#!/bin/sh\n", mode=0o755)
    os.symlink("README.md", repo.path / "link")
    repo.write("empty", b"")
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    entries = {line.split("\t")[1]: line.split()[0] for line in repo.git("ls-tree", "-r", cp.worktree_tree).splitlines()}
    assert entries == {"README.md": "100644", "run.sh": "100755", "link": "120000", "empty": "100644"}


def test_unborn_branch_and_detached_head(tmp_path) -> None:
    path = tmp_path / "fresh"
    path.mkdir()
    fresh = GitRepo(path)
    fresh.git("init", "-q", "-b", "trunk")
    fresh.write("first.txt", "first\n")
    cp = create_checkpoint(Repo.discover(path), "manual")
    assert cp.head is None and cp.branch == "refs/heads/trunk"
    assert fresh.git("ls-tree", "--name-only", cp.worktree_tree) == "first.txt"
    assert fresh.git("rev-list", "--parents", "-n1", cp.sha).split()[1:] == [cp.index_commit]

    fresh.commit_all("c1")
    fresh.git("checkout", "-q", "--detach")
    cp2 = create_checkpoint(Repo.discover(path), "manual")
    assert cp2.branch is None and cp2.head == fresh.git("rev-parse", "HEAD")


def test_metadata_round_trips_through_the_commit_message(repo: GitRepo) -> None:
    cp = create_checkpoint(Repo.discover(repo.path), "pre-commit", "my note")
    listed = list_checkpoints(Repo.discover(repo.path))
    assert [c.sha for c in listed] == [cp.sha]
    assert listed[0].message == "my note" and listed[0].reason == "pre-commit"
    assert listed[0].worktree_tree == cp.worktree_tree and listed[0].time == cp.time
    body = repo.git("log", "-1", "--format=%B", cp.sha)
    assert body.startswith("git-recover checkpoint: pre-commit on main")
    meta = json.loads(body.rsplit("git-recover-metadata: ", 1)[1])
    assert meta["index_tree"] == cp.index_tree


def test_ref_written_with_reflog(repo: GitRepo) -> None:
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    assert checkpoint_refs(repo) == [f"{cp.sha} {cp.ref}"]
    assert "recover: checkpoint (manual)" in repo.git("reflog", "show", cp.ref)


def test_size_cap_skips_loudly_and_records_it(repo: GitRepo) -> None:
    repo.git("config", "recover.maxUntrackedSize", "1k")
    repo.write("big.bin", b"x" * 4096)
    repo.write("small.txt", "small\n")
    proc = repo.recover("checkpoint")
    assert "big.bin" in proc.stderr and "recover.maxUntrackedSize" in proc.stderr
    cp = list_checkpoints(Repo.discover(repo.path))[0]
    assert [(s.path, s.reason, s.size_bytes) for s in cp.skipped] == [("big.bin", "size", 4096)]
    assert "big.bin" not in repo.git("ls-tree", "--name-only", cp.worktree_tree)
    repo.git("config", "recover.maxUntrackedSize", "1m")
    repo.recover("checkpoint")
    cp2 = list_checkpoints(Repo.discover(repo.path))[0]
    assert cp2.skipped == () and "big.bin" in repo.git("ls-tree", "--name-only", cp2.worktree_tree)


def test_bad_config_value_is_one_line_error_and_no_ref(repo: GitRepo) -> None:
    repo.git("config", "recover.maxUntrackedSize", "lots")
    proc = repo.recover("checkpoint", check=False)
    assert proc.returncode == 3
    assert proc.stderr.strip().splitlines() == ["git-recover: bad integer in git config recover.maxUntrackedSize='lots'"]
    assert checkpoint_refs(repo) == []


def test_same_size_edit_in_the_same_timestamp_tick_is_captured(repo: GitRepo) -> None:
    # Racy git (Documentation/technical/racy-git.txt): the edit keeps the size
    # and mtime the index recorded, and the index was written in that same tick;
    # only the index file's own mtime tells git to compare contents. Pinning
    # all three mtimes makes the race deterministic (shared case 04 hit it by chance).
    tick = 1_700_000_000_000_000_000
    repo.write("file.txt", "v1\n")
    os.utime(repo.path / "file.txt", ns=(tick, tick))
    repo.commit_all("v1")
    os.utime(repo.path / ".git/index", ns=(tick, tick))
    repo.write("file.txt", "v2\n")
    os.utime(repo.path / "file.txt", ns=(tick, tick))
    assert repo.git("diff", "--name-only") == "file.txt"  # git itself sees the edit
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    assert repo.git("cat-file", "blob", f"{cp.worktree_tree}:file.txt") == "v2"


@pytest.mark.parametrize("setting", [("core.checkStat", "minimal"), ("core.trustctime", "false")],
                         ids=["checkStat-minimal", "trustctime-false"])
def test_an_edit_only_ctime_tells_is_captured_whatever_the_users_stat_settings(repo: GitRepo,
                                                                              setting: tuple[str, str]) -> None:
    """A same-size edit that puts the mtime back changes only ctime (and the
    bytes). With either setting git ignores ctime, the capture took the file
    for unchanged, and a restore's safety checkpoint held the old bytes: the
    edit was gone after ``undo`` (hostile testing). Captures compare as git's
    defaults do, whatever the user set."""
    from tests.core.helpers import same_size_edit_keeping_mtime

    repo.write("f.txt", "AAAA\n")
    repo.commit_all("base")
    repo.git("config", *setting)
    time.sleep(1.1)  # out of the index's own timestamp tick: no racy-git rehash
    repo.git("status", "--porcelain")  # the index's stat data, fresh
    same_size_edit_keeping_mtime(repo.path / "f.txt", b"BBBB\n")
    assert repo.git("diff", "--name-only") == ""  # git itself misses the edit with this setting
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    assert repo.git("cat-file", "blob", f"{cp.worktree_tree}:f.txt") == "BBBB"


def test_foreign_ref_in_namespace_is_skipped_not_fatal(repo: GitRepo) -> None:
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    head = repo.git("rev-parse", "HEAD")
    repo.git("update-ref", f"refs/recovery/main/cp/{head}", head)  # a plain commit
    proc = repo.recover("list")
    assert cp.short in proc.stdout
    assert f"refs/recovery/main/cp/{head} is not a git-recover checkpoint" in proc.stderr


def test_metadata_that_is_not_object_ids_never_reaches_git(repo: GitRepo, tmp_path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    tree = repo.git("rev-parse", "HEAD^{tree}")
    meta = {"time": "2026-01-01T00:00:00+00:00", "reason": "x", "index_commit": repo.git("rev-parse", "HEAD"),
            "index_tree": tree, "worktree_tree": f"--output={victim}", "head": None, "branch": None}
    message = "evil\n\ngit-recover-metadata: " + json.dumps(meta) + "\n"
    sha = repo.git("commit-tree", tree, "-m", message)
    repo.git("update-ref", f"refs/recovery/main/cp/{sha}", sha)
    proc = repo.recover("restore", sha[:10], check=False)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr  # not a checkpoint: unknown id
    assert victim.read_text() == "keep me\n"


def test_conflicted_file_that_gitignore_matches_keeps_its_resolution(repo: GitRepo) -> None:
    repo.write("gen.lock", "base\n")
    repo.git("add", "-f", "gen.lock")
    repo.git("commit", "-q", "-m", "base")
    repo.git("checkout", "-q", "-b", "other")
    repo.write("gen.lock", "other\n")
    repo.git("commit", "-q", "-am", "other")
    repo.git("checkout", "-q", "main")
    repo.write("gen.lock", "main\n")
    repo.git("commit", "-q", "-am", "main")
    repo.write(".gitignore", "*.lock\n")
    repo.git("merge", "other", check=False)
    repo.write("gen.lock", "half-done resolution\n")
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    assert repo.git("cat-file", "blob", f"{cp.worktree_tree}:gen.lock") == "half-done resolution"


def test_dirty_submodule_does_not_block_checkpoints(repo: GitRepo) -> None:
    sub = GitRepo(repo.path / "sub")
    sub.path.mkdir()
    sub.git("init", "-q", "-b", "main")
    sub.write("s.txt", "s1\n")
    sub.commit_all("s1")
    repo.git("add", "sub")
    repo.git("commit", "-q", "-m", "add sub")
    sub.write("s.txt", "edited inside the submodule\n")
    repo.write("README.md", "top edit\n")
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    assert repo.git("cat-file", "blob", f"{cp.worktree_tree}:README.md") == "top edit"
    assert repo.git("rev-parse", f"{cp.worktree_tree}:sub") == sub.git("rev-parse", "HEAD")


def test_sparse_checkout_file_outside_the_cone_does_not_block(repo: GitRepo) -> None:
    repo.write("in/a.txt", "a\n")
    repo.write("out/b.txt", "b\n")
    repo.commit_all()
    repo.git("sparse-checkout", "set", "--cone", "in")
    repo.write("out/b.txt", "present anyway\n")
    repo.write("in/a.txt", "edited\n")
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    assert repo.git("cat-file", "blob", f"{cp.worktree_tree}:in/a.txt") == "edited"


@needs_root
def test_unreadable_untracked_directory_is_said_and_recorded(repo: GitRepo) -> None:
    repo.write("notes/todo.md", "readable\n")
    repo.write("secret/key.txt", "root only\n")
    hand_to_nobody(repo, ["secret"])
    proc = recover_as_nobody(repo, "checkpoint")
    assert proc.returncode == 0, proc.stderr
    assert "directory secret/ could not be read: what it holds was NOT captured" in proc.stderr
    cp = list_checkpoints(Repo.discover(repo.path))[0]
    assert ("secret", "unreadable") in [(s.path, s.reason) for s in cp.skipped]
    assert "notes/todo.md" in repo.git("ls-tree", "-r", "--name-only", cp.worktree_tree)


@needs_root
def test_unreadable_untracked_file_is_left_out_loudly_and_left_alone(repo: GitRepo) -> None:
    """One root-owned 0600 file (a container's leftover) failed every
    checkpoint of the worktree; it is left out, said, and no restore touches it."""
    repo.write("notes/todo.md", "readable\n")
    repo.write("db.sqlite", b"readable once\n")
    holds_it = create_checkpoint(Repo.discover(repo.path), "manual")
    repo.write("db.sqlite", b"root's bytes\0")
    hand_to_nobody(repo, ["db.sqlite"])
    proc = recover_as_nobody(repo, "checkpoint")
    assert proc.returncode == 0, proc.stderr
    assert "db.sqlite cannot be read by you and was NOT captured" in proc.stderr
    cp = list_checkpoints(Repo.discover(repo.path))[0]
    assert [(s.path, s.reason, s.size_bytes) for s in cp.skipped] == [("db.sqlite", "unreadable-file", 13)]
    assert cp.sha != holds_it.sha
    files = repo.git("ls-tree", "-r", "--name-only", cp.worktree_tree).splitlines()
    assert "notes/todo.md" in files and "db.sqlite" not in files

    (repo.path / "notes/todo.md").write_text("lost edit\n")
    restored = recover_as_nobody(repo, "restore", cp.short)
    assert restored.returncode == 0, restored.stderr
    assert (repo.path / "notes/todo.md").read_text() == "readable\n"
    assert (repo.path / "db.sqlite").read_bytes() == b"root's bytes\0"
    assert (repo.path / "db.sqlite").stat().st_uid == 0
    # A checkpoint from before, when the file was readable, holds other bytes
    # for it: nothing can bring the file back, so the restore refuses.
    refused = recover_as_nobody(repo, "restore", holds_it.short)
    assert refused.returncode != 0 and "db.sqlite; move them away" in refused.stderr
    assert "unreadable" in refused.stderr
    assert (repo.path / "db.sqlite").read_bytes() == b"root's bytes\0"
    # Handed back to its user and edited, the file is captured by the restore's
    # safety checkpoint; the checkpoint that skipped it still leaves it alone.
    os.chown(repo.path / "db.sqlite", *nobody_ids())
    (repo.path / "db.sqlite").write_bytes(b"readable again\n")
    again = recover_as_nobody(repo, "restore", cp.short)
    assert again.returncode == 0, again.stderr
    assert "db.sqlite not captured by checkpoint" in again.stderr
    assert (repo.path / "db.sqlite").read_bytes() == b"readable again\n"
    # Nor does verify call the intact checkpoint failed for a file it could not capture.
    verified = recover_as_nobody(repo, "verify", cp.short, "--worktree")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "db.sqlite is on disk, not in the checkpoint, which could not capture it: not compared" in verified.stdout


@needs_root
@pytest.mark.parametrize("fsmonitor", [False, True], ids=["full", "fsmonitor"])
def test_a_changed_tracked_file_its_user_cannot_read_is_left_out_and_left_alone(repo: GitRepo,
                                                                                fsmonitor: bool) -> None:
    """A tracked file changed by root (0600, a container's or `sudo`'s edit)
    made git stop at it, failing every checkpoint of the worktree: an agent's
    tool calls then went on with no checkpoint at all. It is left out, said,
    and no restore touches it; everything else is captured and restored."""
    repo.write("notes.txt", "notes v1\n")
    repo.write("secret.txt", "secret v1\n")
    repo.commit_all("base")
    if fsmonitor:  # the hook answers "everything may have changed"
        hook = repo.write(".git/hooks/everything", "#!/bin/sh\nprintf 'token\\0/\\0'\n", mode=0o755)
        repo.git("config", "core.fsmonitor", str(hook))
    holds_it = create_checkpoint(Repo.discover(repo.path), "manual")
    repo.write("notes.txt", "work in progress\n")
    repo.write("secret.txt", "root's edit\n")
    hand_to_nobody(repo, ["secret.txt"])
    trace = repo.path.parent / "trace.json"
    trace.touch()
    os.chown(trace, *nobody_ids())

    proc = recover_as_nobody(repo, "checkpoint", env={"GIT_TRACE2_EVENT": str(trace)})
    assert proc.returncode == 0, proc.stderr
    assert trace2_counts(trace).get("status processes", 0) == fsmonitor  # which path ran
    assert "secret.txt cannot be read by you and was NOT captured" in proc.stderr
    cp = list_checkpoints(Repo.discover(repo.path))[0]
    assert [(s.path, s.reason, s.size_bytes) for s in cp.skipped] == [("secret.txt", "unreadable-file", 12)]
    assert repo.git("ls-tree", "-r", "--name-only", cp.worktree_tree).splitlines() == ["README.md", "notes.txt"]
    assert repo.git("cat-file", "blob", f"{cp.worktree_tree}:notes.txt") == "work in progress"
    shown = recover_as_nobody(repo, "show", cp.short)
    assert "skipped:   secret.txt (unreadable-file, 12 bytes)" in shown.stdout
    assert "D secret.txt" not in shown.stdout  # left out, not deleted

    repo.write("notes.txt", "overwritten by an agent\n")
    restored = recover_as_nobody(repo, "restore", cp.short)
    assert restored.returncode == 0, restored.stderr
    assert repo.read("notes.txt") == b"work in progress\n"
    assert repo.read("secret.txt") == b"root's edit\n" and (repo.path / "secret.txt").stat().st_uid == 0
    # The checkpoint from before holds other bytes for it, and nothing holds
    # the bytes on disk: the restore refuses and changes nothing.
    refused = recover_as_nobody(repo, "restore", holds_it.short)
    assert refused.returncode != 0 and "secret.txt; move them away" in refused.stderr
    assert repo.read("secret.txt") == b"root's edit\n" and repo.read("notes.txt") == b"work in progress\n"


@needs_root
def test_a_newline_name_read_as_another_unreadable_path_fails_the_capture(repo: GitRepo) -> None:
    """git says "x<newline>d/f: Permission denied" on two lines; read as
    ``d/f``, which an unreadable untracked ``d`` made look unreadable too, the
    tracked ``x<newline>d/f`` kept its old content in a checkpoint that called
    itself complete (hostile testing). A path git names must be tracked."""
    repo.write("x\nd/f", "v1\n")
    repo.commit_all("base")
    repo.write("x\nd/f", "v2\n")
    repo.write("d/f", "untracked\n")
    hand_to_nobody(repo, ["x\nd", "d"])
    proc = recover_as_nobody(repo, "checkpoint")
    assert proc.returncode == 1, proc.stderr
    assert "cannot read tracked path(s) d/f" in proc.stderr and "none was written" in proc.stderr
    assert checkpoint_refs(repo) == []


def test_a_path_git_calls_unreadable_that_is_readable_fails_the_capture(repo: GitRepo) -> None:
    """A path parsed from git's lines that is not unreadable on disk (a name
    with a newline cut at it) must not let git's stale entry for the real name
    through: the capture fails loudly instead, and nothing is removed."""
    from recovery.base.errors import RecoverError
    from recovery.core.capture import _leave_out_unreadable

    r = Repo.discover(repo.path)
    index = repo.path / ".git" / "copy"
    index.write_bytes((repo.path / ".git" / "index").read_bytes())
    with pytest.raises(RecoverError, match="cannot read tracked path"):
        _leave_out_unreadable(r.git.with_index(index), repo.path, ["README.md"])
    assert "README.md" in r.git.with_index(index).text("ls-files")


@needs_root
@pytest.mark.parametrize("name", [os.fsdecode(b"db\xff.sqlite"), "two\nlines.db"], ids=["not-utf8", "newline"])
def test_verify_compares_raw_names_with_what_the_checkpoint_could_not_capture(repo: GitRepo, name: str) -> None:
    """git quotes such a name in its diff; matched quoted against the raw
    skipped path it never matched, and ``verify --worktree`` failed an intact
    checkpoint once the file was readable again (hostile testing)."""
    repo.write(name, "root's\n")
    hand_to_nobody(repo, [name])
    assert recover_as_nobody(repo, "checkpoint").returncode == 0
    cp = list_checkpoints(Repo.discover(repo.path))[0]
    assert [s.path for s in cp.skipped] == [name]
    os.chown(repo.path / name, *nobody_ids())
    verified = recover_as_nobody(repo, "verify", cp.short, "--worktree")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "is on disk, not in the checkpoint, which could not capture it: not compared" in verified.stdout


@needs_root
def test_a_skipped_file_made_readable_is_captured_before_the_next_tool_call(repo: GitRepo) -> None:
    """``chown`` changes no size, mtime or mode: the agent hook took the state
    for the one its last checkpoint holds (which had left the file out as
    unreadable), and an ``rm`` that followed deleted bytes no checkpoint held."""
    repo.write("notes.txt", "precious\n")
    hand_to_nobody(repo, ["notes.txt"])

    def tool_call(command: str) -> None:
        payload = {"hook_event_name": "PreToolUse", "session_id": "s1", "cwd": str(repo.path),
                   "tool_name": "Bash", "tool_input": {"command": command}}
        proc = recover_as_nobody(repo, "agent-hook", "PreToolUse", stdin=json.dumps(payload))
        assert proc.returncode == 0, proc.stderr

    tool_call("ls")
    first = list_checkpoints(Repo.discover(repo.path))
    assert [(s.path, s.reason) for s in first[0].skipped] == [("notes.txt", "unreadable-file")]
    os.chown(repo.path / "notes.txt", *nobody_ids())
    tool_call("rm notes.txt")
    newest = list_checkpoints(Repo.discover(repo.path))[0]
    assert newest.sha != first[0].sha
    assert repo.git("cat-file", "blob", f"{newest.worktree_tree}:notes.txt") == "precious"


@needs_root
def test_a_file_losing_its_read_permission_mid_capture_is_left_out_not_fatal(repo: GitRepo) -> None:
    """A file readable when the untracked files were classified and not when
    ``update-index`` opened it failed the whole checkpoint (12 of 40 in hostile
    testing); it is left out as unreadable and the rest captured. The test
    loops until a checkpoint ran ``update-index`` twice, the proof that the
    mode flipped in between (more ``update-index`` runs than capture attempts:
    the flips also change the file's ctime, which can make the capture retry)."""
    import threading

    repo.write("flip.txt", "flipping\n")
    hand_to_nobody(repo, ["flip.txt"])
    flip = repo.path / "flip.txt"
    stop = threading.Event()

    def flipper() -> None:
        while not stop.is_set():
            flip.chmod(0o600)
            flip.chmod(0o644)

    thread = threading.Thread(target=flipper, daemon=True)
    thread.start()
    raced = 0
    try:
        for i in range(200):
            repo.write("work.txt", f"{i}\n")
            os.chown(repo.path / "work.txt", *nobody_ids())
            trace = repo.path.parent / f"trace-{i}.json"
            trace.touch()
            os.chown(trace, *nobody_ids())
            proc = recover_as_nobody(repo, "checkpoint", env={"GIT_TRACE2_EVENT": str(trace)})
            assert proc.returncode == 0, proc.stderr
            cp = list_checkpoints(Repo.discover(repo.path))[0]
            assert repo.git("cat-file", "blob", f"{cp.worktree_tree}:work.txt") == str(i)
            held = "flip.txt" in repo.git("ls-tree", "--name-only", cp.worktree_tree).split()
            assert held != ([s.path for s in cp.skipped] == ["flip.txt"])
            assert held or "flip.txt cannot be read by you" in proc.stderr
            started = [e["argv"] for e in map(json.loads, trace.read_text().splitlines()) if e.get("event") == "start"]
            if sum("update-index" in argv for argv in started) > sum("add" in argv for argv in started):
                raced += 1
                if raced == 3:
                    break
    finally:
        stop.set()
        thread.join()
    assert raced, "the mode never flipped between classification and update-index: the test proved nothing"


@needs_root
def test_a_directory_losing_its_search_permission_mid_capture_is_left_out_not_fatal(repo: GitRepo) -> None:
    """A root-owned untracked directory flipping between 0700 and 0755 failed
    21 of 40 checkpoints (Python's lstat, then git's lstat, refused). Each
    checkpoint now holds the directory's files or records each one it left out."""
    import threading

    for i in range(20):
        repo.write(f"d/f{i}.txt", f"{i}\n")
    hand_to_nobody(repo, ["d"])
    for child in (repo.path / "d").iterdir():
        child.chmod(0o644)
    stop = threading.Event()

    def flipper() -> None:
        while not stop.is_set():
            (repo.path / "d").chmod(0o700)
            (repo.path / "d").chmod(0o755)

    thread = threading.Thread(target=flipper, daemon=True)
    thread.start()
    outcomes: set[str] = set()
    try:
        for i in range(150):
            if "some" in outcomes and i >= 20:
                break
            repo.write("work.txt", f"{i}\n")
            os.chown(repo.path / "work.txt", *nobody_ids())
            proc = recover_as_nobody(repo, "checkpoint")
            assert proc.returncode == 0, proc.stderr
            cp = list_checkpoints(Repo.discover(repo.path))[0]
            held = {p for p in repo.git("ls-tree", "-r", "--name-only", cp.worktree_tree).split() if p.startswith("d/")}
            skipped = {s.path for s in cp.skipped}
            assert skipped == {"d"} or held | skipped == {f"d/f{n}.txt" for n in range(20)}, (held, skipped)
            outcomes.add("dir" if skipped == {"d"} else "some" if skipped else "all")
    finally:
        stop.set()
        thread.join()
    assert "some" in outcomes, f"the mode never flipped between listing and hashing: {outcomes}"


def test_show_untracked_files_no_is_honoured_and_said(repo: GitRepo) -> None:
    repo.git("config", "status.showUntrackedFiles", "no")
    repo.write("README.md", "tracked edit\n")
    repo.write("huge-home/file.bin", b"untracked\n")
    proc = repo.recover("checkpoint")
    assert "status.showUntrackedFiles=no" in proc.stderr
    cp = list_checkpoints(Repo.discover(repo.path))[0]
    assert repo.git("ls-tree", "-r", "--name-only", cp.worktree_tree) == "README.md"
    assert repo.git("cat-file", "blob", f"{cp.worktree_tree}:README.md") == "tracked edit"


def test_foreign_ref_with_wrong_types_is_skipped(repo: GitRepo) -> None:
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    tree = repo.git("rev-parse", "HEAD^{tree}")
    meta = {"time": "2099-01-01T00:00:00+00:00", "reason": ["x"], "index_commit": repo.git("rev-parse", "HEAD"),
            "index_tree": tree, "worktree_tree": tree}
    sha = repo.git("commit-tree", tree, "-m", "odd\n\ngit-recover-metadata: " + json.dumps(meta))
    repo.git("update-ref", f"refs/recovery/main/cp/{sha}", sha)
    proc = repo.recover("show")
    assert cp.sha in proc.stdout and "reason is not a string" in proc.stderr


def test_a_stale_auto_merge_left_by_stash_apply_is_not_a_merge_in_progress(repo: GitRepo) -> None:
    repo.write("f.txt", "base\n")
    repo.commit_all("base")
    repo.write("f.txt", "stashed\n")
    repo.git("stash", "-q")
    repo.write("f.txt", "committed\n")
    repo.commit_all("diverge")
    subprocess.run(["git", "stash", "apply"], cwd=repo.path, capture_output=True)  # conflicts
    repo.git("checkout", "--theirs", "f.txt")
    repo.git("add", "f.txt")  # resolved: nothing is unmerged now
    assert (repo.path / ".git/AUTO_MERGE").exists()  # git 2.39 leaves it behind
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    assert cp.conflict_commit is None
    assert "operation in progress" not in repo.recover("show", cp.short).stdout


def test_a_checkpoint_taken_in_a_conflicted_rebase_says_so_and_the_restore_warns(repo: GitRepo) -> None:
    repo.write("f.txt", "base\n")
    repo.commit_all("base")
    repo.git("checkout", "-q", "-b", "topic")
    repo.write("f.txt", "topic\n")
    repo.commit_all("topic")
    repo.git("checkout", "-q", "main")
    repo.write("f.txt", "main\n")
    repo.commit_all("main")
    repo.git("checkout", "-q", "topic")
    assert subprocess.run(["git", "rebase", "main"], cwd=repo.path, capture_output=True).returncode != 0
    proc = repo.recover("checkpoint")
    assert "a rebase" in proc.stderr and "cannot be continued" in proc.stderr
    r = Repo.discover(repo.path)
    cp = list_checkpoints(r)[0]
    assert any("cannot be continued" in n for n in cp.notes)
    repo.git("rebase", "--abort")
    proc = repo.recover("restore", cp.short)
    assert "warning" in proc.stderr and "cannot be continued" in proc.stderr
    assert repo.git("ls-files", "-u") != ""  # the conflict stages are back


@needs_root
def test_a_full_disk_fails_loudly_without_naming_the_untouched_index(tmp_path) -> None:
    import re

    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        repo = GitRepo.init(mnt / "r")
        path = repo.path
        for i in range(100):
            repo.write(f"f{i}.txt", f"line {i}\n")
        repo.commit_all("base")
        repo.write("f1.txt", "edited\n")
        index_before = (path / ".git/index").read_bytes()
        disk_before = disk_state(path)
        with open(mnt / "filler", "wb") as filler:
            try:
                while True:
                    filler.write(b"\0" * 65536)
                    filler.flush()
            except OSError:
                pass
        for args in (("checkpoint",), ("restore", "--dry-run")):
            proc = repo.recover(*args, check=False)
            assert proc.returncode in (1, 3) and "Traceback" not in proc.stderr, proc.stderr
            # the user's index was only read: no message may point at it
            assert not re.search(r"\.git/index(?:$|[\s:;)])", proc.stderr, re.M), proc.stderr
        assert (path / ".git/index").read_bytes() == index_before
        assert disk_state(path) == disk_before
        assert checkpoint_refs(repo) == []
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_patch_that_cannot_be_applied_is_recorded_and_raised(repo: GitRepo, tmp_path: Path) -> None:
    """The unstaged work of a stash patch that cannot be applied is not in the
    checkpoint: the checkpoint says so in its notes, and the caller is told."""
    patch = tmp_path / "broken.patch"
    patch.write_text("diff --git a/README.md b/README.md\nindex 1234567..89abcde 100644\n--- a/README.md\n"
                     "+++ b/README.md\n@@ -1 +1 @@\n-not what is there\n+x\n")
    r = Repo.discover(repo.path)
    with pytest.raises(PatchNotApplied, match="NOT in this checkpoint") as raised:
        create_checkpoint(r, "pre-commit", patch=patch)
    (cp,) = list_checkpoints(r)
    assert cp.sha == raised.value.checkpoint.sha
    assert any(str(patch) in note and "NOT in this checkpoint" in note for note in cp.notes)


def test_a_file_written_while_git_hashes_it_is_named_as_racing(repo: GitRepo) -> None:
    # A clean filter runs while git reads the file, and this one writes to the
    # file it is reading: a writer racing the capture, every time, deterministically.
    repo.write(".gitattributes", "hot.txt filter=racer\n")
    repo.write("hot.txt", "v1\n")
    repo.write("calm.txt", "v1\n")
    repo.commit_all("base")
    repo.git("config", "filter.racer.clean", "sh -c 'cat; echo more >> \"$0\"' %f")
    repo.write("hot.txt", "v2\n")
    proc = repo.recover("checkpoint", "--json", check=False)
    assert proc.returncode == 0, proc.stderr
    assert "racing: hot.txt kept changing while being captured (5 attempts)" in proc.stderr
    assert "calm.txt" not in proc.stderr
    cp = json.loads(proc.stdout)
    assert any(note.startswith("racing: hot.txt") for note in cp["notes"])
    assert repo.git("cat-file", "blob", f"{cp['worktree_tree']}:calm.txt") == "v1"
    # The file really was written during each of the five attempts (and once
    # more each time the race check hashed it again, through the same filter).
    assert repo.read("hot.txt").count(b"more") >= 5


def test_a_same_size_rewrite_that_keeps_the_mtime_during_the_capture_is_named_as_racing(repo: GitRepo) -> None:
    # While `git add` or `update-index` reads it, the file is rewritten with
    # other bytes of the same size and its mtime put back (a writer outside
    # git-recover's own reads, so only those trigger it): git's own stat check, whole seconds
    # without nanosecond support, sees nothing, and the capture once recorded
    # bytes the file no longer had, in silence (hostile testing).
    flip = repo.path.parent / "flip.py"
    flips = repo.path.parent / "flips"
    flip.write_text(
        "import os, sys\n"
        "data = sys.stdin.buffer.read(); sys.stdout.buffer.write(data)\n"
        "def cmd(pid): return open(f'/proc/{pid}/cmdline', 'rb').read().split(b'\\0')\n"
        "def ppid(pid): return int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[1])\n"
        "up = ppid(os.getpid()); callers = cmd(up) + cmd(ppid(up))\n"
        "if {b'add', b'update-index'} & set(callers):\n"
        "    path = sys.argv[1]; st = os.stat(path)\n"
        "    with open(path, 'r+b') as f: f.write(data.swapcase())\n"
        "    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))\n"
        f"    open({str(flips)!r}, 'a').write('flip\\n')\n")
    repo.write(".gitattributes", "hot.txt filter=flip\n")
    repo.write("hot.txt", "abc\n")
    repo.write("calm.txt", "v1\n")
    repo.commit_all("base")
    repo.git("config", "filter.flip.clean", f"{sys.executable} {flip} %f")
    repo.write("hot.txt", "xyz\n")
    proc = repo.recover("checkpoint", "--json", check=False)
    assert proc.returncode == 0, proc.stderr
    cp = json.loads(proc.stdout)
    assert any(note.startswith("racing: hot.txt") for note in cp["notes"]), cp["notes"]
    assert "calm.txt" not in proc.stderr
    # The writer really ran, at least once in each of the five attempts (git
    # reads the file again when it writes an index in the file's timestamp
    # tick, so some attempts flip it twice): the bytes on disk agree.
    count = len(flips.read_text().splitlines())
    assert count >= 5
    assert repo.read("hot.txt") == (b"XYZ\n" if count % 2 else b"xyz\n")


def test_untouched_files_are_not_suspected_when_others_change(repo: GitRepo) -> None:
    repo.write("a.txt", "v1\n")
    repo.write("b.txt", "v1\n")
    repo.commit_all("base")
    repo.write("a.txt", "v2\n")  # changed before the capture began: not a race
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    assert repo.git("cat-file", "blob", f"{cp.worktree_tree}:a.txt") == "v2"
    assert repo.git("cat-file", "blob", f"{cp.worktree_tree}:b.txt") == "v1"


def test_a_large_file_rewritten_while_git_hashes_it_is_retried_as_a_race(repo: GitRepo, tmp_path: Path) -> None:
    """git hashes a large file through mmap twice and stops with "confused by
    unstable object source data" when it changed in between; that is a race
    (retried with backoff), never a raw git failure."""
    block = bytes(range(256)) * 8192  # 2 MiB
    repo.write("db.bin", block)
    repo.commit_all("base")
    writer = subprocess.Popen([sys.executable, "-c",
                               "import sys, time\nend = time.monotonic() + 20\ni = 0\n"
                               "with open(sys.argv[1], 'r+b', buffering=0) as f:\n"
                               "    while time.monotonic() < end:\n"
                               "        i += 1\n        f.seek(0)\n        f.write(bytes([i % 256]) * (2 << 20))\n",
                               str(repo.path / "db.bin")])
    trace = tmp_path / "trace.json"
    try:
        outcomes = [repo.recover("checkpoint", check=False, env={"GIT_TRACE2_EVENT": str(trace)})
                    for _ in range(6)]
    finally:
        writer.kill()
        writer.wait()
    assert "unstable object source data" in trace.read_text(), "git never met the race: the test proved nothing"
    for proc in outcomes:
        assert proc.returncode == 0 or "changed while being captured" in proc.stderr, proc.stderr
        assert "git add failed" not in proc.stderr and "Traceback" not in proc.stderr


def test_a_kept_capture_is_not_reused_after_a_same_second_rewrite_that_puts_the_mtime_back(repo: GitRepo) -> None:
    """The post-commit checkpoint is built from the pre-commit capture when no
    file changed since. A same-size rewrite that puts the mtime back, in the
    second the capture hashed the file, is invisible to git's stat check
    (whole seconds): the reuse once recorded the bytes from before it."""
    from recovery.core.checkpoint import from_last_capture

    repo.write("b.txt", "old\n")
    repo.commit_all("base")
    r = Repo.discover(repo.path)
    time.sleep(1 - time.time() % 1 + 0.01)  # the capture and the rewrite in one second
    repo.write("b.txt", "new\n")  # unstaged: the capture hashes it
    old = time.time() - 60  # not racily clean: git trusts the stat data
    os.utime(repo.path / "b.txt", (old, old))
    create_checkpoint(r, "pre-commit")
    before = (repo.path / "b.txt").stat()
    repo.write("b.txt", "NEW\n")
    os.utime(repo.path / "b.txt", ns=(before.st_atime_ns, before.st_mtime_ns))
    assert int(time.time()) == int(before.st_ctime_ns // 10**9), "the second ended: the test proved nothing"
    assert from_last_capture(r, "post-commit") is None
    cp = create_checkpoint(r, "post-commit")
    assert repo.git("cat-file", "blob", f"{cp.worktree_tree}:b.txt") == "NEW"


def test_a_file_truncated_and_rewritten_during_captures_is_never_held_torn_in_silence(repo: GitRepo) -> None:
    """A writer that truncates and rewrites a 2 MB file every millisecond: a
    checkpoint once held it empty (a moment's state, confirmed "unchanged"
    when it was empty again) with no note, and a git killed by SIGBUS left
    its lock behind for the next attempt ("remove the file manually")."""
    size = 2_000_000
    repo.write("big.bin", b"A" * size)
    repo.commit_all("base")
    writer = subprocess.Popen([sys.executable, "-c",
                               "import sys, time\nend = time.monotonic() + 20\ni = 0\n"
                               "while time.monotonic() < end:\n"
                               "    i += 1\n"
                               "    with open(sys.argv[1], 'wb') as f: f.write(bytes([65 + i % 26]) * 2000000)\n"
                               "    time.sleep(0.001)\n", str(repo.path / "big.bin")])
    try:
        outcomes = [repo.recover("checkpoint", "--json", check=False) for _ in range(5)]
    finally:
        writer.kill()
        writer.wait()
    for proc in outcomes:
        assert "Traceback" not in proc.stderr and "remove the file manually" not in proc.stderr, proc.stderr
        if proc.returncode != 0:
            assert "changed while being captured" in proc.stderr, proc.stderr
            continue
        cp = json.loads(proc.stdout)
        held = int(repo.git("cat-file", "-s", f"{cp['worktree_tree']}:big.bin"))
        named = any(note.startswith("racing: big.bin") for note in cp["notes"])
        assert named or held == size, (held, cp["notes"])
    assert any(p.returncode != 0 or json.loads(p.stdout)["notes"] for p in outcomes), \
        "the writer never raced a capture: the test proved nothing"


def test_metadata_without_a_field_is_named_in_words(repo: GitRepo) -> None:
    """A checkpoint commit whose metadata lacks a field is skipped with a line
    that names the field, not Python's KeyError text."""
    create_checkpoint(Repo.discover(repo.path), "manual")
    sha = repo.git("for-each-ref", "--format=%(objectname)", "refs/recovery/main/cp/")
    message = repo.git("cat-file", "commit", sha).split("\n\n", 1)[1]
    lines = message.splitlines()
    [at] = [i for i, line in enumerate(lines) if line.startswith(METADATA_MARKER)]
    data = json.loads(lines[at].removeprefix(METADATA_MARKER))
    del data["index_commit"]
    lines[at] = METADATA_MARKER + json.dumps(data)
    tree = repo.git("rev-parse", f"{sha}^{{tree}}")
    forged = subprocess.run(["git", "commit-tree", tree, "-p", "HEAD"], cwd=repo.path, input="\n".join(lines) + "\n",
                            capture_output=True, text=True, check=True).stdout.strip()
    repo.git("update-ref", f"refs/recovery/main/cp/{forged}", forged)
    proc = repo.recover("list")
    assert f"refs/recovery/main/cp/{forged} is not a git-recover checkpoint (its metadata lacks index_commit)" \
        in proc.stderr, proc.stderr
