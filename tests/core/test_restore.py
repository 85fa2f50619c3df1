"""Restore: byte-identical results, the safety checkpoint, HEAD and branch,
path limits, refusals before any change, and the integrity check."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from recovery.core.checkpoint import create_checkpoint
from recovery.base.errors import RecoverError
from recovery.core.integrity import IntegrityError
from recovery.core.refs import get_label, list_checkpoints, resolve
from recovery.core.repo import Repo
from recovery.core.restore import restore, undo
from tests.conftest import GitRepo, needs_root
from tests.core.helpers import (checkpoint_refs, disk_state, give_to_root, hand_to_nobody, nobody_ids, porcelain,
                                recover_as_nobody, same_size_edit_keeping_mtime)


def _setup(repo: GitRepo) -> None:
    repo.write(".gitignore", "*.log\n")
    repo.write("src/a.py", "a = 1\n")
    repo.write("bin/run", "#!/bin/sh\n", mode=0o755)
    os.symlink("src/a.py", repo.path / "alias")
    repo.commit_all("base")
    repo.write("src/a.py", "a = 2  # unstaged\n")
    repo.write("staged.txt", "staged\n")
    repo.git("add", "staged.txt")
    repo.write("wip/notes.md", "untracked work\n")
    repo.write("keep.log", "ignored and precious\n")


def test_round_trip_restores_bytes_modes_index_and_status(repo: GitRepo) -> None:
    _setup(repo)
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    disk_before, status_before = disk_state(repo.path), porcelain(repo)

    repo.write("src/a.py", "broken\n")
    (repo.path / "bin/run").chmod(0o644)
    (repo.path / "wip/notes.md").unlink()
    os.unlink(repo.path / "alias")
    repo.write("stray.txt", "created after the checkpoint\n")
    repo.git("add", "-A")
    mutated = disk_state(repo.path)

    result = restore(r, cp)

    assert disk_state(repo.path) == disk_before
    assert porcelain(repo) == status_before
    assert repo.read("keep.log") == b"ignored and precious\n"
    # the safety checkpoint holds the mutated state, byte for byte
    assert result.safety is not None and get_label(r, "undo").sha == result.safety.sha
    assert repo.git("cat-file", "blob", f"{result.safety.worktree_tree}:stray.txt") == "created after the checkpoint"
    assert "M src/a.py" in result.changed_paths and "D stray.txt" in result.changed_paths
    undo(r)
    assert disk_state(repo.path) == mutated


def test_a_restore_compares_its_two_trees_once(repo: GitRepo, tmp_path: Path) -> None:
    """The preflight, the list of changes and the integrity check all need the
    difference between the state replaced and the target: one ``diff-tree`` of
    that pair (at 80k files a process and a pass over both trees each), and a
    round trip that still restores every byte."""
    _setup(repo)
    cp = repo.recover("checkpoint").stdout.split()[1]
    disk_before = disk_state(repo.path)
    repo.write("src/a.py", "broken\n")
    (repo.path / "wip/notes.md").unlink()
    repo.write("stray.txt", "created after the checkpoint\n")
    trace = tmp_path / "trace.json"
    repo.recover("restore", cp, env={"GIT_TRACE2_EVENT": str(trace)})
    pairs = [tuple(event["argv"][-2:]) for event in map(json.loads, trace.read_text().splitlines())
             if event["event"] == "start" and "diff-tree" in event["argv"]]
    assert pairs and len(pairs) == len(set(pairs)), pairs
    assert disk_state(repo.path) == disk_before


def test_current_branch_is_moved_back_and_kept_attached(repo: GitRepo) -> None:
    r = Repo.discover(repo.path)
    base = repo.git("rev-parse", "HEAD")
    cp = create_checkpoint(r, "manual")
    repo.write("later.txt", "later\n")
    later = repo.commit_all("later")
    result = restore(r, cp)
    assert repo.git("rev-parse", "main") == base
    assert repo.git("symbolic-ref", "HEAD") == "refs/heads/main"
    assert not (repo.path / "later.txt").exists()
    assert "recover: restore" in repo.git("reflog", "show", "main")
    # the rewound commit is the first parent of the safety checkpoint
    assert repo.git("rev-parse", f"{result.safety.sha}^1") == later


def test_another_branch_that_moved_is_left_alone_and_head_detached(repo: GitRepo) -> None:
    r = Repo.discover(repo.path)
    base = repo.git("rev-parse", "HEAD")
    cp = create_checkpoint(r, "manual")
    repo.write("later.txt", "later\n")
    later = repo.commit_all("later on main")
    repo.git("checkout", "-q", "-b", "other")
    restore(r, cp)
    assert repo.git("rev-parse", "main") == later  # not rewound: nothing else holds it
    assert repo.git("symbolic-ref", "-q", "HEAD", check=False) == ""
    assert repo.git("rev-parse", "HEAD") == base


def test_another_branch_that_did_not_move_is_checked_out(repo: GitRepo) -> None:
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.git("checkout", "-q", "-b", "other")
    repo.write("o.txt", "o\n")
    repo.commit_all("on other")
    restore(r, cp)
    assert repo.git("symbolic-ref", "HEAD") == "refs/heads/main"
    assert repo.git("rev-parse", "other") != cp.head  # other keeps its commit


def test_branch_checked_out_in_another_worktree_is_not_taken(repo: GitRepo, tmp_path) -> None:
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.git("checkout", "-q", "-b", "side")
    repo.git("worktree", "add", "-q", str(tmp_path / "wt2"), "main")
    restore(r, cp)
    assert repo.git("symbolic-ref", "-q", "HEAD", check=False) == ""
    assert GitRepo(tmp_path / "wt2").git("symbolic-ref", "HEAD") == "refs/heads/main"


def test_refuses_to_replace_a_nested_repository(repo: GitRepo) -> None:
    repo.write("vendor", "a file once\n")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    (repo.path / "vendor").unlink()
    nested = GitRepo(repo.path / "vendor")
    nested.path.mkdir()
    nested.git("init", "-q", "-b", "main")
    nested.write("lib.c", "int x;\n")
    nested.commit_all("nested work")
    nested.write("notes.txt", "untracked in the nested repo\n")
    for dry in (True, False):
        with pytest.raises(RecoverError, match="nested repositories"):
            restore(r, cp, dry_run=dry)
    assert nested.read("notes.txt") == b"untracked in the nested repo\n"
    assert nested.git("log", "--format=%s") == "nested work"


@pytest.mark.parametrize(("damage", "said"), [("deleted", "missing"), ("truncated", "corrupt"),
                                              ("another object's", "corrupt")])
def test_refuses_before_any_change_when_an_object_is_damaged(repo: GitRepo, damage: str, said: str) -> None:
    """A loose object of the target deleted, cut short, or holding another
    object's bytes, is refused by the check before the switch, not found by git
    half-way through it (``read-tree`` then stops with the worktree
    half-switched) or by the integrity check after every file was switched."""
    repo.write("a.txt", "precious\n")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    blob = repo.git("hash-object", "a.txt")
    (repo.path / "a.txt").unlink()
    loose = repo.path / ".git/objects" / blob[:2] / blob[2:]
    loose.chmod(0o644)
    other = repo.git("rev-parse", "HEAD:README.md")
    if damage == "deleted":
        loose.unlink()
    else:
        loose.write_bytes(loose.read_bytes()[:5] if damage == "truncated"
                          else (repo.path / ".git/objects" / other[:2] / other[2:]).read_bytes())
    repo.write("b.txt", "current work\n")
    with pytest.raises(RecoverError, match=f"object\\(s\\) {blob} {said}"):
        restore(r, cp)
    assert repo.read("b.txt") == b"current work\n"
    assert not (repo.path / ".git/recovery/restore-intent.json").exists()


@pytest.mark.parametrize("damage", ["truncated", "another object's"])
def test_refuses_when_the_safety_checkpoint_would_hold_a_damaged_object(repo: GitRepo, damage: str) -> None:
    """git does not write an object it already has: a damaged copy of the
    current file's content in the object store would stand in the safety
    checkpoint for the file the restore overwrites, and `undo` could not bring
    it back. The restore refuses, nothing changes, no checkpoint is written."""
    repo.write("f.txt", "base\n")
    repo.write("other.txt", "other\n")
    repo.commit_all("base")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.write("f.txt", "precious work\n")
    blob = repo.git("hash-object", "-w", "f.txt")
    loose = repo.path / ".git/objects" / blob[:2] / blob[2:]
    loose.chmod(0o644)
    other = repo.git("rev-parse", "HEAD:other.txt")
    loose.write_bytes(loose.read_bytes()[:12] if damage == "truncated"
                      else (repo.path / ".git/objects" / other[:2] / other[2:]).read_bytes())
    before = set(checkpoint_refs(repo))
    with pytest.raises(RecoverError, match=f"damaged copy of what the restore would replace: {blob[:10]} \\(f.txt\\)"):
        restore(r, cp)
    assert repo.read("f.txt") == b"precious work\n"
    assert set(checkpoint_refs(repo)) == before
    assert not (repo.path / ".git/recovery/restore-intent.json").exists()


@pytest.mark.parametrize("case", ["target subtree, path-limited", "target subtree", "current subtree"])
def test_a_tree_holding_another_trees_bytes_is_refused_before_any_change(repo: GitRepo, case: str) -> None:
    """git reads a tree object without checking it against its name: one whose
    file holds another tree's bytes made a path-limited restore write the wrong
    files and call them byte-identical to a plan built from them. Every tree
    either side of the switch is re-hashed first: nothing changes, no ref."""
    repo.write("d/x.txt", "x\n")
    repo.write("d/y.txt", "y\n")
    r = Repo.discover(repo.path)
    if case == "current subtree":
        repo.commit_all("d")
        cp = create_checkpoint(r, "manual")
        repo.write("d/x.txt", "current work\n")
        damaged = repo.git("rev-parse", "HEAD:d")  # the safety capture's index tree holds it
    else:
        cp = create_checkpoint(r, "manual")
        damaged = repo.git("rev-parse", f"{cp.worktree_tree}:d")
        for name in ("x.txt", "y.txt"):
            (repo.path / "d" / name).unlink()
        repo.write("README.md", "current work\n")
    loose = repo.path / ".git/objects" / damaged[:2] / damaged[2:]
    loose.chmod(0o644)
    # Another tree that does not contain this one (a tree inside itself makes git recurse until it crashes).
    other = (repo.git("hash-object", "-t", "tree", "-w", "/dev/null") if case == "current subtree"
             else repo.git("rev-parse", "HEAD^{tree}"))
    loose.write_bytes((repo.path / ".git/objects" / other[:2] / other[2:]).read_bytes())
    disk, refs = disk_state(repo.path), set(checkpoint_refs(repo))
    with pytest.raises(RecoverError, match=f"{damaged[:10]}"):
        restore(r, cp, paths=("d",) if case.endswith("path-limited") else ())
    assert disk_state(repo.path) == disk
    assert set(checkpoint_refs(repo)) == refs
    assert not (repo.path / ".git/recovery/restore-intent.json").exists()


def test_detached_checkpoint_restores_detached(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "--detach")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.git("checkout", "-q", "main")
    repo.write("x.txt", "x\n")
    repo.commit_all("x")
    restore(r, cp)
    assert repo.git("symbolic-ref", "-q", "HEAD", check=False) == ""
    assert repo.git("rev-parse", "HEAD") == cp.head
    assert repo.git("rev-parse", "main") != cp.head  # main itself was not touched


def test_unborn_branch_checkpoint(tmp_path) -> None:
    path = tmp_path / "fresh"
    path.mkdir()
    fresh = GitRepo(path)
    fresh.git("init", "-q", "-b", "main")
    fresh.write("draft.md", "draft\n")
    r = Repo.discover(path)
    cp = create_checkpoint(r, "manual")
    first = fresh.commit_all("first")
    fresh.write("draft.md", "changed\n")
    result = restore(r, cp)
    # main has a commit now: it is never deleted; HEAD stays there, the files come back
    assert fresh.git("rev-parse", "-q", "--verify", "main", check=False) == first
    assert fresh.git("symbolic-ref", "HEAD") == "refs/heads/main"
    assert fresh.read("draft.md") == b"draft\n"
    assert fresh.git("ls-files") == ""  # the index as checkpointed: nothing staged
    assert result.safety is not None
    fresh.git("gc", "-q", "--prune=now")
    assert fresh.git("cat-file", "-t", first) == "commit"
    undo(r)
    assert fresh.read("draft.md") == b"changed\n"
    assert fresh.git("ls-files") == "draft.md"


def test_path_limited_restore_touches_only_those_paths(repo: GitRepo) -> None:
    repo.write("a.txt", "a1\n")
    repo.write("dir/b.txt", "b1\n")
    repo.commit_all()
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.write("a.txt", "a2\n")
    repo.write("dir/b.txt", "b2\n")
    repo.write("dir/c.txt", "c new\n")
    head = repo.git("rev-parse", "HEAD")
    result = restore(r, cp, ["dir"])
    assert repo.read("a.txt") == b"a2\n"
    assert repo.read("dir/b.txt") == b"b1\n"
    assert not (repo.path / "dir/c.txt").exists()
    assert repo.git("rev-parse", "HEAD") == head
    assert sorted(result.changed_paths) == ["D dir/c.txt", "M dir/b.txt"]


def test_dry_run_changes_nothing(repo: GitRepo) -> None:
    repo.write("a.txt", "a1\n")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.write("a.txt", "a2\n")
    before, refs_before = disk_state(repo.path), checkpoint_refs(repo)
    result = restore(r, cp, dry_run=True)
    assert result.dry_run and result.changed_paths == ("M a.txt",)
    assert disk_state(repo.path) == before and checkpoint_refs(repo) == refs_before


def test_refuses_before_any_change_when_untracked_file_in_the_way(repo: GitRepo) -> None:
    repo.write(".gitignore", "*.log\n")
    repo.commit_all()
    repo.write("out.txt", "captured\n")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    (repo.path / "out.txt").unlink()
    repo.write(".gitignore", "*.log\nout.txt\n")
    repo.write("out.txt", "now ignored and precious\n")
    with pytest.raises(RecoverError):
        restore(r, cp)
    assert repo.read("out.txt") == b"now ignored and precious\n"
    # the restore stopped before the worktree changed; it says how to go on
    assert not (repo.path / ".git/index.lock").exists()


@pytest.mark.parametrize("busy", ["rebase-merge", "rebase-apply", "sequencer"])
def test_refuses_mid_rebase(repo: GitRepo, busy: str) -> None:
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.write("README.md", "edited\n")
    (repo.path / ".git" / busy).mkdir()
    with pytest.raises(RecoverError, match="in progress"):
        restore(r, cp)
    assert repo.read("README.md") == b"edited\n"
    assert len(checkpoint_refs(repo)) == 1  # not even a safety checkpoint


def test_refuses_while_git_holds_index_lock(repo: GitRepo) -> None:
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.write("README.md", "edited\n")
    (repo.path / ".git/index.lock").write_bytes(b"")
    with pytest.raises(RecoverError, match="index.lock"):
        restore(r, cp)
    assert repo.read("README.md") == b"edited\n"


def _restore_while(repo: GitRepo, monkeypatch: pytest.MonkeyPatch, interfere: Callable[[], object]) -> None:
    """Restore a checkpoint of ``f.txt`` = ``one`` over ``two``, running
    ``interfere`` right after the restore's last write, before its check."""
    import recovery.core.restore as restore_module

    real = restore_module._write_state_files

    def write_then_interfere(r: Repo, conflict_tree: str | None) -> None:
        real(r, conflict_tree)
        interfere()

    r = Repo.discover(repo.path)
    repo.write("f.txt", "one\n")
    cp = create_checkpoint(r, "manual")
    repo.write("f.txt", "two\n")
    monkeypatch.setattr(restore_module, "_write_state_files", write_then_interfere)
    restore(r, cp)


