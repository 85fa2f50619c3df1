"""The real-client harness itself: the pinned client installs, talks only to the
stand-in, follows a script of tool calls, and its loaded memory is read back."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from claude.client import SKIP_PERMISSIONS, VERSION, Client
from claude.standin import StandIn, loaded_paths, text, tool_use


def test_pinned_version_installed(claude_client: Client) -> None:
    import subprocess

    out = subprocess.run([str(claude_client.binary), "--version"], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    assert out.split()[0] == VERSION


def test_text_reply_and_memory_read_back(claude_client: Client, tmp_path: Path) -> None:
    (tmp_path / "CLAUDE.md").write_text("see @a.md\n")
    (tmp_path / "a.md").write_text("imported\n")
    with StandIn([text("pong")]) as api:
        proc = claude_client.run(tmp_path, "ping", api)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "pong"
    assert api.requests, "the client never reached the stand-in"
    assert api.loaded_paths() == [str(tmp_path / "CLAUDE.md"), str(tmp_path / "a.md")]


def test_script_write_edit_bash_runs_in_order(claude_client: Client, tmp_path: Path) -> None:
    """Each step is served once its predecessor's tool_result comes back, and the
    tools really ran: the bytes on disk and the Bash output prove it."""
    target = tmp_path / "note.txt"
    script = [
        tool_use("Write", {"file_path": str(target), "content": "one\n"}),
        tool_use("Edit", {"file_path": str(target), "old_string": "one", "new_string": "two"}),
        tool_use("Bash", {"command": f"cat {target} > {tmp_path / 'copy.txt'}",
                          "description": "copy"}),
        text("finished"),
    ]
    with StandIn(script) as api:
        proc = claude_client.run(tmp_path, "go", api, args=SKIP_PERMISSIONS)
    assert proc.returncode == 0, proc.stderr
    assert api.steps_taken == 3
    assert target.read_text() == "two\n"
    assert (tmp_path / "copy.txt").read_text() == "two\n"
    assert proc.stdout.strip() == "finished"


def test_read_triggers_nested_memory(claude_client: Client, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "CLAUDE.md").write_text("nested\n")
    (tmp_path / "sub" / "x.txt").write_text("x\n")
    with StandIn([tool_use("Read", {"file_path": str(tmp_path / "sub" / "x.txt")}),
                  text("ok")]) as api:
        proc = claude_client.run(tmp_path, "read", api)
    assert proc.returncode == 0, proc.stderr
    assert api.steps_taken == 1
    assert api.loaded_paths() == [str(tmp_path / "sub" / "CLAUDE.md")]


def test_standin_streams_and_records_without_client() -> None:
    """The stand-in alone: a streamed tool call, then the next step only after its
    result arrives; side queries without tools never consume a step."""
    step = tool_use("Read", {"file_path": "/x"})
    with StandIn([step, text("end")]) as api:
        def post(body: dict[str, object]) -> bytes:
            req = urllib.request.Request(api.url + "/v1/messages?beta=true",
                                         data=json.dumps(body).encode(), method="POST")
            with urllib.request.urlopen(req, timeout=10) as resp:
                return bytes(resp.read())

        side = post({"messages": [], "stream": False})
        assert json.loads(side)["content"] == [{"type": "text", "text": "done"}]
        first = post({"messages": [], "tools": [{}], "stream": True}).decode()
        assert "event: message_start" in first and '"name": "Read"' in first
        again = post({"messages": [], "tools": [{}], "stream": True}).decode()
        assert '"name": "Read"' in again  # no tool_result yet: same step
        (tool_id,) = step.tool_ids
        result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id}]}
        last = json.loads(post({"messages": [result], "tools": [{}]}))
        assert last["content"] == [{"type": "text", "text": "end"}]
        assert api.steps_taken == 1
        assert len(api.requests) == 4


def test_loaded_paths_reads_both_block_forms() -> None:
    body = {"messages": [{"content": [{"text": "Contents of /p/CLAUDE.md (project "
                                                "instructions, checked into the codebase):\n\nx"}]},
                         {"role": "system", "content": "Contents of /p/sub/CLAUDE.md:\n\ny"}]}
    assert loaded_paths(body) == ["/p/CLAUDE.md", "/p/sub/CLAUDE.md"]
