"""The Claude Code hook commands on real repositories, fed JSON payloads of the
shapes the client (2.1.197) sends, run as the separate processes the client starts.
The real client itself drives them in test_agent_client.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GitRepo
from tests.core.helpers import checkpoint_refs, disk_state

SESSION = "5f1c2a9e-7b3d-4c1e-9a0f-2b6d8e4c1a7b"


def hook(repo: GitRepo, event: str, payload: dict[str, Any] | bytes, cwd: Path | None = None,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``git-recover agent-hook EVENT`` as the client does: JSON on stdin,
    in ``cwd`` (the shell's directory), CLAUDE_PROJECT_DIR set to the project."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    full = {**os.environ, "CLAUDE_PROJECT_DIR": str(repo.path), **(env or {})}
    proc = subprocess.run([sys.executable, "-P", "-m", "recovery", "agent-hook", event], input=data,
                          cwd=cwd or repo.path, capture_output=True, env=full, check=False)
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def base(repo: GitRepo, event: str, **fields: Any) -> dict[str, Any]:
    return {"session_id": SESSION, "transcript_path": str(repo.path / "t.jsonl"), "cwd": str(repo.path),
            "hook_event_name": event, "permission_mode": "bypassPermissions",
            "some_future_field": {"nested": [1, 2]}, **fields}


def prompt(repo: GitRepo, prompt_id: str, text: str) -> subprocess.CompletedProcess[str]:
    return hook(repo, "UserPromptSubmit", base(repo, "UserPromptSubmit", prompt_id=prompt_id, prompt=text))


def pre_tool(repo: GitRepo, prompt_id: str | None, tool: str, tool_input: dict[str, Any], use_id: str,
             cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    fields: dict[str, Any] = {"tool_name": tool, "tool_input": tool_input, "tool_use_id": use_id}
    if prompt_id:
        fields["prompt_id"] = prompt_id
    return hook(repo, "PreToolUse", base(repo, "PreToolUse", **fields), cwd=cwd, env=env)


def session_records(repo: GitRepo) -> list[dict[str, Any]]:
    path = repo.path / ".git/recovery/agent" / f"{SESSION}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_prompt_and_its_tool_calls_are_checkpointed_and_rewound_byte_for_byte(repo: GitRepo) -> None:
    repo.write("src/keep.py", "print('v1')\n")
    repo.write("src/data.bin", bytes(range(256)) * 10)
    repo.commit_all("src")
    repo.write("notes.txt", "uncommitted work\n")  # never committed: only a checkpoint holds it
    before_prompt_2 = None

    assert prompt(repo, "p-1", "Write the notes\nsecond line").returncode == 0
    [first] = checkpoint_refs(repo)
    state_before_1 = disk_state(repo.path)
    # Write: nothing changed since the prompt's checkpoint, no second capture
    assert pre_tool(repo, "p-1", "Write", {"file_path": str(repo.path / "notes.txt"), "content": "x"},
                    "toolu_1").returncode == 0
    assert len(checkpoint_refs(repo)) == 1
    repo.write("notes.txt", "written by the agent\n")
    assert prompt(repo, "p-2", "Now clean up").returncode == 0
    before_prompt_2 = disk_state(repo.path)
    # a Bash that overwrites a file and deletes a directory, from a subdirectory
    (repo.path / "src/sub").mkdir()
    assert pre_tool(repo, "p-2", "Bash", {"command": "rm -rf src && echo gone > notes.txt"}, "toolu_2",
                    cwd=repo.path / "src/sub").returncode == 0
    shutil.rmtree(repo.path / "src")
    repo.write("notes.txt", "gone\n")

    records = session_records(repo)
    assert [(r["kind"], r["n"]) for r in records] == [("prompt", 1), ("tool", 1), ("prompt", 2), ("tool", 2)]
    assert records[0]["line"] == "Write the notes"
    assert records[1]["checkpoint"] == first.split()[0]  # the state before Write is the prompt's
    assert records[3]["tool"] == "Bash" and records[3]["target"] == "rm -rf src && echo gone > notes.txt"

    listing = repo.recover("list", "--session").stdout
    assert f"session {SESSION}: 2 prompt(s)" in listing
    assert "prompt 1" in listing and "Write the notes" in listing and "rm -rf src" in listing

    out = repo.recover("rewind", "2").stdout
    assert "rewinding to just before prompt 2" in out and "OK, byte-identical" in out
    assert disk_state(repo.path) == before_prompt_2  # every deleted and overwritten byte is back
    repo.recover("restore", "prompt:1")
    assert disk_state(repo.path) == state_before_1
    repo.recover("undo")
    assert disk_state(repo.path) == before_prompt_2


def test_read_only_tools_take_no_checkpoint_and_leave_no_record(repo: GitRepo) -> None:
    for tool in ("Read", "Grep", "Glob", "WebFetch"):
        assert pre_tool(repo, "p-1", tool, {"file_path": "README.md"}, f"t-{tool}").returncode == 0
    assert checkpoint_refs(repo) == []
    assert not (repo.path / ".git/recovery/agent").exists()


def test_tool_results_and_failures_are_recorded(repo: GitRepo) -> None:
    prompt(repo, "p-1", "go")
    pre_tool(repo, "p-1", "Bash", {"command": "false"}, "t-1")
    pre_tool(repo, "p-1", "Edit", {"file_path": str(repo.path / "README.md")}, "t-2")
    failure = base(repo, "PostToolUseFailure", prompt_id="p-1", tool_name="Bash", tool_use_id="t-1",
                   tool_input={"command": "false"}, error="Exit code 1\nmore")
    assert hook(repo, "PostToolUseFailure", failure).returncode == 0
    done = base(repo, "PostToolUse", prompt_id="p-1", tool_name="Edit", tool_use_id="t-2",
                tool_input={"file_path": str(repo.path / "README.md")}, tool_response={"ok": True})
    assert hook(repo, "PostToolUse", done).returncode == 0
    data = json.loads(repo.recover("list", "--session", SESSION[:8], "--json").stdout)
    tools = data["prompts"][0]["tools"]
    assert [(t["tool"], t["target"], t["outcome"], t["error"]) for t in tools] == [
        ("Bash", "false", "failed", "Exit code 1"), ("Edit", "README.md", "done", None)]


def test_prompts_are_numbered_by_git_recover(repo: GitRepo) -> None:
    for i, pid in enumerate(["a1b2", "c3d4", "e5f6"], 1):
        prompt(repo, pid, f"prompt {i}")
        repo.write(f"f{i}.txt", f"{i}\n")
    prompt(repo, "c3d4", "the same prompt again")  # a repeated event keeps its number
    pre_tool(repo, "never-seen", "Write", {"file_path": "x"}, "t-9")  # installed mid-prompt
    data = json.loads(repo.recover("list", "--session", "--json").stdout)
    assert [(p["number"], p["line"]) for p in data["prompts"]] == [
        (1, "prompt 1"), (2, "the same prompt again"), (3, "prompt 3"), (4, None)]
    bad = repo.recover("rewind", "9", check=False)
    assert bad.returncode == 3 and "has no prompt 9 (prompts 1-4)" in bad.stderr


def test_a_client_that_sends_no_ids_gets_its_prompts_numbered_and_its_results_matched(repo: GitRepo) -> None:
    """Without ``prompt_id`` every prompt was numbered 1, and without
    ``tool_use_id`` every call stayed "running"."""
    for i in (1, 2):
        submitted = hook(repo, "UserPromptSubmit", base(repo, "UserPromptSubmit", prompt=f"prompt {i}"))
        assert submitted.returncode == 0, submitted.stderr
        repo.write(f"f{i}.txt", f"{i}\n")
        call = {"tool_name": "Bash", "tool_input": {"command": f"make {i}"}}
        assert hook(repo, "PreToolUse", base(repo, "PreToolUse", **call)).returncode == 0
        assert hook(repo, "PostToolUse", base(repo, "PostToolUse", **call, tool_response={})).returncode == 0
    data = json.loads(repo.recover("list", "--session", "--json").stdout)
    assert [(p["number"], p["line"], [(t["target"], t["outcome"]) for t in p["tools"]]) for p in data["prompts"]] == [
        (1, "prompt 1", [("make 1", "done")]), (2, "prompt 2", [("make 2", "done")])]
    rewound = repo.recover("rewind", "2")
    assert rewound.returncode == 0
    assert repo.read("f1.txt") == b"1\n" and not (repo.path / "f2.txt").exists()


def test_a_checkpoint_that_left_a_file_out_is_not_reused_by_the_next_tool_call(repo: GitRepo) -> None:
    """Raising the size cap, as the warning advises, changes no file: the next
    tool call reused the checkpoint that lacked the file, and a ``rm`` after
    it lost the file. A checkpoint that left something out vouches for nothing."""
    repo.git("config", "recover.maxUntrackedSize", "10")
    repo.write("big.txt", "x" * 100)
    assert pre_tool(repo, "p-1", "Bash", {"command": "ls"}, "t-1").returncode == 0
    repo.git("config", "recover.maxUntrackedSize", "1k")
    assert pre_tool(repo, "p-1", "Bash", {"command": "rm big.txt"}, "t-2").returncode == 0
    newest = json.loads(repo.recover("list", "--all", "-n", "1", "--json").stdout)[0]
    assert repo.git("cat-file", "blob", f"{newest['worktree_tree']}:big.txt") == "x" * 100

    # The same when the skipped file appears after a complete checkpoint of
    # the same trees (the capture then matched that checkpoint, which vouched
    # for a state without the file).
    (repo.path / "big.txt").unlink()
    assert pre_tool(repo, "p-1", "Bash", {"command": "ls"}, "t-3").returncode == 0  # complete
    repo.git("config", "recover.maxUntrackedSize", "10")
    repo.write("later.txt", "y" * 100)
    assert pre_tool(repo, "p-1", "Bash", {"command": "ls"}, "t-4").returncode == 0  # the same trees, later.txt skipped
    repo.git("config", "recover.maxUntrackedSize", "1k")
    assert pre_tool(repo, "p-1", "Bash", {"command": "rm later.txt"}, "t-5").returncode == 0
    newest = json.loads(repo.recover("list", "--all", "-n", "1", "--json").stdout)[0]
    assert repo.git("cat-file", "blob", f"{newest['worktree_tree']}:later.txt") == "y" * 100


def test_a_closed_stdout_does_not_turn_the_agent_hook_off(repo: GitRepo) -> None:
    """Commands refuse to run with stdout closed; the agent hook, which barely
    writes to it, must still checkpoint before the tool runs."""
    repo.write("README.md", "work\n")
    payload = base(repo, "PreToolUse", tool_name="Bash", tool_input={"command": "rm -rf ."}, tool_use_id="t-1")
    proc = subprocess.run([sys.executable, "-P", "-m", "recovery", "agent-hook", "PreToolUse"],
                          input=json.dumps(payload).encode(), cwd=repo.path, stderr=subprocess.PIPE,
                          env={**os.environ, "CLAUDE_PROJECT_DIR": str(repo.path)},
                          preexec_fn=lambda: os.close(1))
    assert proc.returncode == 0, proc.stderr
    assert len(checkpoint_refs(repo)) == 1


def test_project_dir_is_found_from_a_subdirectory_without_the_variable(repo: GitRepo) -> None:
    sub = repo.path / "pkg/deep"
    sub.mkdir(parents=True)
    env = {"CLAUDE_PROJECT_DIR": ""}
    payload = base(repo, "UserPromptSubmit", prompt_id="p", prompt="x", cwd=str(sub))
    assert hook(repo, "UserPromptSubmit", payload, cwd=sub, env=env).returncode == 0
    assert len(checkpoint_refs(repo)) == 1


def test_a_linked_worktree_is_checkpointed_in_its_own_namespace(repo: GitRepo, tmp_path: Path) -> None:
    linked = tmp_path / "linked"
    repo.git("worktree", "add", "-q", str(linked))
    other = GitRepo(linked)
    (linked / "new.txt").write_text("in the linked worktree\n")
    assert prompt(other, "p", "work there").returncode == 0
    refs = checkpoint_refs(repo)
    assert len(refs) == 1 and "refs/recovery/wt-linked/cp/" in refs[0]


def test_own_errors_never_block_the_agent(repo: GitRepo, tmp_path: Path) -> None:
    garbage = hook(repo, "PreToolUse", b"{not json")
    assert garbage.returncode == 0 and "the input is not JSON" in garbage.stderr
    outside = tmp_path / "plain"
    outside.mkdir()
    away = hook(repo, "UserPromptSubmit", base(repo, "UserPromptSubmit", prompt="x"), cwd=outside,
                env={"CLAUDE_PROJECT_DIR": str(outside)})
    assert away.returncode == 0 and away.stdout == ""
    # the state directory is unusable: say so on stderr, exit 0, the tool runs
    (repo.path / ".git/recovery").mkdir(exist_ok=True)
    (repo.path / ".git/recovery/agent").write_text("a file where a directory should be")
    broken = pre_tool(repo, "p", "Bash", {"command": "ls"}, "t")
    assert broken.returncode == 0
    assert broken.stderr.startswith("git-recover: PreToolUse hook: ") and "Traceback" not in broken.stderr
    assert hook(repo, "NoSuchEvent", base(repo, "NoSuchEvent")).returncode == 0


def test_session_start_says_the_recovery_point_and_broken_imports(repo: GitRepo) -> None:
    repo.write("CLAUDE.md", "see @docs/missing.md\n")
    first = hook(repo, "SessionStart", base(repo, "SessionStart", source="startup"))
    assert first.returncode == 0
    assert first.stdout.startswith("git-recover: recovery point: no checkpoint yet")
    assert "1 broken @-import(s)" in first.stdout
    prompt(repo, "p", "x")
    again = hook(repo, "SessionStart", base(repo, "SessionStart", source="resume"))
    assert "recovery point: checkpoint " in again.stdout and "(agent-prompt)" in again.stdout
    assert len(again.stdout.strip().splitlines()) == 1


def test_an_agent_gate_failure_is_fed_back_and_nothing_is_restored(repo: GitRepo) -> None:
    repo.write(".recover.toml", '[gates.check]\ncommand = ["sh", "-c", "grep -q TODO notes.md && '
                                'echo notes.md still has a TODO && exit 1 || exit 0"]\nstages = ["agent"]\n')
    repo.commit_all("gates")
    repo.git("config", "recover.trusted", "true")
    repo.write("notes.md", "TODO finish\n")
    payload = base(repo, "PostToolUse", prompt_id="p", tool_name="Write", tool_use_id="t",
                   tool_input={"file_path": str(repo.path / "notes.md"), "content": "TODO finish\n"})
    failed = hook(repo, "PostToolUse", payload)
    assert failed.returncode == 2
    assert "git-recover: gate check failed after Write notes.md" in failed.stderr
    assert "notes.md still has a TODO" in failed.stderr
    assert repo.read("notes.md") == b"TODO finish\n"  # never restored behind the agent's back
    repo.write("notes.md", "finished\n")
    assert hook(repo, "PostToolUse", payload).returncode == 0


def test_install_merges_and_uninstall_removes_only_ours(repo: GitRepo) -> None:
    settings = repo.path / ".claude/settings.json"
    foreign = {"model": "x", "hooks": {"PreToolUse": [
        {"matcher": "Bash", "hooks": [{"type": "command", "command": "./audit.sh"}]}],
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}]}}
    repo.write(".claude/settings.json", json.dumps(foreign))
    repo.recover("agent", "install")
    once = settings.read_text()
    repo.recover("agent", "install")
    assert settings.read_text() == once  # idempotent
    data = json.loads(once)
    assert data["model"] == "x"
    pre = data["hooks"]["PreToolUse"]
    assert pre[0] == foreign["hooks"]["PreToolUse"][0]
    assert pre[1]["matcher"] == "Write|Edit|MultiEdit|NotebookEdit|Bash"
    assert pre[1]["hooks"][0]["command"].endswith("agent-hook PreToolUse")
    assert set(data["hooks"]) == {"PreToolUse", "Stop", "SessionStart", "UserPromptSubmit", "PostToolUse",
                                  "PostToolUseFailure"}
    out = repo.recover("agent", "uninstall").stdout
    assert "other hooks kept" in out
    assert json.loads(settings.read_text()) == foreign
    assert "nothing changed" in repo.recover("agent", "uninstall").stdout


def test_install_local_and_a_broken_settings_file_is_never_overwritten(repo: GitRepo) -> None:
    repo.recover("agent", "install", "--local")
    local = json.loads((repo.path / ".claude/settings.local.json").read_text())
    assert "-P -m recovery agent-hook UserPromptSubmit" in local["hooks"]["UserPromptSubmit"][0]["hooks"][0]["command"]
    assert not (repo.path / ".claude/settings.json").exists()
    repo.write(".claude/settings.json", "{broken")
    bad = repo.recover("agent", "install", check=False)
    assert bad.returncode == 3 and "is not valid JSON" in bad.stderr
    assert repo.read(".claude/settings.json") == b"{broken"


@pytest.mark.parametrize("tool,tool_input,target", [
    ("Write", {"file_path": "{top}/a/b.txt", "content": "x"}, "a/b.txt"),
    ("NotebookEdit", {"notebook_path": "{top}/n.ipynb", "new_source": "x"}, "n.ipynb"),
    ("MultiEdit", {"file_path": "/elsewhere/x.py", "edits": []}, "/elsewhere/x.py"),
    ("Bash", {"command": "rm  -rf\n build", "description": "clean"}, "rm -rf build"),
])
def test_tool_targets(repo: GitRepo, tool: str, tool_input: dict[str, Any], target: str) -> None:
    filled = {k: v.replace("{top}", str(repo.path)) if isinstance(v, str) else v for k, v in tool_input.items()}
    pre_tool(repo, "p", tool, filled, "t")
    assert session_records(repo)[-1]["target"] == target


def test_a_lone_surrogate_in_a_prompt_still_gets_its_checkpoint(repo: GitRepo) -> None:
    """JSON can carry a lone surrogate (``\\ud800``, half an emoji) that no
    UTF-8 text can: it failed the prompt's checkpoint and record, and the
    agent went on unprotected. It becomes ``?``; a whole emoji stays."""
    repo.write("work.txt", "before the prompt\n")
    data = json.dumps(base(repo, "UserPromptSubmit", prompt_id="p1", prompt="half \ud800 whole \U0001f600"))
    proc = hook(repo, "UserPromptSubmit", data.encode())
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    [line] = checkpoint_refs(repo)
    assert repo.git("show", f"{line.split()[0]}:work.txt") == "before the prompt"
    assert [r["line"] for r in session_records(repo) if r["kind"] == "prompt"] == ["half ? whole \U0001f600"]
    assert "half ? whole \U0001f600" in repo.recover("list", "--session").stdout


def test_a_payload_that_is_not_utf8_still_gets_its_checkpoint(repo: GitRepo) -> None:
    repo.write("work.txt", "before the prompt\n")
    data = json.dumps(base(repo, "UserPromptSubmit", prompt_id="p1", prompt="byte @")).encode().replace(b"@", b"\xff")
    proc = hook(repo, "UserPromptSubmit", data)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert len(checkpoint_refs(repo)) == 1
    assert [r["line"] for r in session_records(repo) if r["kind"] == "prompt"] == ["byte \ufffd"]


def test_a_checkpoint_without_untracked_files_is_not_reused_once_git_shows_them(repo: GitRepo) -> None:
    """With ``status.showUntrackedFiles=no`` a checkpoint holds no untracked
    file; the fingerprint lists them all the same, so a reused checkpoint would
    go on missing them after the user lifted the setting. The next hook captures."""
    repo.git("config", "status.showUntrackedFiles", "no")
    repo.write("notes.txt", "untracked work\n")
    assert pre_tool(repo, None, "Bash", {"command": "true"}, "u1").returncode == 0
    first = json.loads(repo.recover("list", "-n", "1", "--json").stdout)[0]
    assert "notes.txt" not in repo.git("ls-tree", "-r", "--name-only", first["worktree_tree"])
    repo.git("config", "--unset", "status.showUntrackedFiles")
    assert pre_tool(repo, None, "Bash", {"command": "true"}, "u2").returncode == 0
    newest = json.loads(repo.recover("list", "-n", "1", "--json").stdout)[0]
    assert newest["sha"] != first["sha"]
    assert repo.git("cat-file", "blob", f"{newest['worktree_tree']}:notes.txt") == "untracked work"
