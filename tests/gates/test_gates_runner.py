"""The gate runner: process groups and timeouts (grandchildren included), bounded
output, degraded mode for missing programs, and ``gates run``'s table and exit code."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recovery.base.proc import HEAD_BYTES, TAIL_BYTES, run_process
from tests.conftest import GitRepo
from tests.hooks.helpers import configure, python_gate

# A gate that starts a grandchild (its own child) which would sleep for a minute,
# writes both pids, then hangs itself.
HANG = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
open(sys.argv[1], "w").write(f"{os.getpid()} {child.pid}")
print("started", flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; only its parent's wait is missing.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[1].startswith("Z"))


def test_timeout_kills_the_whole_group_within_a_second(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    outcome = run_process([sys.executable, "-c", HANG, str(pids)], tmp_path, dict(os.environ), timeout_s=1.5)
    assert outcome.timed_out and outcome.returncode is None
    # The bound: reported as timed out within a second of the limit.
    assert 1.5 <= outcome.duration_s < 2.5
    assert "started" in outcome.output
    gate_pid, grandchild = map(int, pids.read_text().split())
    deadline = time.monotonic() + 2
    while (_alive(gate_pid) or _alive(grandchild)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(gate_pid)
    assert not _alive(grandchild)


def test_output_is_bounded_and_keeps_head_and_tail(tmp_path: Path) -> None:
    code = "import sys; sys.stdout.write('first line\\n' + 'x' * 5_000_000 + '\\nlast line\\n')"
    outcome = run_process([sys.executable, "-c", code], tmp_path, dict(os.environ), timeout_s=30)
    assert outcome.returncode == 0
    assert outcome.output.startswith("first line")
    assert outcome.output.endswith("last line\n")
    assert len(outcome.output) < HEAD_BYTES + TAIL_BYTES + 8192 + 200
    assert outcome.dropped_bytes > 4_900_000
    assert f"[... {outcome.dropped_bytes} bytes of output not kept ...]" in outcome.output


def test_interactive_output_is_streamed_whole(tmp_path: Path) -> None:
    """Streaming copies every byte as it comes, while memory keeps head and tail only."""
    echo = io.BytesIO()
    code = "import sys; [print(f'line {i}') for i in range(20000)]"
    outcome = run_process([sys.executable, "-c", code], tmp_path, dict(os.environ), timeout_s=30, echo=echo)
    streamed = echo.getvalue().decode()
    assert streamed.splitlines() == [f"line {i}" for i in range(20000)]
    assert outcome.dropped_bytes == len(streamed) - HEAD_BYTES - len(outcome.output.split("kept ...]\n")[1])


def test_missing_program_is_reported_not_raised(tmp_path: Path) -> None:
    outcome = run_process(["no-such-program-for-git-recover"], tmp_path, dict(os.environ), timeout_s=5)
    assert outcome.missing == "program not found: no-such-program-for-git-recover"


def test_gates_run_table_and_exit_code(repo: GitRepo) -> None:
    configure(repo, python_gate("ok", "pass"), python_gate("broken", "raise SystemExit(3)", required=False),
              python_gate("fails", "raise SystemExit(1)"))
    proc = repo.recover("gates", "run", check=False)
    assert proc.returncode == 2
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["GATE", "SEVERITY", "REQUIRED", "STATUS", "TIME", "REASON"]
    rows = {line.split()[0]: line.split() for line in lines[1:4]}
    assert rows["ok"][3] == "pass"
    assert rows["broken"][2:4] == ["no", "fail"]
    assert rows["fails"][3:4] == ["fail"] and rows["fails"][-2:] == ["exit", "1"]
    assert "not good" in proc.stdout


def test_degraded_mode(repo: GitRepo) -> None:
    """An optional gate whose program is missing is `unavailable`, with a visible
    warning, and the run goes on; a required one fails with the reason."""
    configure(repo, '[gates.lint]\ncommand = ["no-such-linter", "."]\nrequired = false\n',
              python_gate("ok", "pass"))
    proc = repo.recover("gates", "run")
    assert proc.returncode == 0
    assert "unavailable" in proc.stdout and "program not found: no-such-linter" in proc.stdout
    assert "checkpoint" in proc.stdout and "marked good" in proc.stdout

    configure(repo, '[gates.lint]\ncommand = ["no-such-linter", "."]\n')
    proc = repo.recover("gates", "run", check=False)
    assert proc.returncode == 2
    assert "program not found: no-such-linter" in proc.stdout


def test_hanging_gate_in_a_commit_is_a_timeout(repo: GitRepo) -> None:
    configure(repo, python_gate("hang", "import time; time.sleep(60)", timeout=1, policy="block"))
    repo.recover("install")
    started = time.monotonic()
    result = subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "x"], cwd=repo.path,
                            capture_output=True, text=True, check=False)
    assert time.monotonic() - started < 10
    assert result.returncode != 0
    assert "gate hang: timeout" in result.stderr
    assert "timed out after 1 s; its process group was killed" in result.stderr


@pytest.mark.parametrize("shell", [True, False])
def test_shell_only_when_asked(repo: GitRepo, shell: bool) -> None:
    configure(repo, '[gates.s]\ncommand = \'echo "home=$HOME"; exit 4\'\n' + ("shell = true\n" if shell else ""))
    proc = repo.recover("gates", "run", check=False)
    if shell:
        assert proc.returncode == 2
        assert "exit 4" in proc.stdout
        assert f"home={os.environ['HOME']}" in proc.stdout  # the shell expanded it
    else:
        # argv: echo prints its arguments literally and exits 0; `exit 4` never runs.
        assert proc.returncode == 0, proc.stdout


def test_a_gate_that_runs_the_gates_does_not_recurse(tmp_path) -> None:
    import subprocess

    from tests.conftest import GitRepo

    path = tmp_path / "r"
    path.mkdir()
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    counter = tmp_path / "levels"
    code = (f"import subprocess, sys; open({str(counter)!r}, 'a').write('x');"
            "subprocess.run([sys.executable, '-P', '-m', 'recovery', 'gates', 'run'])")
    repo.write(".recover.toml", f'[gates.self]\ncommand = ["{sys.executable}", "-c", "{code}"]\ntimeout = 60\n')
    repo.commit_all()
    proc = repo.recover("gates", "run", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert counter.read_text() == "x"  # one level, not a chain
    assert subprocess.run(["pgrep", "-f", str(counter)], capture_output=True).stdout == b""


def test_a_program_killed_by_a_signal_reports_128_plus_the_signal(tmp_path) -> None:
    from recovery.base.proc import run_foreground

    rc = run_foreground([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"],
                        tmp_path, dict(os.environ))
    assert rc == 128 + 15
