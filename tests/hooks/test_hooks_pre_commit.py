"""The pre-commit framework route: the manifest, the stash window (pre-commit
sets unstaged changes aside before hooks run; shared case 01), a post-merge
restore through the framework, and ``pre-commit try-repo`` on a copy of this
project."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pre_commit.clientlib import load_manifest

from recovery.hooks import HOOKS
from tests.conftest import CASES, ROOT, GitRepo, needs_shared
from tests.core.helpers import disk_state
from tests.hooks.helpers import captures, checkpoints_by_reason, label, no_bad_gate

# pip's words when the package index cannot be reached.
_OFFLINE = ("Failed to establish a new connection", "Temporary failure in name resolution",
            "No matching distribution found")
STAGES = ("pre-commit", "pre-merge-commit", "pre-push", "pre-rebase", "post-checkout", "post-commit",
          "post-merge", "post-rewrite")


def test_manifest_has_one_hook_per_stage_and_links() -> None:
    hooks = {h["id"]: h for h in load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))}
    assert set(hooks) == {f"recover-{s}" for s in STAGES} | {"recover-links"}
    assert set(STAGES) == set(HOOKS)
    for stage in STAGES:
        hook = hooks[f"recover-{stage}"]
        assert hook["entry"] == f"git-recover hook {stage}"
        assert (hook["language"], hook["pass_filenames"], hook["always_run"], hook["require_serial"]) == (
            "python", False, True, True)
        assert hook["stages"] == [stage]
        assert hook["minimum_pre_commit_version"] == "3.2.0"
    links = hooks["recover-links"]
    assert (links["entry"], links["pass_filenames"], links["types"]) == ("git-recover links", False, ["markdown"])
    # Not always_run: it runs when Markdown files are part of the change.
    assert (links["language"], links["always_run"], links["require_serial"]) == ("python", False, True)
    assert links["minimum_pre_commit_version"] == "3.2.0"


def _local_config(stages: tuple[str, ...]) -> str:
    """A consuming repository's config: our hook ids as `repo: local` hooks that run
    this interpreter (what `language: python` installs, without the network)."""
    hooks = [{"id": f"recover-{s}", "name": f"git-recover {s}",
              "entry": f"{sys.executable} -m recovery hook {s}", "language": "system",
              "pass_filenames": False, "always_run": True, "require_serial": True, "stages": [s]}
             for s in stages]
    return yaml.safe_dump({"default_install_hook_types": list(stages),
                           "repos": [{"repo": "local", "hooks": hooks}]}, sort_keys=False)


def _pre_commit(repo: GitRepo, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=repo.path, check=True,
                   capture_output=True)


@pytest.fixture
def pre_commit_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "pre-commit-home"
    monkeypatch.setenv("PRE_COMMIT_HOME", str(home))
    return home


def test_stash_window_checkpoint_holds_unstaged_work(tmp_path: Path, pre_commit_home: Path) -> None:
    """Shared case 01 under the real pre-commit: the gate fails on staged a.py while
    b.py has unstaged edits that pre-commit stashes before our hook runs. The
    commit is refused, b.py is on disk byte for byte, and the checkpoint holds it."""
    script = needs_shared(CASES / "01-unstaged-edit-and-failing-gate.sh")
    repo = GitRepo(tmp_path / "case01")
    subprocess.run(["bash", str(script), str(repo.path)], check=True, capture_output=True)
    unstaged = repo.read("b.py")
    head = repo.git("rev-parse", "HEAD")
    repo.write(".pre-commit-config.yaml", _local_config(("pre-commit", "post-commit")))
    repo.write(".recover.toml", no_bad_gate())
    repo.git("add", ".pre-commit-config.yaml", ".recover.toml")
    _pre_commit(repo, "install")

    proc = subprocess.run(["git", "commit", "-m", "bad"], cwd=repo.path, capture_output=True, text=True,
                          check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Stashing unstaged files" in out  # the window was real
    assert "pre-commit blocked by gate nobad" in out
    assert repo.git("rev-parse", "HEAD") == head
    assert repo.read("b.py") == unstaged
    assert repo.read("a.py") == b"x = 1  # BAD\n"

    (checkpoint,) = checkpoints_by_reason(repo, "pre-commit")
    (staged,) = checkpoints_by_reason(repo, "pre-commit-staged")
    assert subprocess.run(["git", "show", f"{staged}:b.py"], cwd=repo.path, capture_output=True,
                          check=True).stdout == b"y = 2\n"  # what the gate saw: b.py as staged
    held = subprocess.run(["git", "show", f"{checkpoint}:b.py"], cwd=repo.path, capture_output=True,
                          check=True).stdout
    assert held == unstaged
    # Even if the framework had lost it, `git recover restore` brings it back.
    repo.write("b.py", "lost\n")
    repo.recover("restore", checkpoint)
    assert repo.read("b.py") == unstaged


def test_post_merge_restore_through_pre_commit(repo: GitRepo, pre_commit_home: Path) -> None:
    repo.write("a.py", "x = 1\n")
    repo.write(".pre-commit-config.yaml", _local_config(("pre-commit", "post-commit", "post-merge")))
    repo.write(".recover.toml", no_bad_gate())
    repo.commit_all("setup")
    _pre_commit(repo, "install")
    repo.git("commit", "-q", "--allow-empty", "-m", "good")
    good_head = repo.git("rev-parse", "HEAD")
    assert label(repo, "good") is not None
    good_disk = disk_state(repo.path)
    repo.git("checkout", "-q", "-b", "bad")
    repo.write("a.py", "x = 1  # BAD\n")
    repo.git("commit", "-q", "--no-verify", "-am", "bad")
    repo.git("checkout", "-q", "main")
    proc = subprocess.run(["git", "merge", "--ff-only", "bad"], cwd=repo.path, capture_output=True, text=True,
                          check=False)
    assert "undid the merge" in proc.stdout + proc.stderr
    assert repo.git("rev-parse", "HEAD") == good_head
    assert disk_state(repo.path) == good_disk


def test_pre_commit_installed_over_ours_chains_it(repo: GitRepo, pre_commit_home: Path) -> None:
    """`pre-commit install` after `git recover install` renames our hook
    pre-commit.legacy and runs it first: it still knows which hook it is."""
    repo.write(".pre-commit-config.yaml", _local_config(("pre-commit",)))
    repo.commit_all("config")
    repo.recover("install", "--hook", "pre-commit")
    _pre_commit(repo, "install")
    assert (repo.path / ".git" / "hooks" / "pre-commit.legacy").exists()
    repo.write("README.md", "changed\n")
    proc = subprocess.run(["git", "commit", "-qam", "both"], cwd=repo.path, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert checkpoints_by_reason(repo, "pre-commit")


@pytest.mark.slow
def test_try_repo_against_a_copy_of_this_project(repo: GitRepo, tmp_path: Path, pre_commit_home: Path) -> None:
    """`pre-commit try-repo` installs this project with `language: python` (from a
    committed copy, since the checkout may be in use) and runs the hook id."""
    copy = GitRepo(tmp_path / "project")
    copy.path.mkdir()
    for name in ("recovery", "docs", "hooks"):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, copy.path / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", ".pre-commit-hooks.yaml", "README.md"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, copy.path / name)
    copy.git("init", "-q", "-b", "main")
    copy.commit_all("project")
    repo.write("a.py", "x = 1  # BAD\n")
    repo.write(".recover.toml", no_bad_gate())
    repo.git("add", "-A")
    proc = subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(copy.path), "recover-pre-commit",
                           "--verbose"], cwd=repo.path, capture_output=True, text=True, check=False,
                          env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    out = proc.stdout + proc.stderr
    if any(sign in out for sign in _OFFLINE):
        pytest.skip(f"pre-commit could not build the hook environment (offline?): {out[-300:]}")
    assert proc.returncode == 1, out
    assert "git-recover pre-commit" in out and "Failed" in out
    assert "pre-commit blocked by gate nobad" in out
    assert checkpoints_by_reason(repo, "pre-commit")


_DISK_PROBE = """
import hashlib, json, os, sys
state = {}
for name in sorted(os.listdir(".")):
    if os.path.isfile(name):
        info = os.stat(name)
        state[name] = [hashlib.sha1(open(name, "rb").read()).hexdigest(), info.st_mtime_ns]