def test_integrity_check_catches_a_worktree_that_does_not_match(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    # An editor writing into the tree while the restore runs: the check must
    # see the difference and say which path, not pass.
    with pytest.raises(IntegrityError, match="worktree: M f.txt"):
        _restore_while(repo, monkeypatch, lambda: repo.write("f.txt", "written by someone else\n"))


def test_undo_twice_is_a_toggle(repo: GitRepo) -> None:
    r = Repo.discover(repo.path)
    repo.write("f.txt", "one\n")
    cp = create_checkpoint(r, "manual")
    repo.write("f.txt", "two\n")
    restore(r, cp)
    undo(r)
    assert repo.read("f.txt") == b"two\n"
    undo(r)
    assert repo.read("f.txt") == b"one\n"


def test_names_resolve(repo: GitRepo) -> None:
    r = Repo.discover(repo.path)
    first = create_checkpoint(r, "manual")
    repo.write("f.txt", "x\n")
    second = create_checkpoint(r, "manual")
    assert resolve(r, "last").sha == second.sha
    assert (first.number, second.number) == (1, 2)
    assert resolve(r, "2").sha == second.sha == resolve(r, "@{0}").sha == resolve(r, "#2").sha
    assert resolve(r, "1").sha == first.sha == resolve(r, "@{1}").sha
    assert resolve(r, first.short).sha == first.sha
    assert resolve(r, first.sha).sha == first.sha
    assert resolve(r, first.sha[:6]).sha == first.sha
    with pytest.raises(RecoverError, match=r"position @\{5\}"):
        resolve(r, "@{5}")
    with pytest.raises(RecoverError, match="no checkpoint #5"):
        resolve(r, "5")
    with pytest.raises(RecoverError, match="no good checkpoint yet"):
        resolve(r, "good")
    assert [c.sha for c in list_checkpoints(r)] == [second.sha, first.sha]


@needs_root
def test_restore_gives_back_access_to_an_unreadable_module(repo: GitRepo) -> None:
    # git records only the exec bit, so the tree of a mode-000 file equals the
    # good one; the restore must still leave it usable. The module belongs to
    # an unprivileged user who then reads it (root would read it anyway).
    import pwd
    import subprocess

    nobody = pwd.getpwnam("nobody")
    repo.write("modules/core.md", "# core\n")
    repo.commit_all()
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    for p in (repo.path / "modules", repo.path / "modules/core.md"):
        os.chown(p, nobody.pw_uid, nobody.pw_gid)
    for p in list(repo.path.parents)[:-1][::-1] + [repo.path]:
        if p.stat().st_mode & 0o005 != 0o005:
            p.chmod(p.stat().st_mode | 0o005)
    (repo.path / "modules/core.md").chmod(0o000)
    (repo.path / "modules").chmod(0o000)
    as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "cat",
                 str(repo.path / "modules/core.md")]
    assert subprocess.run(as_nobody, capture_output=True).returncode != 0
    result = restore(r, cp)
    assert result.changed_paths == ()
    read = subprocess.run(as_nobody, capture_output=True)
    assert read.returncode == 0 and read.stdout == b"# core\n"
    # Said, not done behind the user's back: no content changed, so no change line names it.
    assert set(result.access_given) == {("modules", 0), ("modules/core.md", 0)}
    assert "  owner access given back: modules (was 000), modules/core.md (was 000)" in result.lines()


