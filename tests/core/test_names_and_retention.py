"""Stable names, one checkpoint per state, and retention (by hand and by itself),
on real repositories: refs, bytes on disk, exit codes and printed lines."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from recovery.core.checkpoint import create_checkpoint
from recovery.core.gc import Retention, plan_gc
from recovery.core.model import Checkpoint
from recovery.core.refs import list_checkpoints
from recovery.core.repo import Repo
from tests.conftest import GitRepo
from tests.core.helpers import checkpoint_refs


def _short_ids(repo: GitRepo) -> set[str]:
    return {line.split()[0][:10] for line in checkpoint_refs(repo)}


def test_numbers_do_not_shift_when_a_restore_adds_its_safety_checkpoint(repo: GitRepo) -> None:
    """`restore 1 -- a` then `restore 1 -- b` restore both paths from the same
    checkpoint, although the first restore added a safety checkpoint."""
    repo.write("a.txt", "a1\n")
    repo.write("b.txt", "b1\n")
    assert "(#1, manual" in repo.recover("checkpoint").stdout
    repo.write("a.txt", "a2\n")
    repo.write("b.txt", "b2\n")
    assert "(#2, manual" in repo.recover("checkpoint").stdout
    repo.write("a.txt", "a3\n")
    repo.write("b.txt", "b3\n")
    repo.recover("restore", "1", "--", "a.txt")
    before = len(checkpoint_refs(repo))
    assert before == 3  # the safety checkpoint of the first restore is there
    repo.recover("restore", "1", "--", "b.txt")
    assert (repo.read("a.txt"), repo.read("b.txt")) == (b"a1\n", b"b1\n")
    # positions do not count safety checkpoints either: @{1} is still #1
    listing = json.loads(repo.recover("list", "--json").stdout)
    assert [(c["number"], c["position"]) for c in listing] == [(2, 0), (1, 1)]
    every = json.loads(repo.recover("list", "--all", "--json").stdout)
    assert [c["reason"] for c in every][:2] == ["restore-safety", "restore-safety"]
    assert all(c["position"] is None for c in every if c["reason"] == "restore-safety")
    assert repo.recover("show", "@{1}").stdout.splitlines()[0] == repo.recover("show", "#1").stdout.splitlines()[0]


def test_a_number_that_is_also_an_id_prefix_is_refused(repo: GitRepo) -> None:
    r = Repo.discover(repo.path)
    taken = []
    for i in range(12):
        repo.write("f.txt", f"{i}\n")
        taken.append(create_checkpoint(r, "manual"))
    # a 4+-digit number never collides here; a bare id prefix still resolves
    assert repo.recover("show", taken[3].short).stdout.startswith(f"checkpoint #4 {taken[3].sha}")
    proc = repo.recover("show", "#99", check=False)
    assert proc.returncode == 3 and "no checkpoint #99" in proc.stderr


def test_two_checkpoints_of_one_state_make_one_entry(repo: GitRepo) -> None:
    first = repo.recover("checkpoint").stdout
    second = repo.recover("checkpoint").stdout
    assert len(checkpoint_refs(repo)) == 1
    short = first.split()[1]
    assert second.startswith(f"checkpoint {short} (#1, manual, ") and "unchanged" in second
    data = json.loads(repo.recover("checkpoint", "--json").stdout)
    assert data["unchanged"] is True and data["short"] == short and data["number"] == 1
    # a different index is a different state, even with the same files on disk
    repo.write("new.txt", "n\n")
    repo.recover("checkpoint")
    repo.git("add", "new.txt")
    repo.recover("checkpoint")
    assert len(checkpoint_refs(repo)) == 3
    journal = [json.loads(line) for line in (repo.path / ".git/recovery/journal.jsonl").read_text().splitlines()]
    assert [e.get("unchanged", False) for e in journal if e["event"] == "checkpoint"] == [False, True, True, False,
                                                                                          False]


def test_a_note_names_an_unchanged_state_as_a_new_entry(repo: GitRepo) -> None:
    repo.recover("checkpoint")
    named = repo.recover("checkpoint", "-m", "before the refactor").stdout
    assert "unchanged" not in named and "(#2, manual" in named
    again = repo.recover("checkpoint", "-m", "before the refactor").stdout
    assert "unchanged" in again
    assert len(checkpoint_refs(repo)) == 2
    out = repo.recover("list", "--manual").stdout.splitlines()
    assert out[1].split()[0] == "2" and out[1].endswith('"before the refactor" on: base')


def test_list_filters_by_reason_and_branch(repo: GitRepo) -> None:
    repo.recover("checkpoint", "--reason", "post-merge")
    repo.git("checkout", "-q", "-b", "topic")
    repo.write("t.txt", "t\n")
    repo.recover("checkpoint")
    numbers = lambda *args: [c["number"] for c in json.loads(repo.recover("list", "--json", *args).stdout)]  # noqa: E731
    assert numbers() == [2, 1]
    assert numbers("--reason", "post-merge") == [1]
    assert numbers("--branch", "topic") == [2]
    assert numbers("--branch", "main") == [1]
    assert numbers("--manual") == [2]
    assert "no checkpoints match" in repo.recover("list", "--branch", "nope").stdout


def test_gc_keep_prefers_the_named_checkpoint_to_safety_ones(repo: GitRepo) -> None:
    """`gc --keep 3` used to drop the user's named checkpoint and keep three
    restore-safety ones."""
    repo.write("f.txt", "mine\n")
    named = repo.recover("checkpoint", "-m", "mine").stdout.split()[1]
    for i in range(4):
        repo.write("f.txt", f"scratch {i}\n")
        repo.recover("restore", "#1")
    safety = [c for c in json.loads(repo.recover("list", "--all", "--json").stdout) if c["reason"] == "restore-safety"]
    assert len(safety) == 4
    out = repo.recover("gc", "--keep", "3").stdout
    kept = _short_ids(repo)
    assert named in kept
    assert {c["short"] for c in safety[:2]} <= kept  # the newest (also `undo`) and the next one
    assert not {c["short"] for c in safety[2:]} & kept
    assert "dropped 2, kept 3" in out
    assert repo.read("f.txt") == b"mine\n"


def test_gc_never_drops_the_only_holder_of_an_unreachable_commit(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "--detach")
    repo.write("lost.txt", "only here\n")
    repo.commit_all("detached work")
    detached = repo.git("rev-parse", "HEAD")
    holder = repo.recover("checkpoint", "--reason", "post-commit").stdout.split()[1]
    repo.git("checkout", "-q", "main")
    for i in range(3):
        repo.write("f.txt", f"{i}\n")
        repo.recover("checkpoint", "--reason", "post-commit")
    out = repo.recover("gc", "--keep", "1").stdout
    assert holder in _short_ids(repo) and len(checkpoint_refs(repo)) == 2
    assert f"kept {holder}" in out and detached[:10] in out
    # once a branch reaches it, the checkpoint is an ordinary old one
    repo.git("branch", "keep-it", detached)
    repo.recover("gc", "--keep", "1")
    assert holder not in _short_ids(repo)


def _cp(number: int, time: datetime, reason: str = "post-commit", message: str | None = None) -> Checkpoint:
    sha = f"{number:040x}"
    return Checkpoint(sha=sha, ref=f"refs/recovery/main/cp/{sha}", time=time, reason=reason, message=message,
                      head=None, branch="refs/heads/main", index_commit=sha, index_tree=sha, worktree_tree=sha,
                      number=number)


def test_automatic_checkpoints_thin_out_as_they_age() -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
    ages = [timedelta(minutes=m) for m in (1, 20, 50)]            # the last hour: all kept
    ages += [timedelta(hours=3, minutes=m) for m in (5, 30, 50)]    # one hour: the newest kept
    ages += [timedelta(days=3, hours=h) for h in (1, 2, 5)]         # one day: the newest kept
    ages += [timedelta(days=40)]                                    # beyond 30 days: dropped
    checkpoints = [_cp(len(ages) - i, now - age) for i, age in enumerate(ages)]
    named = _cp(100, now - timedelta(days=200), "manual")._replace(sha="f" * 40)
    old_named = _cp(101, now - timedelta(days=400), "manual", "very old")._replace(sha="e" * 40)
    safety = _cp(102, now - timedelta(days=2, hours=1), "restore-safety", "before restore")._replace(sha="d" * 40)
    plan = plan_gc(sorted([*checkpoints, named, old_named, safety], key=lambda c: c.time, reverse=True),
                   Retention(), now=now)
    kept_ages = sorted((now - cp.time for cp in plan.keep if cp.reason == "post-commit"))
    assert kept_ages == [*ages[:3], ages[3], ages[6]]
    assert named in plan.keep and old_named in plan.drop and safety in plan.keep
    capped = plan_gc(sorted([*checkpoints, named, safety], key=lambda c: c.time, reverse=True),
                     Retention(keep=2), now=now)
    assert [cp.number for cp in capped.keep] == [10, 100]  # the newest, then the named one


def test_checkpoints_without_numbers_get_stable_ones(repo: GitRepo) -> None:
    """Checkpoints written before numbers existed are numbered by time, and a
    gc that drops the oldest does not renumber the rest."""
    r = Repo.discover(repo.path)
    for i in range(3):
        repo.write("f.txt", f"{i}\n")
        cp = create_checkpoint(r, "manual")
        message = repo.git("cat-file", "commit", cp.sha).split("\n\n", 1)[1]
        old_style = re.sub(r',"number":\d+', "", message)
        parents = [arg for p in repo.git("rev-parse", f"{cp.sha}^@").split() for arg in ("-p", p)]
        sha = repo.git("commit-tree", cp.worktree_tree, *parents, input=old_style.encode())
        repo.git("update-ref", "-d", cp.ref)
        repo.git("update-ref", f"refs/recovery/main/cp/{sha}", sha)
    listed = list_checkpoints(r)
    assert [cp.number for cp in listed] == [3, 2, 1] and all(cp.number_derived for cp in listed)
    repo.recover("gc", "--keep", "1")
    assert repo.git("for-each-ref", "--format=%(refname)", "refs/recovery/main/numbers")
    assert [cp.number for cp in list_checkpoints(r)] == [3]
    assert repo.git("for-each-ref", "--format=%(refname)", "refs/recovery/main/numbers")
    repo.write("f.txt", "next\n")
    assert "(#4, manual" in repo.recover("checkpoint").stdout


def test_gc_runs_by_itself_and_keeps_the_ref_store_small(repo: GitRepo) -> None:
    repo.git("config", "recover.gc.autoEvery", "10")
    repo.git("config", "recover.gc.keep", "70")
    r = Repo.discover(repo.path)
    for i in range(75):
        repo.write("f.txt", f"{i}\n")
        create_checkpoint(r, "post-commit")
    assert len(checkpoint_refs(repo)) <= 80
    loose = list((repo.path / ".git/refs/recovery/main/cp").iterdir())
    assert len(loose) < 64  # packed once there were many
    assert "refs/recovery/main/cp/" in (repo.path / ".git/packed-refs").read_text()
    repo.write("f.txt", "last\n")
    proc = repo.recover("checkpoint", "--reason", "post-commit")
    assert proc.returncode == 0
    repo.git("config", "recover.gc.autoEvery", "1")
    repo.write("f.txt", "very last\n")
    proc = repo.recover("checkpoint", "--reason", "post-commit")
    assert re.search(r"git-recover: gc: dropped \d+ old checkpoint\(s\), kept 70 ", proc.stderr), proc.stderr
    assert len(checkpoint_refs(repo)) == 70
    repo.git("fsck", "--no-dangling")


def test_a_commit_without_gates_costs_one_checkpoint(repo: GitRepo) -> None:
    repo.recover("install")
    before = len(checkpoint_refs(repo))
    repo.write("a.txt", "a\n")
    repo.git("add", "a.txt")
    subprocess.run(["git", "commit", "-q", "-m", "a"], cwd=repo.path, check=True, capture_output=True)
    assert len(checkpoint_refs(repo)) == before + 1


def test_gc_keeps_a_conflict_checkpoint_holding_a_deleted_branch(repo: GitRepo) -> None:
    """A checkpoint of a merge stopped on a conflict holds the other side
    (MERGE_HEAD) as a parent of its conflict commit: once that branch is
    deleted, the checkpoint is the only holder of its commits."""
    repo.write("f.txt", "base\n")
    repo.commit_all("base")
    repo.git("checkout", "-q", "-b", "side")
    repo.write("f.txt", "side\n")
    repo.write("side-only.txt", "only on side\n")
    repo.commit_all("side work")
    side = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "main")
    repo.write("f.txt", "main\n")
    repo.commit_all("main work")
    repo.git("merge", "-q", "side", check=False)  # stops on the conflict in f.txt
    assert repo.read(".git/MERGE_HEAD").decode().strip() == side
    holder = repo.recover("checkpoint", "--reason", "post-merge").stdout.split()[1]
    repo.git("merge", "--abort")
    repo.git("branch", "-D", "side")
    for i in range(3):
        repo.write("g.txt", f"{i}\n")
        repo.recover("checkpoint", "--reason", "post-commit")
    out = repo.recover("gc", "--keep", "1").stdout
    assert holder in _short_ids(repo), out
    assert f"kept {holder}" in out and side[:10] in out
    assert len(checkpoint_refs(repo)) == 2
    # The side's commit is still in the repository after git's own gc, by that checkpoint.
    repo.git("reflog", "expire", "--expire=now", "--all")
    repo.git("gc", "-q", "--prune=now")
    assert repo.git("cat-file", "blob", f"{side}:side-only.txt") == "only on side"
    # Once a branch reaches it again, the checkpoint is an ordinary old one.
    repo.git("branch", "side-again", side)
    repo.recover("gc", "--keep", "1")
    assert holder not in _short_ids(repo)


def test_notes_git_recover_writes_itself_do_not_outrank_the_users_named_checkpoints() -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
    own = [_cp(10 + i, now - timedelta(minutes=i), reason, note)._replace(sha=f"{10 + i:040x}")
           for i, (reason, note) in enumerate([
               ("before-merge", "derived: main before the merge, local changes carried"),
               ("agent-tool", "session s prompt 1: Edit a.py"),
               ("watch", "changes settled"),
               ("restore-safety", "before restore of 1234567890")])]
    mine = [_cp(1, now - timedelta(hours=2), "manual", "first")._replace(sha="a" * 40),
            _cp(2, now - timedelta(hours=1), "deploy", "before the deploy")._replace(sha="b" * 40)]
    newest = _cp(20, now, "post-commit")._replace(sha="c" * 40)
    plan = plan_gc(sorted([newest, *own, *mine], key=lambda c: c.time, reverse=True), Retention(keep=3), now=now)
    assert [cp.number for cp in plan.keep] == [20, 2, 1]  # the newest, then the two the user named


@pytest.mark.parametrize(("key", "value"), [
    ("recover.gc.keep", "0"), ("recover.gc.maxAgeDays", "-1"),
    ("recover.captureAttempts", "0"), ("recover.maxUntrackedSize", "-5"),
])
def test_a_git_config_value_the_command_line_would_refuse_is_refused(repo: GitRepo, key: str, value: str) -> None:
    """`--keep 0` is refused; `recover.gc.keep=0` must not make `gc` drop every
    checkpoint but the newest instead. One line, exit 3, nothing dropped."""
    for i in range(3):
        repo.write("f.txt", f"{i}\n")
        repo.recover("checkpoint")
    before = checkpoint_refs(repo)
    repo.git("config", key, value)
    repo.write("f.txt", "new state\n")
    proc = repo.recover("gc" if key.startswith("recover.gc.") else "checkpoint", check=False)
    assert proc.returncode == 3, proc.stderr
    [line] = proc.stderr.splitlines()
    assert re.search(rf"git config {key}={value!r}: at least {1 if value == '0' else 0}$", line, re.IGNORECASE), line
    assert checkpoint_refs(repo) == before


def test_a_busy_agent_s_tool_checkpoints_do_not_push_out_its_prompts() -> None:
    """130 tool calls that each changed something, under the default cap of
    100: the states the session's prompts began from (what ``rewind N`` goes
    back to) are kept, the oldest tool checkpoints go."""
    from recovery.agent.hook import PROMPT_REASON, TOOL_REASON
    from recovery.core.gc import AGENT_PROMPT_REASON

    assert AGENT_PROMPT_REASON == PROMPT_REASON
    now = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
    prompts = [_cp(1 + 44 * p, now - timedelta(seconds=300 - 100 * p), PROMPT_REASON, f"session s prompt {p + 1}: go")
               for p in range(3)]
    tools = [_cp(2 + i + i // 43, now - timedelta(seconds=299 - 2.3 * i), TOOL_REASON, "session s prompt 1: Edit a")
             for i in range(130)]
    everything = sorted([*prompts, *tools], key=lambda c: c.time, reverse=True)
    assert len({cp.sha for cp in everything}) == 133
    plan = plan_gc(everything, Retention(), now=now)
    assert len(plan.keep) == 100
    assert all(cp in plan.keep for cp in prompts)
    assert plan.drop and all(cp.reason == TOOL_REASON for cp in plan.drop)
    assert min(cp.time for cp in plan.keep if cp.reason == TOOL_REASON) > max(cp.time for cp in plan.drop)
