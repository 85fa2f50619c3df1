"""Peak memory of `verify` and `report` is bounded, not proportional to a file's
or the journal's size: both stream what they read."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import GitRepo

# Python, click and our modules take 30-50 MB; streaming adds a few MiB.
BOUND_KB = 120 * 1024
BIG = 200 * 1024 * 1024


def _peak_rss_kb(repo: GitRepo, *args: str) -> tuple[int, subprocess.CompletedProcess[str]]:
    """Run ``git-recover ARGS`` in-process of a fresh interpreter; its own peak RSS in KiB."""
    code = ("import resource, sys\nfrom recovery.cli.main import main\nrc = main(sys.argv[1:])\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\nsys.exit(rc)")
    proc = subprocess.run([sys.executable, "-P", "-c", code, *args], cwd=repo.path, capture_output=True,
                          text=True, check=False)
    return int(proc.stderr.strip().splitlines()[-1]), proc


def test_verify_of_a_file_larger_than_the_bound_streams_it(repo: GitRepo) -> None:
    with open(repo.path / "big.bin", "wb") as out:
        block = bytes(range(256)) * 4096  # 1 MiB, compressible: quick to write and store
        for _ in range(BIG // len(block)):
            out.write(block)
    repo.git("config", "recover.maxUntrackedSize", "1g")
    repo.recover("checkpoint")
    rss, proc = _peak_rss_kb(repo, "verify")
    assert proc.returncode == 0 and "all intact" in proc.stdout, proc.stderr
    assert rss < BOUND_KB, f"verify peaked at {rss} KiB for a {BIG >> 20} MiB file"


def test_report_of_a_journal_larger_than_the_bound_streams_it(repo: GitRepo) -> None:
    repo.recover("checkpoint")
    journal = repo.path / ".git/recovery/journal.jsonl"
    line = json.dumps({"time": "2026-01-01T00:00:00+00:00", "event": "checkpoint", "worktree": "main",
                       "checkpoint": "0" * 10, "reason": "manual", "capture_s": 0.01, "pad": "x" * 150}) + "\n"
    chunk = line.encode() * 10_000
    chunks = BIG // len(chunk)
    with journal.open("ab") as out:
        for _ in range(chunks):
            out.write(chunk)
    rss, proc = _peak_rss_kb(repo, "report", "--json")
    assert proc.returncode == 0, proc.stderr
    counted = json.loads(proc.stdout)["event_counts"]["checkpoint"]
    assert counted == chunks * 10_000 + 1  # every line was read (and the real checkpoint)
    assert rss < BOUND_KB, f"report peaked at {rss} KiB for a {BIG >> 20} MiB journal"
