"""Bad input: each case is a finding or a clear error, never a traceback or a hang,
and nothing outside the project is read. Every case runs the real command in a
separate process with a timeout.

Permission cases run as `nobody` through setpriv: these machines and CI run as
root, which reads anything, so a test as root would pass without the error ever
happening. Each permission test first proves that `nobody` is really refused."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from links_helpers import cli, unprivileged_skip_reason, world_readable_tmp, write_tree

Project = Callable[..., Path]


def check_clean(proc: subprocess.CompletedProcess[str], status: int = 2) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == status, (proc.returncode, proc.stdout, proc.stderr)


def findings(proc: subprocess.CompletedProcess[str]) -> list[tuple[str, int, str]]:
    data = json.loads(proc.stdout)
    return [(f["path"], f["line"], f["code"]) for f in data["findings"]]


def test_binary_invalid_utf8_and_empty_markdown(project: Project) -> None:
    top = project({"CLAUDE.md": "@logo.md\n@latin1.md\n@empty.md\n",
                   "logo.md": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
                   "latin1.md": "caf\xe9 cr\xe8me\n".encode("latin-1"), "empty.md": b"",
                   ".claude/commands/bin.md": b"\x00\x01\x02"})
    proc = cli(top, "links", "--format", "json")
    check_clean(proc, 0)  # the client loads binary and latin-1 text: warnings, not errors
    assert findings(proc) == [("CLAUDE.md", 1, "corrupted-target"),
                              ("CLAUDE.md", 2, "corrupted-target"),
                              ("CLAUDE.md", 3, "empty-target")]


def test_empty_root_is_a_warning(project: Project) -> None:
    proc = cli(project({"CLAUDE.md": ""}), "links")
    check_clean(proc, 0)
    assert "warning empty-target root `CLAUDE.md` is empty; it loads nothing" in proc.stdout


@pytest.mark.slow
def test_fifty_megabyte_markdown_file(project: Project) -> None:
    top = project({"CLAUDE.md": "@huge.md\n"})
    line = "Prose with an import @x.md and `code` and more words to fill the line.\n"
    with open(top / "huge.md", "w") as handle:
        for _ in range(50 * 1024 * 1024 // len(line) + 1):
            handle.write(line)
    assert (top / "huge.md").stat().st_size >= 50 * 1024 * 1024
    proc = cli(top, "links", timeout=60)
    check_clean(proc)
    assert "CLAUDE.md:1:1: error too-large `@huge.md`: `huge.md` is 50.0 MB (limit 4 MB)" in proc.stdout
    root = project({"CLAUDE.md": line * (5 * 1024 * 1024 // len(line))})
    proc = cli(root, "links", timeout=60)
    check_clean(proc)
    assert "error too-large root `CLAUDE.md`" in proc.stdout


def test_symlink_loops(project: Project) -> None:
    top = project({"CLAUDE.md": "@a.md\n@dir/x.md\n"})
    os.symlink("b.md", top / "a.md")
    os.symlink("a.md", top / "b.md")
    os.symlink(".", top / "dir")  # a directory loop: dir/dir/dir/...
    (top / "x.md").write_text("@dir/dir/dir/x.md\n")
    os.makedirs(top / ".claude" / "commands")
    os.symlink("self.md", top / ".claude" / "commands" / "self.md")
    os.symlink("..", top / ".claude" / "commands" / "up")
    proc = cli(top, "links", "--format", "json", timeout=30)
    check_clean(proc)
    data = json.loads(proc.stdout)
    by_site = {(f["path"], f["line"]): f for f in data["findings"]}
    assert by_site[("CLAUDE.md", 1)]["code"] == "unreadable-target"
    assert "symlink loop" in by_site[("CLAUDE.md", 1)]["message"]
    assert by_site[(".claude/commands/self.md", 1)]["code"] == "unreadable-target"
    # dir/x.md is x.md through the loop: read once, and its self-import is a cycle
    assert by_site[("x.md", 1)]["code"] == "cycle"


def test_symlinks_out_of_the_project_are_reported_not_followed(project: Project, tmp_path: Path) -> None:
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "secret.md").write_text("@../proj/gone-if-followed.md\n")
    top = project({"CLAUDE.md": "@link.md\n@linkdir/secret.md\n"})
    os.symlink(secret / "secret.md", top / "link.md")
    os.symlink(secret, top / "linkdir")
    os.makedirs(top / ".claude" / "commands")
    os.symlink(secret / "secret.md", top / ".claude" / "commands" / "out.md")
    proc = cli(top, "links", "--format", "json")
    check_clean(proc, 0)
    data = json.loads(proc.stdout)
    assert [(f["path"], f["line"], f["code"]) for f in data["findings"]] == [
        (".claude/commands/out.md", 1, "outside-project"),
        ("CLAUDE.md", 1, "outside-project"), ("CLAUDE.md", 2, "outside-project")]
    # Reported, and what lies outside is never named.
    assert not [f for f in data["findings"] if str(secret) in json.dumps(f)]
    assert all("leads out of the project" in f["message"] for f in data["findings"])
    assert data["summary"]["files_read"] == 1  # only CLAUDE.md: nothing outside was read


def test_paths_with_spaces_and_unicode(project: Project) -> None:
    top = project({
        "CLAUDE.md": "@docs/my\\ notes.md\n@./ünïcødé/日本語.md\n@docs/my notes.md\n@ü.md\n",
        "docs/my notes.md": "ok\n", "ünïcødé/日本語.md": "@../docs/gone\\ 2.md\n",
        ".claude/commands/spaced name.md": "@../../ünïcødé/日本語.md\n",
    })
    proc = cli(top, "links", "--format", "json")
    check_clean(proc)
    assert findings(proc) == [(".claude/commands/spaced name.md", 1, "command-outside-project"),
                              ("CLAUDE.md", 3, "unresolved-name"),
                              ("CLAUDE.md", 4, "not-evaluated"),  # the client wants ASCII first
                              ("ünïcødé/日本語.md", 1, "missing-target")]
    data = json.loads(proc.stdout)
    assert data["findings"][3]["target"] == "docs/gone 2.md"
    text = cli(top, "links").stdout
    assert "ünïcødé/日本語.md:1:1: error missing-target `@../docs/gone\\ 2.md`" in text


@pytest.mark.slow
def test_ten_thousand_files(project: Project) -> None:
    files: dict[str, str | bytes] = {"CLAUDE.md": "@m/0.md\n"}
    for i in range(10_000):
        nxt = [(i * 7 + k) % 10_000 for k in (1, 2, 3, 4)]
        files[f"m/{i}.md"] = "".join(f"- @{n}.md\n" for n in nxt) + ("@gone.md\n" if i == 9_999 else "")
    top = project(files)
    proc = cli(top, "links", "--profile", "framework", "--format", "json", timeout=120)
    check_clean(proc)
    data = json.loads(proc.stdout)
    assert data["summary"]["files_read"] == 10_001
    assert ("m/9999.md", 5, "missing-target") in findings(proc)
    # One tangle of 10,000 files: its thousands of cycles are reported ten times, not
    # as a gigabyte of chains.
    assert sum(f["code"] == "cycle" for f in data["findings"]) == 10
    proc = cli(top, "links", timeout=120)  # claude-code: stops at 5 hops
    check_clean(proc)
    assert "depth-exceeded" in proc.stdout


def test_unprivileged_unreadable_file_and_directory() -> None:
    reason = unprivileged_skip_reason()
    if reason:
        pytest.skip(reason)
    with world_readable_tmp() as top:
        write_tree(top, {
            "CLAUDE.md": "@locked.md\n@private/a.md\n@ok.md\n", "locked.md": "secret\n",
            "private/a.md": "secret\n", "ok.md": "fine\n",
            ".claude/commands/hidden/c.md": "@gone.md\n",
        })
        (top / "locked.md").chmod(0o000)
        (top / "private").chmod(0o000)
        (top / ".claude" / "commands" / "hidden").chmod(0o000)
        # Prove the errors really happen for `nobody` (as root they would not).
        probe = cli(top, "links", user="nobody", env={"HOME": str(top)})
        denied = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                 "cat", str(top / "locked.md")], capture_output=True, check=False)
        assert denied.returncode != 0
        check_clean(probe)
        lines = probe.stdout.splitlines()
        assert ("CLAUDE.md:1:1: error unreadable-target `@locked.md`: `locked.md` cannot be read "
                "(permission denied); Claude Code drops it without a word") in lines
        assert any(line.startswith("CLAUDE.md:2:1: error unreadable-target `@private/a.md`")
                   and "permission denied" in line for line in lines)
        assert any(line.startswith(".claude/commands/hidden:1:1: warning unreadable-directory")
                   for line in lines)
        assert probe.stdout.splitlines()[-1].startswith(
            "links (claude-code): 1 root, read 2 files, found 3 imports, 1 would load")
        # An unreadable root, and an unreadable project directory.
        (top / "CLAUDE.md").chmod(0o000)
        proc = cli(top, "links", user="nobody", env={"HOME": str(top)})
        check_clean(proc)
        assert "CLAUDE.md:1:1: error unreadable-target root `CLAUDE.md` cannot be read" in proc.stdout
        proc = cli(Path("/"), "links", str(top / "private"), user="nobody", env={"HOME": str(top)})
        check_clean(proc, 3)
        assert "not readable" in proc.stderr


def test_not_a_regular_file_does_not_hang(project: Project) -> None:
    top = project({"CLAUDE.md": "@pipe.md\n@/dev/zero\n"})
    os.mkfifo(top / "pipe.md")
    proc = cli(top, "links", timeout=30)
    check_clean(proc)
    assert "`pipe.md` cannot be read (not a regular file)" in proc.stdout
    assert "warning outside-project `@/dev/zero`" in proc.stdout


def test_control_characters_in_file_names_stay_on_one_line(project: Project) -> None:
    top = project({".claude/commands/a\nb.md": "@gone.md\n"})
    proc = cli(top, "links")
    check_clean(proc)
    assert proc.stdout.splitlines()[0].startswith(
        ".claude/commands/a\\nb.md:1:1: error command-missing-target")


def test_overlong_paths_are_findings_with_short_lines(project: Project) -> None:
    top = project({"CLAUDE.md": "@" + "a" * 5000 + ".md\n@" + "/".join(["d"] * 3000) + "/x.md\n"})
    proc = cli(top, "links", "--format", "json")
    check_clean(proc)
    data = json.loads(proc.stdout)
    assert [(f["line"], f["code"]) for f in data["findings"]] == [
        (1, "unreadable-target"), (2, "unreadable-target")]
    assert "file name too long" in data["findings"][0]["message"]
    assert len(data["findings"][0]["target"]) > 5000  # the field keeps the whole path
    assert all(len(line) < 400 for line in cli(top, "links").stdout.splitlines())


def test_hints_never_name_files_behind_a_symlink_leading_out(project: Project,
                                                            tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "Secret.md").write_text("private\n")
    top = project({"CLAUDE.md": "@out/secret.md\n@out/Secret\n"})
    os.symlink(outside, top / "out")
    proc = cli(top, "links", "--format", "json")
    check_clean(proc)
    assert "Secret.md" not in proc.stdout  # no case or extension hint from behind the link
    assert "elsewhere" not in proc.stdout and str(outside) not in proc.stdout
    (outside / "real.md").write_text("x\n")
    (top / "CLAUDE.md").write_text("@out/real.md\n")
    proc = cli(top, "links")
    assert "out/real.md" in proc.stdout and "elsewhere" not in proc.stdout
