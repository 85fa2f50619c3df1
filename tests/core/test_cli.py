"""The command line as users meet it: help anywhere, one-line errors with exit
codes, list/show/diff/status/verify/gc output on real repositories."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from recovery.cli.plain import plain_checkpoint, plain_verify
from tests.conftest import GitRepo, run_recover
from tests.core.helpers import checkpoint_refs


def test_help_works_outside_a_repository(tmp_path: Path) -> None:
    for flag in ("-h", "--help"):
        proc = run_recover(tmp_path, flag)
        assert proc.stdout.startswith("Usage: git recover ")
        for command in ("checkpoint", "restore", "undo", "list", "verify", "gc"):
            assert command in proc.stdout


def test_outside_a_repository_is_one_line_error(tmp_path: Path) -> None:
    proc = run_recover(tmp_path, "checkpoint", check=False)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [f"git-recover: not a git repository: {tmp_path}"]


def test_bad_arguments_exit_3(repo: GitRepo) -> None:
    proc = repo.recover("list", "--max-count", "0", check=False)
    assert proc.returncode == 3
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("git-recover: ")
    proc = repo.recover("restore", "--continue", "--abort", check=False)
    assert proc.returncode == 3 and "exclude each other" in proc.stderr


def test_continue_or_abort_with_no_interrupted_restore_is_a_usage_error(repo: GitRepo) -> None:
    """Like ``git rebase --continue`` with no rebase: the option does not apply,
    so exit 3 (bad arguments), not 1 (a failure), and nothing is written."""
    for option in ("--continue", "--abort"):
        proc = repo.recover("restore", option, check=False)
        assert proc.returncode == 3, proc.stderr
        assert proc.stderr.strip() == ("git-recover: no interrupted restore to resume (`git recover status` "
                                       "shows the state)")
    assert repo.git("for-each-ref", "refs/recovery") == ""


def test_unknown_checkpoint_is_clear(repo: GitRepo) -> None:
    proc = repo.recover("restore", "deadbeef", check=False)
    assert proc.returncode == 3
    assert proc.stderr.strip() == "git-recover: no checkpoint named 'deadbeef' (see `git recover list`)"
    assert checkpoint_refs(repo) == []


def test_checkpoint_list_show_diff_status(repo: GitRepo) -> None:
    repo.write("README.md", "edited\n")
    out = repo.recover("checkpoint", "-m", "before refactor").stdout
    short = out.split()[1]
    repo.write("new.txt", "new\n")
    listing = json.loads(repo.recover("list", "--json").stdout)
    assert [c["short"] for c in listing] == [short]
    assert listing[0]["changed_files"] == 1 and listing[0]["message"] == "before refactor"
    table = repo.recover("list").stdout.splitlines()
    assert table[1].split()[:2] == ["1", short]
    assert table[1].endswith('"before refactor" on: base')
    show = repo.recover("show", short).stdout
    assert "M README.md" in show and "before refactor" in show
    assert show.splitlines()[0].startswith("checkpoint #1 " + short)
    diff = repo.recover("diff", short, "--name-status").stdout
    assert diff.strip() == "A\tnew.txt"
    for option in ("--stat", "--name-status"):  # no difference prints nothing, as git diff does
        assert repo.recover("diff", short, short, option).stdout == ""
    status = repo.recover("status").stdout
    assert f"newest checkpoint: {short} (#1, manual)" in status and "INTERRUPTED" not in status
    repo.write(".recover.toml", f"[gates.ok]\ncommand = {json.dumps([sys.executable, '-c', 'pass'])}\n")
    assert repo.recover("gates", "run").returncode == 0  # a new state (#2), marked good
    good = repo.recover("status").stdout
    assert "last good checkpoint: " in good and "(#2, " in good.split("last good checkpoint: ")[1], good


def test_restore_prints_timing_and_verdict_then_undo(repo: GitRepo) -> None:
    repo.write("f.txt", "good\n")
    short = repo.recover("checkpoint").stdout.split()[1]
    repo.write("f.txt", "bad\n")
    out = repo.recover("restore", short).stdout
    assert "M f.txt" in out
    assert "integrity check" in out and "OK, byte-identical" in out and "git recover undo" in out
    assert repo.read("f.txt") == b"good\n"
    repo.recover("undo")
    assert repo.read("f.txt") == b"bad\n"


def test_status_names_what_restore_last_brings_back_and_a_newer_safety_checkpoint(repo: GitRepo) -> None:
    """`last` skips a restore's safety checkpoints; status called the newest
    checkpoint, a hidden safety one, "the recovery point", and a new user took
    it for their own."""
    repo.write("f.txt", "mine\n")
    mine = repo.recover("checkpoint", "-m", "mine").stdout.split()[1]
    repo.write("f.txt", "lost?\n")
    repo.recover("restore", "last")
    safety = json.loads(repo.recover("status", "--json").stdout)
    assert safety["newest"]["reason"] == "restore-safety" and safety["last"]["short"] == mine
    status = repo.recover("status").stdout.splitlines()
    assert status[0].startswith(f"newest checkpoint: {mine} (#1, manual)")
    assert "what `git recover restore last` brings back" in status[0]
    assert status[1].startswith(f"newer, taken by a restore before it changed anything: {safety['newest']['short']} (#2)")
    assert status[1].endswith("-- `git recover undo` brings that state back")
    repo.recover("undo")
    assert repo.read("f.txt") == b"lost?\n"


def test_restore_paths_after_double_dash(repo: GitRepo) -> None:
    repo.write("a.txt", "a1\n")
    repo.write("b.txt", "b1\n")
    repo.recover("checkpoint")
    repo.write("a.txt", "a2\n")
    repo.write("b.txt", "b2\n")
    repo.recover("restore", "--", "a.txt")
    assert (repo.read("a.txt"), repo.read("b.txt")) == (b"a1\n", b"b2\n")
    (repo.path / "sub").mkdir()
    out = run_recover(repo.path / "sub", "restore", "-n", "1", "--", "../b.txt").stdout  # #1, not the safety checkpoint
    assert "M b.txt" in out


def test_verify_detects_a_corrupt_object(repo: GitRepo) -> None:
    repo.write("precious.txt", "precious content\n")
    repo.recover("checkpoint")
    assert "all intact" in repo.recover("verify").stdout
    blob = repo.git("hash-object", "precious.txt")
    loose = repo.path / ".git/objects" / blob[:2] / blob[2:]
    loose.chmod(0o644)
    loose.write_bytes(loose.read_bytes()[:-4] + b"\0\0\0\0")
    proc = repo.recover("verify", check=False)
    assert proc.returncode == 2 and "corrupt" in proc.stdout and blob in proc.stdout
    loose.unlink()
    proc = repo.recover("verify", check=False)
    assert proc.returncode == 2 and "1 missing" in proc.stdout


def test_verify_detects_an_object_whose_content_is_another_s(repo: GitRepo) -> None:
    # A well-formed loose object holding other bytes than its name says: git
    # reads it without complaint, so only re-hashing can tell.
    import zlib

    repo.write("precious.txt", "precious content\n")
    repo.write("other.txt", "other bytes here\n")
    repo.recover("checkpoint")
    blob = repo.git("hash-object", "precious.txt")
    loose = repo.path / ".git/objects" / blob[:2] / blob[2:]
    loose.chmod(0o644)
    loose.write_bytes(zlib.compress(b"blob 17\0other bytes here\n"))
    assert repo.git("cat-file", "-p", blob) == "other bytes here"  # git itself does not notice
    proc = repo.recover("verify", check=False)
    assert proc.returncode == 2 and "1 corrupt" in proc.stdout and blob in proc.stdout


def test_verify_reports_a_tree_that_does_not_parse_as_corrupt(repo: GitRepo) -> None:
    # A tree object whose bytes hash to its name but are no sequence of
    # entries (written with --literally): git itself would stop on it.
    repo.write("kept.txt", "kept\n")
    repo.recover("checkpoint")
    sha = repo.git("for-each-ref", "--format=%(objectname)", "refs/recovery/")
    bad = repo.git("hash-object", "-t", "tree", "--literally", "-w", "--stdin", input=b"no entries here")
    listing = repo.git("ls-tree", f"{sha}^{{tree}}") + f"\n040000 tree {bad}\tdamaged\n"
    tree = repo.git("mktree", input=listing.encode())
    message = repo.git("cat-file", "commit", sha).partition("\n\n")[2]
    parents = repo.git("rev-list", "--parents", "-n1", sha).split()[1:]
    forged = repo.git("commit-tree", tree, *[a for p in parents for a in ("-p", p)], input=message.encode())
    repo.git("update-ref", f"refs/recovery/main/cp/{forged}", forged)
    proc = repo.recover("verify", forged[:12], check=False)
    assert proc.returncode == 2 and "1 corrupt" in proc.stdout and bad in proc.stdout
    assert "Traceback" not in proc.stderr


def test_verify_all_says_when_there_is_nothing_refuses_an_id_or_an_empty_one_and_compares_with_last(
        repo: GitRepo) -> None:
    proc = repo.recover("verify", "--all")
    assert proc.stdout == "no checkpoints to verify\n"
    repo.write("a.txt", "one\n")
    first = json.loads(repo.recover("checkpoint", "--json").stdout)["short"]
    proc = repo.recover("verify", first, "--all", check=False)
    assert proc.returncode == 3 and "--all verifies every checkpoint" in proc.stderr
    proc = repo.recover("verify", "", check=False)
    assert proc.returncode == 3 and "an empty checkpoint id" in proc.stderr
    repo.write("a.txt", "two\n")
    repo.recover("restore", first)  # the newest checkpoint is now its safety checkpoint
    proc = repo.recover("verify", "--all", "--worktree")
    assert f"live state is identical to {first}" in proc.stdout


def test_verify_worktree(repo: GitRepo) -> None:
    repo.recover("checkpoint")
    assert "identical" in repo.recover("verify", "--worktree").stdout
    repo.write("README.md", "changed\n")
    proc = repo.recover("verify", "--worktree", check=False)
    assert proc.returncode == 2 and "worktree: M README.md" in proc.stdout
    # An intact checkpoint and a live state that moved on is no damage: said apart.
    assert "all intact" in proc.stdout
    assert proc.stderr == "git-recover: the checkpoint is intact; the live state differs from it (listed above)\n"


def test_gc_keeps_newest_good_and_undo(repo: GitRepo) -> None:
    ids = []
    for i in range(5):
        repo.write("f.txt", f"{i}\n")
        ids.append(repo.recover("checkpoint").stdout.split()[1])
    repo.git("update-ref", "refs/recovery/main/good", repo.git("rev-parse", f"refs/recovery/main/cp/{_full(repo, ids[0])}"))
    out = repo.recover("gc", "--keep", "1").stdout
    remaining = {line.split()[0][:10] for line in checkpoint_refs(repo)}
    assert remaining == {ids[0], ids[4]}
    assert "dropped 3" in out
    assert "refs/recovery/" in repo.git("config", "--get-all", "log.excludeDecoration")


def _full(repo: GitRepo, short: str) -> str:
    return next(line.split()[0] for line in checkpoint_refs(repo) if line.startswith(short))


def test_list_counts_changed_files_and_marks_a_checkpoint_with_a_missing_tree(repo: GitRepo) -> None:
    repo.write("a.txt", "a\n")
    repo.write("b.txt", "b\n")
    first = json.loads(repo.recover("checkpoint", "--json").stdout)
    repo.write("c.txt", "c\n")
    repo.write("README.md", "edited\n")
    second = json.loads(repo.recover("checkpoint", "--json").stdout)
    listed = {row["sha"]: row["changed_files"] for row in json.loads(repo.recover("list", "--json").stdout)}
    assert listed == {first["sha"]: 2, second["sha"]: 4}
    tree = first["worktree_tree"]
    (repo.path / ".git/objects" / tree[:2] / tree[2:]).unlink()
    listed = {row["sha"]: row["changed_files"] for row in json.loads(repo.recover("list", "--json").stdout)}
    assert listed == {first["sha"]: None, second["sha"]: 4}


def test_list_counts_each_checkpoint_against_its_own_head_when_some_change_nothing(repo: GitRepo) -> None:
    # A checkpoint of a clean state (no difference to its HEAD) listed beside
    # ones with differences: git prints a header for the clean pair too, and a
    # parser that took the next header for a file name shifted every count.
    counts = {}
    for i in range(3):
        repo.write(f"f{i}.txt", f"{i}\n")
        repo.commit_all(f"c{i}")
        clean = json.loads(repo.recover("checkpoint", "-m", f"clean {i}", "--json").stdout)
        repo.write(f"new{i}.txt", "x\n")
        repo.write("README.md", f"edited {i}\n")
        dirty = json.loads(repo.recover("checkpoint", "--json").stdout)
        counts[clean["sha"]] = 0
        counts[dirty["sha"]] = 2
        (repo.path / f"new{i}.txt").unlink()
        repo.git("checkout", "--", "README.md")
    listed = {row["sha"]: row["changed_files"] for row in json.loads(repo.recover("list", "-a", "--json").stdout)}
    assert listed == counts
    for sha, n in counts.items():  # as git itself counts them
        cp = next(row for row in json.loads(repo.recover("list", "-a", "--json").stdout) if row["sha"] == sha)
        names = repo.git("diff-tree", "-r", "--name-only", f"{cp['head']}^{{tree}}", cp["worktree_tree"])
        assert len(names.split()) == n


def test_a_restore_path_outside_the_worktree_is_a_usage_error(repo: GitRepo) -> None:
    repo.write("a.txt", "work\n")
    repo.recover("checkpoint")
    repo.write("a.txt", "more work\n")
    proc = repo.recover("restore", "last", "--", "../outside", check=False)
    assert (proc.returncode, proc.stderr.strip()) == (3, f"git-recover: ../outside: outside the worktree {repo.path}")
    assert repo.read("a.txt") == b"more work\n"
    assert not (repo.path / ".git/recovery/restore-intent.json").exists()


# Runs `git recover ARGS` in-process through main() (the plain path when the
# form is plain) or through click alone, then says whether click was imported.
# An error ends as main() ends it (run_cli lets it pass).
_RUN_VIA = """import sys
from recovery.base.errors import RecoverError
from recovery.base.output import say
from recovery.cli.{module} import {function} as run
try:
    rc = run({args})
