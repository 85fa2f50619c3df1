"""The agent hooks driven by the REAL Claude Code client (the pinned npm
package, tests/claude/), talking to the scripted Messages API stand-in on
127.0.0.1: the client writes, edits, then deletes files from its shell, and
a second prompt of the same session deletes more; every state before every
tool call is in a checkpoint, and `git recover rewind` brings every byte back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from claude.client import Client
from claude.standin import StandIn, text, tool_use
from tests.conftest import GitRepo
from tests.core.helpers import disk_state

BYPASS = ("--permission-mode", "bypassPermissions")


def checkpoint_state(repo: GitRepo, sha: str) -> dict[str, bytes]:
    """Every file of a checkpoint's worktree tree and its bytes."""
    names = repo.git("ls-tree", "-r", "--name-only", sha).splitlines()
    return {name: subprocess.run(["git", "cat-file", "blob", f"{sha}:{name}"], cwd=repo.path,
                                 capture_output=True, check=True).stdout for name in names}


def files(repo: GitRepo) -> dict[str, bytes]:
    return {k: v[1] for k, v in disk_state(repo.path).items()}


def session(repo: GitRepo, sid: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(repo.recover("list", "--session", sid, "--json").stdout)
    return data


def test_real_client_every_state_before_each_tool_call_is_kept_and_rewound(
        claude_client: Client, repo: GitRepo, tmp_path: Path) -> None:
    top = repo.path
    home = tmp_path / "client-home"  # isolated, and kept between the two prompts (the transcript)
    home.mkdir()
    repo.write("src/app.py", "def main():\n    return 1\n")
    repo.write("src/data.bin", bytes(range(256)) * 40)
    repo.write("docs/guide.md", "# Guide\n\nold text\n")
    repo.commit_all("project")
    repo.write("src/wip.py", "work in progress, never committed\n")
    bindir = str(Path(sys.executable).parent)  # where `git-recover` is, as on a user's PATH
    env = {"PATH": f"{bindir}:{os.environ['PATH']}"}
    installed = repo.recover("agent", "install", env=env).stdout
    assert "git-recover agent-hook PreToolUse" in installed
    repo.git("add", ".claude/settings.json")
    repo.git("commit", "-q", "-m", "agent hooks")
    before_prompt_1 = files(repo)

    sid = str(uuid.uuid4())
    script_1 = [
        tool_use("Write", {"file_path": str(top / "notes.md"), "content": "agent notes\n"}),
        tool_use("Read", {"file_path": str(top / "docs/guide.md")}),  # the client edits only files it read
        tool_use("Edit", {"file_path": str(top / "docs/guide.md"), "old_string": "old text",
                          "new_string": "new text"}),
        tool_use("Bash", {"command": "cd docs", "description": "enter docs"}),
        # from docs/ (later hooks run there): delete a directory, overwrite a file
        tool_use("Bash", {"command": "rm -rf ../src && printf 'clobbered\\n' > guide.md",
                          "description": "clean up"}),
        text("done"),
    ]
    with StandIn(script_1) as api:
        proc = claude_client.run(top, "Tidy the project\nplease", api, args=(*BYPASS, "--session-id", sid),
                                 env=env, home=home)
    assert proc.returncode == 0, proc.stderr
    assert api.steps_taken == 5
    assert not (top / "src").exists()  # the shell really deleted the directory
    assert repo.read("docs/guide.md") == b"clobbered\n"
    after_prompt_1 = files(repo)

    with StandIn([tool_use("Bash", {"command": "rm notes.md", "description": "remove"}), text("ok")]) as api:
        proc = claude_client.run(top, "Remove the notes", api, args=(*BYPASS, "--resume", sid), env=env,
                                 home=home)
    assert proc.returncode == 0, proc.stderr
    assert api.steps_taken == 1
    assert not (top / "notes.md").exists()

    data = session(repo, sid)
    assert data["session"] == sid
    p1, p2 = data["prompts"]
    assert (p1["number"], p1["line"], p2["number"], p2["line"]) == (1, "Tidy the project", 2, "Remove the notes")
    assert [(t["tool"], t["target"], t["outcome"]) for t in p1["tools"]] == [
        ("Write", "notes.md", "done"), ("Edit", "docs/guide.md", "done"), ("Bash", "cd docs", "done"),
        ("Bash", "rm -rf ../src && printf 'clobbered\\n' > guide.md", "done")]
    # the state just before each tool call is in its checkpoint, byte for byte
    # (.claude/ is the client's own; compare the project files)
    edited = {**before_prompt_1, "notes.md": b"agent notes\n", "docs/guide.md": b"# Guide\n\nnew text\n"}
    expected_before = [before_prompt_1, {**before_prompt_1, "notes.md": b"agent notes\n"}, edited, edited]
    assert checkpoint_state(repo, p1["checkpoint"]) == before_prompt_1
    for call, expected in zip(p1["tools"], expected_before):
        assert checkpoint_state(repo, call["checkpoint"]) == expected, call
    assert checkpoint_state(repo, p2["checkpoint"]) == after_prompt_1
    assert checkpoint_state(repo, p2["tools"][0]["checkpoint"]) == after_prompt_1

    out = repo.recover("rewind", "1", "--session", sid[:8]).stdout
    assert "OK, byte-identical" in out
    assert files(repo) == before_prompt_1  # every byte the shell deleted or overwrote is back
    repo.recover("rewind", "2")
    assert files(repo) == after_prompt_1
    repo.recover("undo")
    assert "notes.md" not in files(repo)