def test_owner_access_repair_follows_no_symbolic_link_out_of_the_worktree(tmp_path: Path) -> None:
    # The walk found `v` and `v/keep` at mode 000; before the repair, another
    # program swapped `v` for a link to a directory outside the worktree.
    import recovery.core.restore as restore_module

    outside = tmp_path / "outside"
    outside.mkdir(mode=0o700)
    (outside / "keep").write_text("secret\n")
    (outside / "keep").chmod(0o600)
    outside.chmod(0o700)
    top = tmp_path / "worktree"
    top.mkdir()
    (top / "v").symlink_to(outside)
    (top / "f").write_text("x\n")
    (top / "f").chmod(0o000)

    given = restore_module._repair_owner_access(top, [("v", 0), ("v/keep", 0), ("f", 0)])

    assert given == ["v", "v/keep", "f"]  # all re-checked by the integrity check
    assert stat.S_IMODE(outside.stat().st_mode) == 0o700
    assert stat.S_IMODE((outside / "keep").stat().st_mode) == 0o600
    assert stat.S_IMODE((top / "f").stat().st_mode) & 0o600 == 0o600  # the real one was repaired


def test_integrity_check_names_a_file_its_owner_cannot_read(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    import recovery.core.restore as restore_module

    repo.write("m.md", "x\n")
    repo.commit_all()
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    (repo.path / "m.md").chmod(0o000)
    # As when the file is another user's and the restore does not run as root.
    monkeypatch.setattr(restore_module, "_repair_owner_access", lambda top, problems: [p for p, _ in problems])
    with pytest.raises(IntegrityError, match="permissions: m.md has mode 0"):
        restore(r, cp)


def test_path_restore_from_a_mid_merge_checkpoint_keeps_the_file_tracked(tmp_path) -> None:
    from tests.core.test_cases import build_case

    repo = build_case("05-merge-conflict-in-progress.sh", tmp_path / "c5")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.git("merge", "--abort")
    restore(r, cp, ["conflict.txt"])
    assert b"<<<<<<<" in repo.read("conflict.txt")
    assert repo.git("status", "--porcelain") == " M conflict.txt"


def test_last_is_not_a_restore_safety_checkpoint(repo: GitRepo) -> None:
    r = Repo.discover(repo.path)
    repo.write("f.txt", "one\n")
    cp = create_checkpoint(r, "manual")
    repo.write("f.txt", "two\n")
    restore(r, cp)
    assert resolve(r, "last").sha == cp.sha
    repo.write("f.txt", "three\n")
    restore(r, resolve(r, "last"))
    assert repo.read("f.txt") == b"one\n"


def test_good_is_the_last_good_checkpoint_of_the_current_branch(repo: GitRepo) -> None:
    from recovery.core.refs import set_label

    r = Repo.discover(repo.path)
    on_main = create_checkpoint(r, "manual")
    set_label(r, "good", on_main)
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("f.txt", "feature work\n")
    on_feature = create_checkpoint(r, "manual")
    set_label(r, "good", on_feature)
    assert resolve(r, "good").sha == on_feature.sha
    repo.git("checkout", "-q", "main")
    assert resolve(r, "good").sha == on_main.sha  # not the newer good state of feature


def test_commit_made_while_the_restore_runs_is_never_dropped(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    import recovery.core.restore as restore_module

    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.write("f.txt", "later\n")
    repo.commit_all("later")
    real = restore_module._switch_worktree_and_index

    def switch_then_user_commits(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = real(*args, **kwargs)
        repo.git("commit", "-q", "--allow-empty", "-m", "made during the restore")
        return result

    monkeypatch.setattr(restore_module, "_switch_worktree_and_index", switch_then_user_commits)
    with pytest.raises(RecoverError, match="moved while the restore ran"):
        restore(r, cp)
    assert repo.git("log", "-1", "--format=%s", "main") == "made during the restore"
    monkeypatch.undo()
    restore_module.continue_restore(r)  # finishes, with that commit in its safety checkpoint
    assert repo.git("rev-parse", "main") == cp.head
    kept = get_label(r, "undo")
    assert kept is not None and kept.reason == "restore-continue"
    assert repo.git("log", "-1", "--format=%s", kept.head) == "made during the restore"
    undo(r)  # and the commit is back on main
    assert repo.git("log", "-1", "--format=%s", "main") == "made during the restore"


def test_file_saved_during_the_restore_leaves_no_interrupted_restore(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    import recovery.core.restore as restore_module

    r = Repo.discover(repo.path)
    repo.write("f.txt", "one\n")
    cp = create_checkpoint(r, "manual")
    repo.write("f.txt", "two\n")
    real = restore_module._preflight

    def editor_saves(*args, **kwargs):  # type: ignore[no-untyped-def]
        real(*args, **kwargs)
        repo.write("f.txt", "three, saved by an editor\n")

    monkeypatch.setattr(restore_module, "_preflight", editor_saves)
    with pytest.raises(RecoverError, match="nothing was changed"):
        restore(r, cp)
    assert repo.read("f.txt") == b"three, saved by an editor\n"
    assert not (repo.path / ".git/recovery/restore-intent.json").exists()
    monkeypatch.undo()
    restore(r, cp)  # and the next restore just works
    assert repo.read("f.txt") == b"one\n"


def test_missing_staged_blob_is_refused_before_any_change(repo: GitRepo) -> None:
    r = Repo.discover(repo.path)
    repo.write("a.txt", "staged content\n")
    repo.git("add", "a.txt")
    repo.write("a.txt", "unstaged content\n")
    cp = create_checkpoint(r, "manual")
    staged = repo.git("rev-parse", ":a.txt")
    repo.git("reset", "-q")
    (repo.path / ".git/objects" / staged[:2] / staged[2:]).unlink()
    with pytest.raises(RecoverError, match="missing"):
        restore(r, cp, dry_run=True)
    with pytest.raises(RecoverError, match="missing"):
        restore(r, cp)
    assert repo.read("a.txt") == b"unstaged content\n"


def test_sparse_checkout_restore_keeps_a_file_outside_the_cone(repo: GitRepo) -> None:
    repo.write("in/a.txt", "a\n")
    repo.write("out/f.txt", "f\n")
    repo.write("out/g.txt", "g\n")
    repo.commit_all()
    repo.git("sparse-checkout", "set", "--cone", "in")
    repo.write("out/f.txt", "edited outside the cone\n")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.write("in/a.txt", "changed\n")
    restore(r, cp)
    assert repo.read("out/f.txt") == b"edited outside the cone\n"
    assert repo.read("in/a.txt") == b"a\n"
    assert not (repo.path / "out/g.txt").exists()  # still sparse
    undo(r)
    assert repo.read("in/a.txt") == b"changed\n" and repo.read("out/f.txt") == b"edited outside the cone\n"


def _skip_worktree(repo: GitRepo) -> set[str]:
    return {line[2:] for line in repo.git("ls-files", "-t").splitlines() if line.startswith("S ")}


def test_sparse_checkout_restore_keeps_the_cone_and_the_skip_worktree_bits(repo: GitRepo) -> None:
    """Paths outside the cone that the restore changes or adds stay off the disk
    with their skip-worktree bit, as `git checkout` keeps them; the index holds
    the checkpoint's content for them."""
    for d in ("in", "out", "out/deep"):
        repo.write(f"{d}/f.txt", f"{d} v1\n")
    repo.commit_all("v1")
    repo.git("sparse-checkout", "set", "--cone", "in")
    r = Repo.discover(repo.path)
    sparse_before = _skip_worktree(repo)
    assert sparse_before == {"out/f.txt", "out/deep/f.txt"}
    # A commit that changes and adds files outside the cone, as a merge of a
    # teammate's work brings them: git keeps them off the disk.
    tmp_index = repo.path / ".git/other-index"
    env = {**os.environ, "GIT_INDEX_FILE": str(tmp_index)}
    import subprocess
    subprocess.run(["git", "read-tree", "HEAD"], cwd=repo.path, env=env, check=True)
    for rel, text in (("out/f.txt", "out v2\n"), ("out/new.txt", "added\n"), ("in/g.txt", "in added\n")):
        blob = repo.git("hash-object", "-w", "--stdin", input=text.encode())
        subprocess.run(["git", "update-index", "--add", "--cacheinfo", f"100644,{blob},{rel}"], cwd=repo.path,
                       env=env, check=True)
    tree = subprocess.run(["git", "write-tree"], cwd=repo.path, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()
    tip = repo.git("commit-tree", tree, "-p", "HEAD", "-m", "teammate")
    v1 = create_checkpoint(r, "manual")
    repo.git("merge", "-q", "--ff-only", tip)
    assert not (repo.path / "out").exists() and repo.read("in/g.txt") == b"in added\n"
    v2 = create_checkpoint(r, "manual")

    restore(r, v1)
    assert not (repo.path / "out").exists()
    assert _skip_worktree(repo) == sparse_before
    assert repo.git("show", ":out/f.txt") == "out v1"
    assert not (repo.path / "in/g.txt").exists()
    assert repo.git("status", "--porcelain") == ""

    restore(r, v2)
    assert not (repo.path / "out").exists()  # a path added outside the cone is not written
    assert _skip_worktree(repo) == sparse_before | {"out/new.txt"}
    assert repo.git("show", ":out/new.txt") == "added" and repo.git("show", ":out/f.txt") == "out v2"
    assert repo.read("in/g.txt") == b"in added\n"  # inside the cone: written
    assert repo.git("status", "--porcelain") == ""


def test_skip_worktree_file_with_a_hidden_local_edit_is_not_overwritten(repo: GitRepo) -> None:
    """`update-index --skip-worktree` hides a local edit from git; a restore that
    changes that path must not overwrite the edit no checkpoint holds."""
    repo.write("config.ini", "shared v1\n")
    repo.commit_all("v1")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.write("config.ini", "shared v2\n")
    repo.commit_all("v2")
    repo.git("update-index", "--skip-worktree", "config.ini")
    repo.write("config.ini", "my local secret settings\n")
    restore(r, cp)
    assert repo.read("config.ini") == b"my local secret settings\n"
    assert _skip_worktree(repo) == {"config.ini"}
    assert repo.git("show", ":config.ini") == "shared v1"


def test_a_restore_that_changes_nothing_keeps_undo(repo: GitRepo) -> None:
    r = Repo.discover(repo.path)
    repo.write("f.txt", "one\n")
    cp = create_checkpoint(r, "manual")
    repo.write("f.txt", "two\n")
    restore(r, cp)
    restore(r, resolve(r, "last"))  # the same checkpoint again: nothing to change
    undo(r)
    assert repo.read("f.txt") == b"two\n"


def test_a_foreign_head_lock_is_named_not_mistaken_for_a_moved_branch(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    import recovery.core.restore as restore_module

    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.write("later.txt", "later\n")
    repo.commit_all("later")
    (repo.path / ".git/HEAD.lock").write_text("")
    with pytest.raises(RecoverError, match="HEAD.lock exists"):
        restore(r, cp)  # refused before anything changes
    (repo.path / ".git/HEAD.lock").unlink()
    real = restore_module._move_head

    def lock_appears(repo_: Repo, *args, **kwargs):  # type: ignore[no-untyped-def]
        (repo.path / ".git/HEAD.lock").write_text("")
        return real(repo_, *args, **kwargs)

    monkeypatch.setattr(restore_module, "_move_head", lock_appears)
    with pytest.raises(RecoverError, match="could not move HEAD"):
        restore(r, cp)


def test_a_file_behind_an_untracked_symlink_leading_outside_is_not_in_the_way(repo: GitRepo, tmp_path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "cfg.txt").write_text("outside the worktree\n")
    repo.write("lib/cfg.txt", "tracked\n")
    repo.commit_all("lib")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.git("rm", "-q", "-r", "lib")
    repo.git("commit", "-q", "-m", "drop lib")
    os.symlink(outside, repo.path / "lib")  # untracked: the checkpoint taken by the restore holds the link
    restore(r, cp)
    assert repo.read("lib/cfg.txt") == b"tracked\n" and not (repo.path / "lib").is_symlink()
    assert (outside / "cfg.txt").read_text() == "outside the worktree\n"
    undo(r)
    assert (repo.path / "lib").is_symlink() and os.readlink(repo.path / "lib") == str(outside)


def test_a_large_restore_prints_a_summary_not_a_line_per_file(repo: GitRepo) -> None:
    from recovery.base.output import SUMMARY_LINES

    for i in range(120):
        repo.write(f"many/f{i:03}.txt", "v1\n")
    repo.commit_all("many")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    for i in range(100):
        repo.write(f"many/f{i:03}.txt", "v2\n")
    for i in range(100, 120):
        (repo.path / f"many/f{i:03}.txt").unlink()
    out = repo.recover("restore", cp.short).stdout.splitlines()
    assert len(out) <= SUMMARY_LINES + 4, len(out)
    assert out[-3] == f"  ... and {120 - SUMMARY_LINES} more"
    assert out[-2].endswith("OK, byte-identical")
    assert repo.read("many/f119.txt") == b"v1\n"


def test_paths_are_printed_quoted_as_git_quotes_them(repo: GitRepo) -> None:
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.write("new\nline.txt", "x\n")
    repo.write("tab\there.txt", "x\n")
    (repo.path / b"bad-\xff-utf8.txt".decode("utf-8", "surrogateescape")).write_bytes(b"x\n")
    out = repo.recover("restore", cp.short).stdout
    assert '  D "new\\nline.txt"' in out.splitlines()
    assert '  D "tab\\there.txt"' in out.splitlines()
    assert '  D "bad-\\377-utf8.txt"' in out.splitlines()
    assert "\udcff" not in out


def test_commit_during_the_switch_is_refused_by_the_index_lock(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `git commit -a` started while the restore writes files must not commit a
    half-switched tree: the restore holds index.lock from the first file written
    until the new index is in place, as `git checkout` does."""
    import subprocess

    import recovery.core.restore as restore_module

    for i in range(5):
        repo.write(f"f{i}.txt", f"old {i}\n")
    repo.commit_all("old")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    for i in range(5):
        repo.write(f"f{i}.txt", f"new {i}\n")
    repo.commit_all("new")
    head_before = repo.git("rev-parse", "HEAD")
    attempts: list[subprocess.CompletedProcess[str]] = []
    real_replace = restore_module._replace_special_files

    def commit_mid_switch(*args: object) -> list[bytes]:
        # The worktree already holds the checkpoint's files; the index does not yet.
        assert repo.read("f0.txt") == b"old 0\n"
        attempts.append(subprocess.run(["git", "commit", "-a", "-q", "-m", "mixed"], cwd=repo.path,
                                       capture_output=True, text=True))
        return real_replace(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(restore_module, "_replace_special_files", commit_mid_switch)
    restore(r, cp)

    assert len(attempts) == 1
    assert attempts[0].returncode == 128 and "index.lock" in attempts[0].stderr
    assert not (repo.path / ".git/index.lock").exists()
    assert repo.read("f0.txt") == b"old 0\n"
    # No commit was made at all, let alone one of a mixed tree.
    assert "mixed" not in repo.git("log", "--all", "--format=%s")
    assert "mixed" not in repo.git("reflog", "show", "--format=%gs", "main")
    assert repo.git("rev-parse", "HEAD") == cp.head != head_before


def _before_the_switch_locks(monkeypatch: pytest.MonkeyPatch, act: Callable[[], object]) -> None:
    """Run ``act`` just before a restore takes ``index.lock`` for its switch,
    after its safety checkpoint and preflight."""
    import recovery.core.restore as restore_module

    real_lock = restore_module._lock_index

    def act_then_lock(r: Repo) -> Path:
        act()
        return real_lock(r)

    monkeypatch.setattr(restore_module, "_lock_index", act_then_lock)


@pytest.mark.parametrize("undo_before", [False, True], ids=["no-undo-yet", "undo-set"])
def test_restore_refuses_when_index_lock_appears_before_the_switch(repo: GitRepo, monkeypatch: pytest.MonkeyPatch,
                                                                  undo_before: bool) -> None:
    """Another git process taking index.lock after the preflight: nothing
    changes, ``undo`` included (it keeps the state before the last restore
    that changed something)."""
    repo.write("README.md", "changed\n")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.write("README.md", "later\n")
    if undo_before:
        restore(r, cp)
        repo.write("README.md", "later\n")  # the restore's own safety checkpoint holds this state
        repo.write("other.txt", "new since\n")
    undo_ref = repo.git("rev-parse", "-q", "--verify", "refs/recovery/main/undo", check=False)
    _before_the_switch_locks(monkeypatch, lambda: (repo.path / ".git/index.lock").write_bytes(b""))
    with pytest.raises(RecoverError, match="index.lock exists.*nothing was changed"):
        restore(r, cp)
    assert repo.read("README.md") == b"later\n"
    assert (repo.path / ".git/index.lock").exists()  # theirs, untouched
    assert not (repo.path / ".git/recovery/restore-intent.json").exists()
    assert repo.git("rev-parse", "-q", "--verify", "refs/recovery/main/undo", check=False) == undo_ref


def test_integrity_check_rereads_every_file_the_switch_wrote(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    # core.trustctime=false and an edit that keeps size, inode and mtime: the
    # stat data of a file the switch wrote then says "unchanged", so only
    # reading the file back can tell; the check must read it.
    def interfere() -> None:
        mtime = (repo.path / "f.txt").stat().st_mtime_ns
        same_size_edit_keeping_mtime(repo.path / "f.txt", b"ONE\n")
        # Not "racily clean" either (racy-git.txt): the index the check reads
        # is newer than the file, so its stat data is trusted where not cleared.
        for switched in (repo.path / ".git/recovery/tmp").glob("restore-*/switched-index"):
            os.utime(switched, ns=(mtime + 10**10, mtime + 10**10))

    repo.git("config", "core.trustctime", "false")
    with pytest.raises(IntegrityError, match="worktree: M f.txt"):
        _restore_while(repo, monkeypatch, interfere)
    assert repo.read("f.txt") == b"ONE\n"


def test_integrity_check_sees_a_same_size_edit_with_the_old_mtime_on_a_file_not_written(
        repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    repo.write("calm.txt", "calm\n")  # in the checkpoint and unchanged: the switch does not write it
    with pytest.raises(IntegrityError, match="worktree: M calm.txt"):
        _restore_while(repo, monkeypatch, lambda: same_size_edit_keeping_mtime(repo.path / "calm.txt", b"CALM\n"))


def test_a_same_second_same_size_rewrite_after_the_safety_capture_is_neither_called_identical_nor_lost(
        repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file the switch does not write, rewritten at its size within the
    second of its last write, while git writes the switched index: its stat
    data still matches in whole seconds (git's granularity; ctime too), and the
    index lands in the next second, where git trusts it (not "racily clean").
    The check must compare its content, and the next checkpoint must hold the
    new bytes."""
    import recovery.core.restore as restore_module

    calm = repo.path / "calm.txt"
    seconds: list[tuple[int, int]] = []

    def written_next_second(index: Path) -> None:
        """``index`` as git would have finished writing it after the second turned."""
        turn = (calm.stat().st_ctime_ns // 10**9 + 1) * 10**9
        while time.time_ns() < turn + 10**7:
            time.sleep(0.01)
        os.utime(index, ns=(time.time_ns(), time.time_ns()))

    def stage_after_interference(r: Repo, git: Any, plan: Any, sparse: bool) -> None:
        before = calm.stat().st_ctime_ns
        same_size_edit_keeping_mtime(calm, b"CALM\n")
        seconds.append((before // 10**9, calm.stat().st_ctime_ns // 10**9))
        written_next_second(Path(git.env["GIT_INDEX_FILE"]))  # the switched index, staged next
        real_stage(r, git, plan, sparse)

    def ready_before_interference(*args: Any) -> Any:
        switched = real_ready(*args)
        if switched.clearing is not None:
            switched.clearing.wait()  # git's last write of it precedes the edit
        return switched

    def check_after_interference(r: Repo, plan: Any, now: Any, switched: Any, *args: Any, **kwargs: Any) -> Any:
        written_next_second(switched.path)
        return real_check(r, plan, now, switched, *args, **kwargs)

    real_stage, real_check = restore_module._stage_index_tree, restore_module.check_switch
    real_ready = restore_module.ready_switched_index
    repo.write("calm.txt", "calm\n")
    repo.commit_all("calm")
    r = Repo.discover(repo.path)
    for _ in range(5):
        seconds.clear()
        while time.time() % 1 > 0.2:  # what follows up to the edit fits in one second
            time.sleep(0.01)
        # Tracked and the same in the checkpoint: the switch does not write it,
        # and the indexes keep the stat data recorded now.
        repo.write("calm.txt", "calm\n")
        repo.git("add", "calm.txt")
        repo.write("f.txt", "one\n")
        cp = create_checkpoint(r, "manual")
        repo.write("f.txt", "two\n")
        with monkeypatch.context() as patched:
            patched.setattr(restore_module, "_stage_index_tree", stage_after_interference)
            patched.setattr(restore_module, "check_switch", check_after_interference)
            patched.setattr(restore_module, "ready_switched_index", ready_before_interference)
            with pytest.raises(IntegrityError, match="worktree: M calm.txt"):
                restore(r, cp)
        if seconds[0][0] == seconds[0][1]:
            break  # the rewrite kept the ctime second: the case under test happened
    else:
        pytest.fail(f"the rewrite never fell in the second of the file's last write: {seconds}")
    after = create_checkpoint(r, "manual")
    assert repo.git("cat-file", "blob", f"{after.sha}:calm.txt") == "CALM"


def test_a_file_the_switch_would_replace_rewritten_after_the_safety_capture_with_its_old_mtime_is_not_overwritten(
        repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rewritten at its size after the safety capture read it, its mtime set
    back (``cp -p``, ``touch -r``): within the same second git's stat data
    still matches, and ``read-tree`` overwrote bytes no checkpoint held
    (hostile testing). The change time tells; the restore refuses."""
    repo.write("F", "CCCC\n")
    repo.commit_all("c")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.write("F", "AAAA\n")
    repo.commit_all("a")
    _before_the_switch_locks(monkeypatch, lambda: same_size_edit_keeping_mtime(repo.path / "F", b"BBBB\n"))
    with pytest.raises(RecoverError, match="F changed after the safety checkpoint read them.*nothing was changed"):
        restore(r, cp)
    assert repo.read("F") == b"BBBB\n"
    assert not (repo.path / ".git/index.lock").exists()
    assert not (repo.path / ".git/recovery/restore-intent.json").exists()


def test_git_refusing_to_lose_an_untracked_file_created_during_the_restore_changes_nothing(
        repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file created in a directory the switch turns back into a file, after
    the safety capture: git refuses before writing anything ("would lose
    untracked files"), and the restore must say nothing changed, not leave an
    interrupted restore whose --continue deletes that file (hostile testing)."""
    repo.write("d", "a file\n")
    repo.commit_all("file")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    (repo.path / "d").unlink()
    repo.write("d/f1", "1\n")
    repo.commit_all("dir")
    _before_the_switch_locks(monkeypatch, lambda: repo.write("d/new.txt", "created during the restore\n"))
    with pytest.raises(RecoverError, match="nothing was changed: run the restore again"):
        restore(r, cp)
    assert repo.read("d/new.txt") == b"created during the restore\n"
    assert not (repo.path / ".git/recovery/restore-intent.json").exists()


def test_integrity_check_sees_a_file_that_appeared_during_the_restore(
        repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(IntegrityError, match="worktree: A new/extra.txt"):
        _restore_while(repo, monkeypatch, lambda: repo.write("new/extra.txt", "appeared\n"))


@pytest.mark.parametrize("paths", [(), ("big.bin",)], ids=["whole", "path-limited"])
def test_a_file_the_checkpoint_left_out_is_left_as_it_is(repo: GitRepo, paths: tuple[str, ...]) -> None:
    """A checkpoint that skipped a file (over the size cap here; unreadable
    files and nested repositories alike) does not say the file was absent: once
    a later capture holds it, a restore of that checkpoint deleted it and
    called the result byte-identical."""
    repo.git("config", "recover.maxUntrackedSize", "1k")
    repo.write("big.bin", b"x" * 2048)
    repo.write("README.md", "checkpointed\n")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    assert [(s.path, s.reason) for s in cp.skipped] == [("big.bin", "size")]
    repo.git("config", "recover.maxUntrackedSize", "1m")  # the safety capture now holds it
    repo.write("big.bin", b"y" * 2048)
    repo.write("README.md", "later\n")

    result = restore(r, cp, paths)
    assert repo.read("big.bin") == b"y" * 2048
    assert repo.read("README.md") == (b"checkpointed\n" if not paths else b"later\n")
    assert not [line for line in result.changed_paths if "big.bin" in line]
    # Left alone, so not compared with anything the checkpoint saw: said, never "byte-identical".
    assert result.limits == (f"big.bin: left as they were (checkpoint {cp.short} did not capture them)",)
    assert result.verdict != "byte-identical"


@needs_root
def test_a_directory_the_user_cannot_open_in_the_way_is_refused_before_any_change(repo: GitRepo) -> None:
    """A root-owned directory (mode 0700) where the checkpoint has a file
    counted as empty: git stopped half-way ("cannot opendir") and left an
    interrupted restore that --continue could not finish either."""
    repo.write("ud2", "a file once\n")
    repo.write("work.txt", "v1\n")
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    (repo.path / "ud2").unlink()
    repo.write("ud2/root-only.txt", "root's\n")
    repo.write("work.txt", "v2\n")
    hand_to_nobody(repo, ["ud2"])
    proc = recover_as_nobody(repo, "restore", cp.short)
    assert proc.returncode == 1
    assert "would overwrite file(s) that no checkpoint holds" in proc.stderr and "ud2" in proc.stderr
    assert repo.read("work.txt") == b"v2\n" and repo.read("ud2/root-only.txt") == b"root's\n"
    assert not (repo.path / ".git/recovery/restore-intent.json").exists()


@needs_root
def test_a_file_in_a_directory_the_user_cannot_write_is_refused_before_any_change(repo: GitRepo) -> None:
    """git unlinks a file it replaces: in a root-owned directory it overwrote
    the files before, then failed ("unable to unlink"), half-way."""
    repo.write("a.txt", "v1\n")
    repo.write("rd/x.txt", "v1\n")
    repo.commit_all("base")
    repo.write("a.txt", "v2\n")
    repo.write("rd/x.txt", "v2\n")
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    repo.write("a.txt", "v3\n")
    repo.write("rd/x.txt", "v3\n")
    hand_to_nobody(repo, [])
    give_to_root(repo, "rd", 0o755)
    (repo.path / "rd/x.txt").chmod(0o666)  # the file itself may be written; its directory may not
    proc = recover_as_nobody(repo, "restore", cp.short)
    assert proc.returncode == 1, proc.stdout
    assert "in directories you may not change: rd/x.txt" in proc.stderr
    assert repo.read("a.txt") == b"v3\n" and repo.read("rd/x.txt") == b"v3\n"
    assert not (repo.path / ".git/recovery/restore-intent.json").exists()
    limited = recover_as_nobody(repo, "restore", cp.short, "--", "a.txt")
    assert limited.returncode == 0, limited.stderr
    assert repo.read("a.txt") == b"v2\n"


def test_a_skipped_record_naming_a_path_the_checkpoint_holds_does_not_stop_its_restore(repo: GitRepo) -> None:
    """Metadata arrives with any fetch of refs/recovery/: a checkpoint whose
    skipped list names ``src`` while its tree holds ``src/app.py`` (a capture
    once recorded a directory named ``src': old`` so) must still restore
    ``src/app.py``, not leave it deleted and call the result OK."""
    repo.write("src/app.py", "app\n")
    repo.commit_all("src")
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    message = repo.git("cat-file", "commit", cp.sha).split("\n\n", 1)[1]
    subject, _, meta = message.rpartition("git-recover-metadata: ")
    data = json.loads(meta)
    data["skipped"] = [{"path": "src", "reason": "unreadable", "size_bytes": 0}]
    forged = repo.git("commit-tree", cp.worktree_tree, "-p", cp.head or "", "-p", cp.index_commit,
                      "-m", subject + "git-recover-metadata: " + json.dumps(data))
    repo.git("update-ref", f"refs/recovery/main/cp/{forged}", forged)
    repo.git("rm", "-rq", "src")
    repo.git("commit", "-qm", "wipe")
    out = repo.recover("restore", forged[:10]).stdout
    assert repo.read("src/app.py") == b"app\n"
    assert "OK, byte-identical" in out


@needs_root
def test_a_directory_name_with_a_quote_colon_is_recorded_whole_and_the_tracked_neighbour_restored(
        repo: GitRepo) -> None:
    """git says "could not open directory 'src': old/': Permission denied": cut
    at the first "': ", the record named ``src`` and a restore left the
    tracked ``src/`` deleted while reporting OK."""
    repo.write("src/app.py", "app\n")
    repo.commit_all("src")
    repo.write("src': old/x.txt", "root's\n")
    hand_to_nobody(repo, ["src': old"])
    proc = recover_as_nobody(repo, "checkpoint")
    assert proc.returncode == 0, proc.stderr
    cp = list_checkpoints(Repo.discover(repo.path))[0]
    assert [(s.path, s.reason) for s in cp.skipped] == [("src': old", "unreadable")]
    (repo.path / "src/app.py").unlink()
    restored = recover_as_nobody(repo, "restore", cp.short)
    assert restored.returncode == 0, restored.stderr
    assert repo.read("src/app.py") == b"app\n"


@needs_root
@pytest.mark.parametrize("name", [os.fsdecode(b"caf\xe9"), "two\nlines", "x': y\nz", os.fsdecode(b"both': \xff\nr': s")],
                         ids=["not-utf8", "newline", "quote-colon-newline", "all-of-them"])
def test_an_unreadable_directory_with_an_odd_name_is_recorded_and_left_alone(repo: GitRepo, name: str) -> None:
    """git names the directory raw in a line-oriented warning: read with
    replacement characters, or cut at the newline or at a "': " before it, the
    record named no path on disk, and once the directory was readable again a
    restore of that checkpoint deleted its files."""
    repo.write("notes.txt", "v1\n")
    (repo.path / name).mkdir()
    (repo.path / name / "data.txt").write_text("kept\n")
    hand_to_nobody(repo, [name])
    proc = recover_as_nobody(repo, "checkpoint")
    assert proc.returncode == 0, proc.stderr
    cp = list_checkpoints(Repo.discover(repo.path))[0]
    assert [(s.path, s.reason) for s in cp.skipped] == [(name, "unreadable")]
    os.chown(repo.path / name, *nobody_ids())  # readable (and writable) by its user again
    (repo.path / name).chmod(0o755)
    repo.write("notes.txt", "v2\n")
    restored = recover_as_nobody(repo, "restore", cp.short)
    assert restored.returncode == 0, restored.stderr
    assert repo.read("notes.txt") == b"v1\n"
    assert (repo.path / name / "data.txt").read_text() == "kept\n"


@needs_root
def test_a_root_file_in_a_sticky_directory_is_refused_and_a_symlink_parent_is_not(repo: GitRepo) -> None:
    """In a sticky directory (/tmp's mode 1777) only a file's owner may unlink
    it: git stopped half-way there. A parent that is a symbolic link is
    replaced by git, never written through: it was refused by mistake."""
    repo.write("st/f1.txt", "v1\n")
    repo.write("st/f2.txt", "v1\n")
    repo.write("lnk/x.txt", "x\n")
    repo.commit_all("base")
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    repo.write("st/f1.txt", "v2\n")
    repo.write("st/f2.txt", "v2\n")
    hand_to_nobody(repo, [])
    give_to_root(repo, "st", 0o1777)
    give_to_root(repo, "st/f2.txt", 0o666)
    proc = recover_as_nobody(repo, "restore", cp.short)
    assert proc.returncode == 1 and "in directories you may not change: st/f2.txt" in proc.stderr
    assert repo.read("st/f1.txt") == b"v2\n"
    assert not (repo.path / ".git/recovery/restore-intent.json").exists()

    for name in ("f1.txt", "f2.txt"):
        (repo.path / "st" / name).unlink()
    repo.git("checkout", "-q", "--", "st")
    hand_to_nobody(repo, [])
    repo.git("rm", "-rq", "lnk")
    os.symlink("/usr", repo.path / "lnk")
    repo.git("add", "lnk")
    repo.git("commit", "-qm", "link")
    hand_to_nobody(repo, [])
    back = recover_as_nobody(repo, "restore", cp.short)
    assert back.returncode == 0, back.stderr
    assert repo.read("lnk/x.txt") == b"x\n" and not (repo.path / "lnk").is_symlink()


def test_continue_names_a_file_the_interrupted_restore_left_alone_as_not_restored(
        repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    """A restore that began while a program rewrote ``app.log`` planned to leave
    it as it was, then stopped; ``--continue`` drives to that plan and its
    check compares with the plan, so it called the result "byte-identical" to
    the checkpoint while ``app.log`` was not restored (hostile testing)."""
    import recovery.core.checkpoint as checkpoint_module
    import recovery.core.restore as restore_module

    repo.write("src.txt", "v1\n")
    repo.write("app.log", "checkpointed\n")
    repo.commit_all("base")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.write("src.txt", "broken\n")
    repo.write("app.log", "written since\n")
    real_capture = checkpoint_module._capture_settled

    def capture_racing(*args: object, **kwargs: object) -> object:
        # As if a writer raced the restore's safety capture.
        return real_capture(*args, **kwargs)._replace(racing=("app.log",))  # type: ignore[arg-type]

    def stop(*args: object, **kwargs: object) -> None:
        raise RecoverError("stopped on purpose")

    monkeypatch.setattr(checkpoint_module, "_capture_settled", capture_racing)
    monkeypatch.setattr(restore_module, "_switch_worktree_and_index", stop)
    with pytest.raises(RecoverError, match="restore stopped"):
        restore(r, cp)
    monkeypatch.undo()
    result = restore_module.continue_restore(r)
    assert repo.read("src.txt") == b"v1\n" and repo.read("app.log") == b"written since\n"
    assert "app.log: kept changing when the restore began: left as they were, not restored" in result.limits
    assert "byte-identical" not in result.verdict


def test_continue_names_the_work_made_while_the_restore_was_interrupted_and_where_it_is_kept(
        repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A file written while a restore was interrupted is in neither the state
    before the restore (``undo``) nor its target: ``--continue`` replaces it,
    and only the checkpoint it takes first holds it. It must say which files
    and how to get them back (a new user lost track of such a file)."""
    import recovery.core.restore as restore_module

    repo.write("src.txt", "v1\n")
    repo.commit_all("base")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.write("src.txt", "broken\n")

    def stop(*args: object, **kwargs: object) -> None:
        raise RecoverError("stopped on purpose")

    monkeypatch.setattr(restore_module, "_switch_worktree_and_index", stop)
    with pytest.raises(RecoverError, match="restore stopped"):
        restore(r, cp)
    monkeypatch.undo()
    repo.write("MYNOTES.md", "written while the restore was interrupted\n")
    repo.write("src.txt", "edited again\n")
    capsys.readouterr()
    restore_module.continue_restore(r)
    said = capsys.readouterr().err
    assert not (repo.path / "MYNOTES.md").exists() and repo.read("src.txt") == b"v1\n"
    kept = next(c for c in list_checkpoints(r) if c.reason == "restore-continue")
    assert "MYNOTES.md: changed while the restore was interrupted" in said
    # The switch was to write src.txt: an edit, or what a killed switch left half-written.
    assert "src.txt: neither as before the restore nor as its target" in said
    assert f"`git recover restore {kept.short} -- PATHS`" in said
    assert f"taken by `restore --continue` or `--abort`, of the state it found: {kept.short}" in repo.recover(
        "status").stdout
    restore(r, kept, ["MYNOTES.md", "src.txt"])
    assert repo.read("MYNOTES.md") == b"written while the restore was interrupted\n"
    assert repo.read("src.txt") == b"edited again\n"


def test_the_target_index_is_built_from_the_differences_and_holds_every_kind_of_entry(
        repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The target's index differs from its worktree in every way an entry can:
    a staged file deleted on disk, an unstaged edit, an untracked file, a file
    replaced by a directory and a directory by a file, an executable bit. The
    switched index becomes the target's index with one ``update-index
    --index-info`` of those differences (no ``read-tree`` over every entry),
    and git then sees exactly the status it saw when the checkpoint was taken."""
    repo.write("a", "file a\n")
    repo.write("d/f", "in d\n")
    repo.write("edit.txt", "committed\n")
    repo.write("run.sh", "#!/bin/sh\n", mode=0o644)
    repo.commit_all("base")
    (repo.path / "a").unlink()
    repo.write("a/b", "a is a directory now\n")
    repo.git("rm", "-q", "-r", "--cached", "d")
    (repo.path / "d/f").unlink()
    (repo.path / "d").rmdir()
    repo.write("d", "d is a file now\n")
    repo.git("add", "-A", "a", "d")
    repo.write("staged-then-deleted.txt", "staged\n")
    repo.git("add", "staged-then-deleted.txt")
    (repo.path / "staged-then-deleted.txt").unlink()
    repo.write("edit.txt", "staged edit\n")
    repo.git("add", "edit.txt")
    repo.write("edit.txt", "unstaged on top\n")
    (repo.path / "run.sh").chmod(0o755)
    repo.write("untracked.txt", "untracked\n")
    status = porcelain(repo)
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    assert cp.index_tree != cp.worktree_tree
    repo.git("reset", "-q", "--hard")
    repo.git("clean", "-q", "-f", "-d")
    trace = tmp_path / "trace.json"
    monkeypatch.setenv("GIT_TRACE2_EVENT", str(trace))
    restore(r, cp)
    monkeypatch.delenv("GIT_TRACE2_EVENT")
    started = [json.loads(line)["argv"][1:] for line in trace.read_text().splitlines()
               if json.loads(line).get("event") == "start"]
    assert not [argv for argv in started if "read-tree" in argv and "-i" in argv]
    assert [argv for argv in started if "update-index" in argv and "--index-info" in argv]
    assert porcelain(repo) == status
    listed = repo.git("ls-files", "-s").splitlines()
    in_tree = [f"{mode} {oid} 0\t{path}" for mode, _, oid, path in
               (line.replace("\t", " ", 1).split(" ", 3) for line in repo.git("ls-tree", "-r", cp.index_tree).splitlines())]
    assert listed == in_tree


def test_a_file_the_switch_writes_is_looked_at_after_it(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    """The owner-access walk runs while git switches the files, so it may see
    a file before git rewrote it. Here it saw nothing wrong (as when it looked
    before git wrote the file), and git wrote the file under a umask that
    takes its owner's write permission: the paths the switch wrote are
    looked at again once it is done, and the file is given back its access."""
    import recovery.core.restore as restore_module

    repo.write("m.md", "good\n")
    repo.commit_all()
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.write("m.md", "damaged\n")
    real = restore_module.listed_access_problems
    calls: list[bytes] = []

    def walked_too_early(toplevel: Path, listed: bytes) -> list[tuple[str, int]]:
        calls.append(listed)
        return [] if len(calls) == 1 else real(toplevel, listed)

    monkeypatch.setattr(restore_module, "listed_access_problems", walked_too_early)
    old = os.umask(0o277)
    try:
        result = restore(r, cp)
    finally:
        os.umask(old)
    assert len(calls) == 2 and calls[1] == b"m.md"
    assert repo.read("m.md") == b"good\n"
    assert stat.S_IMODE((repo.path / "m.md").stat().st_mode) & 0o600 == 0o600
    assert ("m.md", 0o400) in result.access_given


def test_the_staged_commit_of_a_submodule_git_diff_ignores_is_put_back(tmp_path: Path) -> None:
    """A submodule set to ``ignore = all`` in .gitmodules: git's diff commands
    leave its gitlink changes out unless told otherwise. A checkpoint with one
    commit of it staged and another checked out must come back with the staged
    one in the index."""
    sub = GitRepo.init(tmp_path / "sub")
    sub.write("s.txt", "s\n")
    sub.commit_all("s")
    top = GitRepo.init(tmp_path / "top")
    top.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub.path), "sub")
    top.git("config", "-f", ".gitmodules", "submodule.sub.ignore", "all")
    top.commit_all("with sub")
    inner = GitRepo(top.path / "sub")
    inner.write("s.txt", "staged commit\n")
    staged = inner.commit_all("X")
    top.git("add", "sub")
    inner.write("s.txt", "checked out commit\n")
    inner.commit_all("Y")
    r = Repo.discover(top.path)
    cp = create_checkpoint(r, "manual")
    top.git("reset", "-q", "sub")
    restore(r, cp)
    assert top.git("ls-files", "-s", "sub").split()[1] == staged


def test_a_file_written_where_a_fifo_stood_is_usable_by_its_owner(repo: GitRepo) -> None:
    """A FIFO at a tracked path is replaced by the file after git's switch;
    under a umask that takes the owner's write permission it is looked at
    and given back its access like every file the restore wrote."""
    repo.write("f", "content\n")
    repo.commit_all()
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    (repo.path / "f").unlink()
    os.mkfifo(repo.path / "f")
    old = os.umask(0o277)
    try:
        restore(r, cp)
    finally:
        os.umask(old)
    assert repo.read("f") == b"content\n"
    assert stat.S_IMODE((repo.path / "f").stat().st_mode) & 0o600 == 0o600


@pytest.mark.parametrize("target", ["unstaged", "staged", "deleted"])
def test_a_fifo_at_a_tracked_path_does_not_block_a_restore_that_changes_it(repo: GitRepo, target: str) -> None:
    """git refuses to replace a file whose entry is not up to date, and a FIFO
    never is: every restore that changed such a path failed with "not
    uptodate" (hostile testing). The node holds nothing git records: the
    target's file takes its place (where the target has no such path,
    nothing does), everything else is restored."""
    repo.write("f", "committed\n")
    repo.write("other.txt", "v1\n")
    repo.commit_all("base")
    if target == "unstaged":
        repo.write("f", "unstaged work\n")
    elif target == "staged":
        repo.write("f", "staged work\n")
        repo.git("add", "f")
        repo.write("f", "and more, unstaged\n")
    else:
        repo.git("rm", "-q", "f")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    want = disk_state(repo.path)
    index = repo.git("ls-files", "-s")
    if target == "deleted":
        repo.git("reset", "-q", "--hard")
    (repo.path / "f").unlink()
    os.mkfifo(repo.path / "f")
    repo.write("other.txt", "v2\n")
    restore(r, cp)
    assert repo.read("other.txt") == b"v1\n"
    assert repo.git("ls-files", "-s") == index
    assert disk_state(repo.path) == want
    assert not (repo.path / "f").exists() if target == "deleted" else (repo.path / "f").is_file()


def test_a_file_whose_stat_data_alone_changed_is_switched(repo: GitRepo) -> None:
    """The switch refuses an entry whose stat data is stale ("not uptodate"), so
    the capture it switches from must leave every entry it lists refreshed: a
    file only touched since the index was written (same bytes, new times),
    which the restore must change, is switched."""
    repo.write("a.txt", "committed\n")
    repo.write("b.txt", "committed\n")
    repo.commit_all("base")
    repo.write("b.txt", "work in progress\n")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.git("checkout", "--", "b.txt")
    later = (repo.path / "b.txt").stat().st_mtime + 5
    os.utime(repo.path / "b.txt", (later, later))
    os.utime(repo.path / "a.txt", (later, later))
    assert repo.git("diff-files", "--name-only").split() == ["a.txt", "b.txt"]  # stale in the index
    restore(r, cp)
    assert repo.read("b.txt") == b"work in progress\n" and repo.read("a.txt") == b"committed\n"


@pytest.mark.parametrize("tamper", ["staged", "unstaged-by-rm"])
def test_integrity_check_sees_an_index_changed_during_the_restore(repo: GitRepo, monkeypatch: pytest.MonkeyPatch,
                                                                 tamper: str) -> None:
    """The installed index is compared with the target's index tree entry by
    entry; a change git makes to it after the restore's last write (another
    process staging or unstaging) fails the check and is named."""
    def interfere() -> None:
        if tamper == "staged":
            repo.write("README.md", "staged by someone else\n")
            repo.git("add", "README.md")
            repo.git("checkout-index", "-f", "--", "README.md")
        else:
            repo.git("rm", "-q", "--cached", "README.md")

    with pytest.raises(IntegrityError, match="index: [MD] README.md"):
        _restore_while(repo, monkeypatch, interfere)


def test_integrity_check_sees_a_switched_index_that_is_not_the_target(repo: GitRepo,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The index the switch left is compared with the target's worktree tree:
    an entry that is not the target's fails the check."""
    def interfere() -> None:
        other = repo.git("hash-object", "-w", "--stdin", input=b"not the target\n")
        for switched in (repo.path / ".git/recovery/tmp").glob("restore-*/switched-index"):
            env = {**os.environ, "GIT_INDEX_FILE": str(switched)}
            subprocess.run(["git", "update-index", "--cacheinfo", f"100644,{other},README.md"], cwd=repo.path,
                           env=env, check=True)

    with pytest.raises(IntegrityError, match="the switched index does not hold tree"):
        _restore_while(repo, monkeypatch, interfere)


def test_a_path_limited_restore_leaves_a_fifo_outside_its_paths(repo: GitRepo) -> None:
    """``restore ID -- PATHS`` takes only those paths: a FIFO at a tracked path
    elsewhere stays a FIFO (it was replaced by the file, in silence: new-user
    trial); one among the paths is replaced."""
    repo.write("d/a", "a\n")
    repo.write("d/b", "b\n")
    repo.write("e/c", "c\n")
    repo.commit_all("base")
    repo.write("d/a", "a2\n")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    for name in ("d/b", "e/c"):
        (repo.path / name).unlink()
        os.mkfifo(repo.path / name)
    repo.write("d/a", "a3\n")
    result = restore(r, cp, paths=["d"])
    assert repo.read("d/a") == b"a2\n" and repo.read("d/b") == b"b\n"
    assert stat.S_ISFIFO(os.lstat(repo.path / "e/c").st_mode)
    assert "e/c is a FIFO, socket or device node: not compared" in result.limits
    assert result.verdict != "byte-identical"


def test_a_restore_that_changes_nothing_does_not_offer_an_undo_it_did_not_set(repo: GitRepo) -> None:
    """A restore that changes nothing leaves ``undo`` where it was (a second
    ``restore last`` must not lose the state before the first), so it must not
    say "undo with" as if ``undo`` went back to it (new-user trial: ``undo``
    then failed, or went to an older restore's safety checkpoint)."""
    repo.write("a.txt", "v1\n")
    repo.commit_all("base")
    repo.write("a.txt", "v2\n")
    repo.recover("checkpoint")
    same = repo.recover("restore", "last")
    assert "nothing to undo" in same.stdout and "undo with" not in same.stdout, same.stdout
    assert repo.recover("undo", check=False).returncode == 3
    repo.write("a.txt", "v3\n")
    changed = repo.recover("restore", "last")
    assert "undo with: git recover undo" in changed.stdout
    again = repo.recover("restore", "last")
    assert "nothing to undo" in again.stdout
    repo.recover("undo")
    assert repo.read("a.txt") == b"v3\n"  # the state before the restore that changed something


def test_a_locked_branch_refuses_a_restore_that_moves_it_before_any_change(repo: GitRepo) -> None:
    """A branch lock (another git updating it, or one that was killed) made
    the restore switch every file and then stop on HEAD (hostile testing):
    it is refused first, as index.lock and HEAD.lock are, and nothing changes."""
    repo.write("f1", "b\n")
    repo.commit_all("one")
    r = Repo.discover(repo.path)
    cp = create_checkpoint(r, "manual")
    repo.write("f1", "two\n")
    repo.commit_all("two")
    repo.write("f1", "c\n")
    repo.write("unt", "precious\n")
    branch = repo.git("symbolic-ref", "HEAD")
    lock = repo.path / ".git" / f"{branch}.lock"
    lock.write_text("")
    before, head = disk_state(repo.path), repo.git("rev-parse", "HEAD")
    with pytest.raises(RecoverError, match=r"\.lock exists: another git process is updating"):
        restore(r, cp)
    assert disk_state(repo.path) == before and repo.git("rev-parse", "HEAD") == head and lock.exists()
    assert len(checkpoint_refs(repo)) == 1  # no safety checkpoint was left