except RecoverError as exc:
    say(exc.message)
    rc = exc.exit_code
sys.stdout.flush()
print("\\n@@", rc, "click" in sys.modules)
"""


def _run_via(repo: GitRepo, module: str, function: str, args: list[str]) -> tuple[int, bool, str, str]:
    """``(exit status, click imported, stdout, stderr)`` of ``git recover ARGS``."""
    code = _RUN_VIA.format(module=module, function=function, args=repr(args))
    proc = subprocess.run([sys.executable, "-P", "-c", code], cwd=repo.path, capture_output=True, text=True)
    out, _, tail = proc.stdout.rpartition("\n@@ ")
    rc, clicked = tail.split()
    return int(rc), clicked == "True", out, proc.stderr


def _checkpoint_via(repo: GitRepo, module: str, function: str, args: list[str]
                    ) -> tuple[int, bool, str, str, dict[str, object] | None]:
    """``(exit status, click imported, stdout with ids and times masked,
    stderr, the newest checkpoint's reason and note)``, on a new state."""
    repo.write("work.txt", f"{module} {args}\n")
    rc, clicked, out, err = _run_via(repo, module, function, ["checkpoint", *args])
    masked = re.sub(r"[0-9a-f]{40}|[0-9a-f]{10}|\d+(\.\d+)?( ms)?", "N", out)
    newest = json.loads(repo.recover("list", "-n", "1", "--json").stdout)
    latest = {key: newest[0][key] for key in ("reason", "message")} if newest else None
    return rc, clicked, masked, err, latest


def test_checkpoint_s_plain_forms_skip_click_and_match_the_click_command(repo: GitRepo) -> None:
    """`git recover checkpoint` runs without click's 25-34 ms import in the
    forms scripts and agents use; each gives what the click command gives."""
    for args in ([], ["--json"], ["-m", "a note"], ["--message=a note", "--json"], ["--reason", "pre-x"],
                 ["--reason=pre-x", "-m", "n", "--reason", "last"], ["--message="]):
        plain = _checkpoint_via(repo, "main", "main", args)
        clicked = _checkpoint_via(repo, "app", "run_cli", args)
        assert plain[0] == 0 and not plain[1], (args, plain)
        assert clicked[1], args
        assert plain[0::2] == clicked[0::2], args  # status, output, stderr, what was recorded


def test_checkpoint_s_other_forms_go_to_click(repo: GitRepo) -> None:
    for args in (["-h"], ["--bogus"], ["-m"], ["-m", "--json"], ["-mnote"], ["--json", "extra"], ["--", "x"]):
        assert plain_checkpoint(args) is None, args
        plain = _checkpoint_via(repo, "main", "main", args)
        clicked = _checkpoint_via(repo, "app", "run_cli", args)
        assert plain[1], args
        assert plain[0::2] == clicked[0::2], args


def _verify_via(repo: GitRepo, module: str, function: str, args: list[str]) -> tuple[int, bool, str, str]:
    """``(exit status, click imported, stdout with times masked, stderr)``."""
    rc, clicked, out, err = _run_via(repo, module, function, ["verify", *args])
    return rc, clicked, re.sub(r"\(\d+ ms\)", "(N ms)", out), err


def test_verify_s_plain_forms_skip_click_and_match_the_click_command(repo: GitRepo) -> None:
    """`git recover verify` runs without click's import in its plain forms
    (a third of the command at 1k files); each gives what click's gives,
    findings and errors included."""
    first = json.loads(repo.recover("checkpoint", "--json").stdout)["short"]
    repo.write("a.txt", "changed\n")
    repo.recover("checkpoint")
    for args in ([], ["last"], [first], ["--all"], ["--worktree"], ["--worktree", first], [first, "--all"],
                 ["--all", "--worktree"], ["no-such-checkpoint"]):
        plain = _verify_via(repo, "main", "main", args)
        clicked = _verify_via(repo, "app", "run_cli", args)
        assert not plain[1] and clicked[1], args
        assert plain[0::2] == clicked[0::2], args  # status, output, stderr
    assert _verify_via(repo, "main", "main", ["--worktree", first])[0] == 2  # the live state differs: a finding
    for args in (["-h"], ["--bogus"], ["a", "b"], ["--all=1"]):
        assert plain_verify(args) is None, args
        plain = _verify_via(repo, "main", "main", args)
        assert plain[1], args
        assert plain[0::2] == _verify_via(repo, "app", "run_cli", args)[0::2], args


def test_a_note_given_with_a_reason_names_an_unchanged_state(repo: GitRepo) -> None:
    """`checkpoint -m NOTE --reason R` on a state the newest checkpoint holds
    writes a new, named checkpoint, as `-m` alone does; the note used to be
    dropped in silence whenever a reason was given."""
    repo.recover("checkpoint", "-m", "first")
    proc = repo.recover("checkpoint", "-m", "second", "--reason", "review")
    assert "unchanged" not in proc.stdout
    newest = json.loads(repo.recover("list", "-n", "1", "--json").stdout)[0]
    assert (newest["reason"], newest["message"]) == ("review", "second")
    assert len(checkpoint_refs(repo)) == 2


def test_an_empty_or_multi_line_reason_is_a_usage_error(repo: GitRepo) -> None:
    for args in (["--reason", ""], ["--reason=a\nb"], ["--reason", " ", "--json"]):
        proc = repo.recover("checkpoint", *args, check=False)
        assert proc.returncode == 3, args
        assert proc.stderr == "git-recover: --reason must be a non-empty line of printable characters\n"
    assert checkpoint_refs(repo) == []


def test_a_missing_option_value_points_to_the_command_s_help(repo: GitRepo) -> None:
    for command, option in (("checkpoint", "-m"), ("list", "--max-count")):
        proc = repo.recover(command, option, check=False)
        assert proc.returncode == 3
        assert proc.stderr.endswith(f"(see `git recover {command} -h`)\n"), proc.stderr


def test_a_note_and_a_branch_that_are_not_utf8_are_recorded(repo: GitRepo) -> None:
    """Command lines and branch names are bytes: a strict encoding failed the
    checkpoint with a traceback."""
    repo.git("checkout", "-q", "-b", os.fsdecode(b"topic-\xfd"))
    repo.write("work.txt", "x\n")
    proc = subprocess.run([sys.executable, "-P", "-m", "recovery", "checkpoint", "-m", os.fsdecode(b"note \xff")],
                          cwd=repo.path, capture_output=True)
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    assert len(checkpoint_refs(repo)) == 1
    listed = repo.recover("list").stdout
    assert '"note \\377"' in listed and "topic-\\375" in listed


def test_a_reader_that_leaves_early_gets_no_error_from_a_plain_checkpoint(repo: GitRepo) -> None:
    """`checkpoint | true`: quiet, exit 1, as the click commands are; the
    checkpoint is taken all the same."""
    repo.write("work.txt", "x\n")
    proc = subprocess.run(f"{sys.executable} -P -m recovery checkpoint -m x | true; echo $" + "{PIPESTATUS[0]}",
                          shell=True, executable="/bin/bash", cwd=repo.path, capture_output=True, text=True)
    assert (proc.stdout, proc.stderr) == ("1\n", "")
    assert len(checkpoint_refs(repo)) == 1


def test_the_same_note_twice_names_the_state_once(repo: GitRepo) -> None:
    """A note is compared as it is read back: one with a tab or a byte that
    is not UTF-8 made a new checkpoint every time; an empty one names nothing."""
    repo.write("work.txt", "x\n")
    for note in ("tab\there", os.fsdecode(b"byte \xe9")):
        for _ in range(2):
            subprocess.run([sys.executable, "-P", "-m", "recovery", "checkpoint", "-m", note], cwd=repo.path,
                           check=True, capture_output=True)
    assert len(checkpoint_refs(repo)) == 2
    assert "unchanged" in repo.recover("checkpoint", "-m", "").stdout
    assert len(checkpoint_refs(repo)) == 2


def test_a_restore_reason_is_a_restore_s_own(repo: GitRepo) -> None:
    proc = repo.recover("checkpoint", "-m", "mine", "--reason", "restore-safety", check=False)
    assert (proc.returncode, proc.stderr) == (3, "git-recover: --reason restore-safety: restore-* reasons are "
                                                 "a restore's own\n")
    assert checkpoint_refs(repo) == []


def test_dash_dash_without_paths_is_refused(repo: GitRepo) -> None:
    """`restore last -- $FILES` with an empty variable: a whole-tree restore
    would remove every file created since."""
    repo.recover("checkpoint")
    repo.write("new.txt", "created since\n")
    for paths in ([], [""], ["", "README.md"]):  # `-- "$FILES"` with an empty variable: the top level
        proc = repo.recover("restore", "last", "--", *paths, check=False)
        assert proc.returncode == 3 and "`--` is followed by no path or an empty one" in proc.stderr, paths
        assert repo.read("new.txt") == b"created since\n"