record = sys.argv[2]
if sys.argv[1] == "save":
    json.dump(state, open(record, "w"))
elif json.load(open(record)) != state:
    print("DISK CHANGED DURING THE RECOVER HOOK")
    sys.exit(1)
"""


def test_stash_patch_is_checkpointed_after_a_hook_that_runs_git_add(tmp_path: Path, pre_commit_home: Path) -> None:
    """A formatter hook re-stages a.py before ours runs, so pre-commit's stash
    patch no longer applies to the disk (pre-commit #2473). The checkpoint must
    still hold the unstaged work, and our hook must not write the user's files."""
    repo = GitRepo(tmp_path / "r")
    repo.path.mkdir()
    repo.git("init", "-q", "-b", "main")
    repo.write("a.py", "a = 1\n")
    repo.write("b.py", "b = 1\n")
    repo.commit_all("base")
    probe = tmp_path / "probe.py"
    probe.write_text(_DISK_PROBE)
    record = tmp_path / "disk.json"

    def local(hook_id: str, entry: str) -> dict[str, object]:
        return {"id": hook_id, "name": hook_id, "entry": entry, "language": "system", "pass_filenames": False,
                "always_run": True, "require_serial": True, "stages": ["pre-commit"]}

    config = yaml.safe_load(_local_config(("pre-commit",)))
    ours = config["repos"][0]["hooks"]
    config["repos"][0]["hooks"] = [
        local("format", "sh -c 'printf \"# formatted\\n\" >> a.py && git add a.py'"),
        local("disk-before", f"{sys.executable} {probe} save {record}"),
        *ours,
        local("disk-after", f"{sys.executable} {probe} check {record}"),
    ]
    repo.write(".pre-commit-config.yaml", yaml.safe_dump(config, sort_keys=False))
    repo.git("add", ".pre-commit-config.yaml")
    _pre_commit(repo, "install")
    repo.write("a.py", "a = 2  # staged\n")
    repo.git("add", "a.py")
    repo.write("a.py", "a = 2  # staged\nunstaged_a = True\n")
    repo.write("b.py", "b = 2  # unstaged\n")
    worktree = {name: repo.read(name) for name in ("a.py", "b.py")}

    proc = subprocess.run(["git", "commit", "-m", "x"], cwd=repo.path, capture_output=True, text=True, check=False)
    out = proc.stdout + proc.stderr
    assert "Stashing unstaged files" in out  # the window was real
    assert "DISK CHANGED" not in out and "staged state only" not in out and "NOT in this checkpoint" not in out, out
    assert "disk-after" in out and "Passed" in out.split("disk-after", 1)[1].splitlines()[0]
    (checkpoint,) = checkpoints_by_reason(repo, "pre-commit")
    for name, content in worktree.items():
        held = subprocess.run(["git", "show", f"{checkpoint}:{name}"], cwd=repo.path, capture_output=True,
                              check=True).stdout
        assert held == content, name
    # pre-commit's own rollback cannot re-apply its patch either and leaves the
    # work only in its patch file; the checkpoint brings it back.
    repo.recover("restore", checkpoint, "--", "a.py", "b.py")
    assert {name: repo.read(name) for name in worktree} == worktree


@pytest.mark.parametrize(("unstaged", "expected"), [(False, {1}), (True, {2, 3})])
def test_captures_of_a_commit_through_pre_commit(repo: GitRepo, tmp_path: Path, pre_commit_home: Path,
                                                 unstaged: bool, expected: set[int]) -> None:
    """With nothing unstaged the framework sets nothing aside: one capture serves
    the checkpoint, the gates and post-commit. With unstaged changes pre-commit
    stashes them around the pre-commit hooks *and* around the post-commit hooks:
    the window checkpoint (with the stash patch), the staged state the gates
    test, and post-commit's state (the files were rewritten by the stash): three,
    or two when that rewrite left every file's stat data as it was (same size,
    inode reused, within git's timestamp granularity), so post-commit could
    build on the staged capture. `good` is then the staged state the gates passed on; the unstaged work is
    on disk and in the pre-commit checkpoint."""
    repo.write("a.py", "x = 1\n")
    repo.write("b.py", "y = 2\n")
    repo.write(".pre-commit-config.yaml", _local_config(("pre-commit", "post-commit")))
    repo.write(".recover.toml", no_bad_gate())
    repo.commit_all("base")
    _pre_commit(repo, "install")
    repo.write("a.py", "x = 2\n")
    repo.git("add", "a.py")
    if unstaged:
        repo.write("b.py", "y = 3  # unstaged\n")
    trace = tmp_path / "trace.json"
    proc = subprocess.run(["git", "commit", "-q", "-m", "through pre-commit"], cwd=repo.path, capture_output=True,
                          text=True, check=False, env={**os.environ, "GIT_TRACE2_EVENT": str(trace)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ("Stashing unstaged files" in proc.stdout + proc.stderr) is unstaged
    argvs = [" ".join(e["argv"]) for e in map(json.loads, trace.read_text().splitlines()) if e["event"] == "start"]
    assert captures(argvs) in expected, "\n".join(argvs)
    good = label(repo, "good")
    assert good is not None and repo.git("rev-parse", f"{good}^1") == repo.git("rev-parse", "HEAD")
    assert repo.git("show", f"{good}:a.py") == "x = 2" and repo.git("show", f"{good}:b.py") == "y = 2"
    if unstaged:
        assert repo.read("b.py") == b"y = 3  # unstaged\n"
        (window,) = checkpoints_by_reason(repo, "pre-commit")
        assert repo.git("show", f"{window}:b.py") == "y = 3  # unstaged"
    else:
        out = repo.recover("checkpoint").stdout
        assert out.startswith(f"checkpoint {good[:10]} ") and "unchanged" in out, out
