"""The one printer: paths quoted as git quotes them, metadata that cannot drive
the terminal, colour and progress only on a terminal, summaries, the man page."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recovery.base import output
from recovery.base.output import clean, colour, quote_path, summarize
from tests.conftest import ROOT, GitRepo

NAMES = ["plain.txt", "with space", "tab\there", "new\nline", 'quote"d', "back\\slash",
         "caf\u00e9", "esc\x1b[31mred", os.fsdecode(b"\xff\xfe.bin")]


def test_paths_are_quoted_exactly_as_git_quotes_them(repo: GitRepo) -> None:
    # git with core.quotePath=false for readable names (UTF-8 kept), and as git's
    # default does for bytes that are not UTF-8 (octal escapes).
    for name in NAMES:
        (repo.path / name).write_bytes(b"x")
        readable = repo.git("-c", "core.quotePath=false", "ls-files", "--others", "--", name.replace("\\", "?"))
        escaped = repo.git("ls-files", "--others", "--", name.replace("\\", "?"))
        expected = escaped if name.startswith("\udcff") else readable
        assert quote_path(name) == expected, name
        (repo.path / name).unlink()
    assert quote_path(b"\xff\xfe.bin") == '"\\377\\376.bin"'


def test_metadata_control_characters_are_escaped() -> None:
    assert clean("msg\x1b[2J\nnext\x07") == "msg\\033[2J\\nnext\\a"
    assert clean("caf\u00e9 \u2603") == "caf\u00e9 \u2603"


def test_say_escapes_and_prefixes(capsys: pytest.CaptureFixture[str]) -> None:
    output.say("restored \x1b]0;owned\x07")
    assert capsys.readouterr().err == "git-recover: restored \\033]0;owned\\a\n"


def test_summaries_say_how_many_were_left_out() -> None:
    lines = [f"M file{i}" for i in range(100_000)]
    shown = summarize(lines)
    assert shown[:2] == ["M file0", "M file1"] and shown[-1] == "... and 99980 more"
    assert len(shown) == output.SUMMARY_LINES + 1
    assert summarize(lines[:3]) == lines[:3]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert colour("ok", "green", _Tty()) == "\033[32mok\033[0m"
    assert colour("ok", "green", io.StringIO()) == "ok"
    monkeypatch.setenv("NO_COLOR", "1")
    assert colour("ok", "green", _Tty()) == "ok"


def _in_a_terminal(code: str, env: dict[str, str] | None = None) -> str:
    """Run ``python -c code`` with a pseudo-terminal as stdin/stdout/stderr (script(1))."""
    command = subprocess.list2cmdline([sys.executable, "-P", "-c", code])
    proc = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True, text=True,
                          env={**os.environ, "TERM": "xterm", **(env or {})}, timeout=60, check=True)
    return proc.stdout


def test_a_step_over_a_second_shows_progress_on_a_terminal_and_erases_it() -> None:
    code = ("import time\nfrom recovery.base.output import progress, out\n"
            "with progress('restoring abc', total=4) as bar:\n"
            "    time.sleep(1.6); bar.advance(2); time.sleep(0.5)\n"
            "out('done')\n")
    shown = _in_a_terminal(code)
    assert "git-recover: restoring abc [" in shown and "2/4" in shown
    assert shown.rstrip().endswith("\x1b[Kdone")  # erased before the result line


def test_a_short_step_or_a_pipe_shows_no_progress(tmp_path: Path) -> None:
    code = "from recovery.base.output import progress\nwith progress('quick'):\n    pass\n"
    assert "quick" not in _in_a_terminal(code)
    slow = "import time\nfrom recovery.base.output import progress\nwith progress('slow'):\n    time.sleep(1.3)\n"
    proc = subprocess.run([sys.executable, "-P", "-c", slow], capture_output=True, text=True, check=True)
    assert proc.stderr == ""


def test_help_shows_the_man_page_even_off_the_manpath() -> None:
    shown = _in_a_terminal("from recovery.cli.main import main; raise SystemExit(main(['--help']))",
                           env={"MANPATH": "/nonexistent", "MANPAGER": "cat", "PAGER": "cat"})
    assert "GIT-RECOVER(1)" in shown and "SYNOPSIS" in shown.replace("\b", "").replace("SSYYNNOOPPSSIISS", "SYNOPSIS")
    assert (ROOT / "docs" / "git-recover.1").is_file()


def test_core_messages_quote_the_paths_they_name() -> None:
    from recovery.core.capture import CaptureRace

    race = CaptureRace(["plain.txt", "new\nline", "esc\x1b[2J"])
    assert race.message == 'files changed while being captured: plain.txt, "new\\nline", "esc\\033[2J"'


def test_a_closed_stdout_does_nothing_and_a_full_one_says_the_work_may_be_done(repo: GitRepo) -> None:
    """With stdout closed (``>&-``) a checkpoint was written and then the
    command died with a traceback; on a full disk it said only "No space left
    on device", which read as a failed command."""
    repo.write("README.md", "work\n")
    closed = subprocess.run([sys.executable, "-P", "-m", "recovery", "checkpoint"], cwd=repo.path,
                            preexec_fn=lambda: os.close(1), stderr=subprocess.PIPE, text=True)
    assert closed.returncode == 3
    assert closed.stderr == "git-recover: standard output is closed; nothing was done " \
                            "(redirect it to /dev/null to discard it)\n"
    assert repo.git("for-each-ref", "refs/recovery/") == ""

    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-P", "-m", "recovery", "checkpoint"], cwd=repo.path, stdout=full,
                              stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "could not write the output (No space left on device); the output is incomplete" in proc.stderr
    assert repo.git("for-each-ref", "refs/recovery/main/cp/") != ""

    # A reader that leaves early (`| head -1`) is no failure to report.
    early = subprocess.Popen([sys.executable, "-P", "-m", "recovery", "list"], cwd=repo.path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert early.stdout is not None and early.stderr is not None
    early.stdout.close()
    assert b"could not write the output" not in early.stderr.read()
    early.wait()
