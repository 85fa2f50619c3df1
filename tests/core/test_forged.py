"""Checkpoint refs someone else wrote: refs/recovery/ arrives with any
``+refs/*:refs/*`` fetch, so its metadata is untrusted. A forged time must not
make a checkpoint `last`, a branch name git cannot use must be refused before
anything changes, and no metadata or path reaches the terminal raw."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from recovery.base.output import quote_path
from recovery.core.checkpoint import create_checkpoint
from recovery.core.gc import Retention, plan_gc
from recovery.core.refs import list_checkpoints, resolve
from recovery.core.repo import Repo
from tests.conftest import GitRepo
from tests.core.helpers import disk_state


def _forge(repo: GitRepo, sha: str, **changes: object) -> str:
    """A copy of checkpoint ``sha`` with its metadata changed, published as a checkpoint ref."""
    message = repo.git("cat-file", "commit", sha).partition("\n\n")[2]
    head, marker, tail = message.rpartition("git-recover-metadata: ")
    meta = {**json.loads(tail.splitlines()[0]), **changes}
    parents = repo.git("rev-list", "--parents", "-n1", sha).split()[1:]
    forged = repo.git("commit-tree", f"{sha}^{{tree}}", *[a for p in parents for a in ("-p", p)],
                      input=(head + marker + json.dumps(meta) + "\n").encode())
    repo.git("update-ref", f"refs/recovery/main/cp/{forged}", forged)
    return forged


def test_a_future_dated_checkpoint_is_never_last_and_gc_drops_it(repo: GitRepo) -> None:
    r = Repo.discover(repo.path)
    real = create_checkpoint(r, "manual")
    forged = _forge(repo, real.sha, time="9999-12-31T23:59:59+00:00", reason="evil")
    listed = list_checkpoints(r)
    assert [cp.sha for cp in listed] == [real.sha, forged]  # ordered as the oldest
    assert resolve(r, "last").sha == real.sha
    assert "in the future" in " ".join(listed[1].notes)
    assert json.loads(repo.recover("status", "--json").stdout)["newest"]["sha"] == real.sha  # the recovery point
    plan = plan_gc(listed, Retention(keep=100, max_age_days=30))
    assert forged in {cp.sha for cp in plan.drop}
    assert real.sha not in {cp.sha for cp in plan.drop}


def test_a_checkpoint_a_few_seconds_ahead_keeps_its_time(repo: GitRepo) -> None:
    r = Repo.discover(repo.path)
    real = create_checkpoint(r, "manual")
    soon = (datetime.now(timezone.utc) + timedelta(seconds=60)).isoformat()
    ahead = _forge(repo, real.sha, time=soon)
    assert resolve(r, "last").sha == ahead  # within the clock skew: a real checkpoint of a drifting clock


def test_a_branch_name_git_cannot_use_is_refused_before_anything_changes(repo: GitRepo) -> None:
    r = Repo.discover(repo.path)
    real = create_checkpoint(r, "manual")
    for branch in ("refs/heads/x@{1}", "refs/heads/a..b", "refs/heads/-rf", "refs/heads/x.lock", "refs/heads/.x",
                   "refs/heads/b\udcff\ud800"):
        forged = _forge(repo, real.sha, branch=branch)
        repo.write("work.txt", "in progress\n")
        before, refs = disk_state(repo.path), repo.git("for-each-ref", "refs/")
        proc = repo.recover("restore", forged[:12], check=False)
        assert proc.returncode == 3, (branch, proc.stderr)
        assert "not a valid branch ref" in proc.stderr and "Traceback" not in proc.stderr
        assert disk_state(repo.path) == before and repo.git("for-each-ref", "refs/") == refs
        assert not (repo.path / ".git/recovery/restore-intent.json").exists()
        repo.git("update-ref", "-d", f"refs/recovery/main/cp/{forged}")


def test_show_and_list_print_no_control_characters(repo: GitRepo) -> None:
    r = Repo.discover(repo.path)
    repo.write("evil\x1b]0;pwned\x07name.txt", "x\n")
    repo.write("new\nline.txt", "x\n")
    real = create_checkpoint(r, "manual")
    forged = _forge(repo, real.sha, reason="\x1b[2J\x1b]0;owned\x07cleared", message="hi\x1b[31m red\nsecond",
                    notes=["\x9b31m c1"])
    for args in (("show", forged[:12]), ("list",), ("show", real.sha[:12])):
        out = repo.recover(*args).stdout
        assert not any(ord(c) < 0x20 and c != "\n" or 0x7f <= ord(c) < 0xa0 for c in out), (args, repr(out))
    shown = repo.recover("show", real.sha[:12]).stdout
    assert '"evil\\033]0;pwned\\aname.txt"' in shown  # as `git status` quotes it
    assert '"new\\nline.txt"' in shown


def test_quote_path_matches_git() -> None:
    import subprocess
    import tempfile
    from pathlib import Path

    names = [b"plain.txt", b"tab\there", b"nl\nx", b'q"uote', b"back\\slash", "é".encode(),
             b"esc\x1b[31m", b"del\x7f"]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["git", "init", "-q", tmp], check=True)
        for name in names:
            Path(tmp, name.decode("utf-8", "surrogateescape")).write_bytes(b"x")
        listed = subprocess.run(["git", "-c", "core.quotePath=false", "ls-files", "-o"], cwd=tmp,
                                capture_output=True, check=True).stdout.decode().splitlines()
    assert sorted(listed) == sorted(quote_path(n) for n in names)
    assert quote_path(b"\xff".decode("utf-8", "surrogateescape")) == '"\\377"'


def test_a_lone_surrogate_or_a_bidi_override_in_forged_metadata_prints_as_its_escape(repo: GitRepo) -> None:
    r = Repo.discover(repo.path)
    real = create_checkpoint(r, "manual")
    forged = _forge(repo, real.sha, reason="r\ud800", message="m\udfff \u202eevil")
    listed = repo.recover("list").stdout
    assert "r\\ud800" in listed and '"m\\udfff \\u202eevil"' in listed  # U+202E reverses what follows on screen
    assert "message:   m\\udfff \\u202eevil" in repo.recover("show", forged[:12]).stdout


def test_a_restore_prints_a_branch_name_without_its_control_characters(repo: GitRepo) -> None:
    """git allows C1 controls (CSI, U+009B) and bytes that are not UTF-8 in a
    branch name; the restore's `HEAD -> branch` line printed them raw."""
    r = Repo.discover(repo.path)
    repo.git("checkout", "-q", "-b", "esc\u009b31mRED")
    repo.write("work.txt", "x\n")
    cp = create_checkpoint(r, "manual")
    repo.git("checkout", "-q", "main")
    out = repo.recover("restore", cp.short).stdout
    assert "HEAD -> esc\\23331mRED at" in out, out
    assert not any(0x80 <= ord(c) < 0xa0 for c in out)
