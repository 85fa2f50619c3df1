"""The ``links`` built-in gate: the @-link validator run as a gate."""

from __future__ import annotations

import json
import subprocess

from tests.conftest import GitRepo
from tests.hooks.helpers import configure


def test_broken_link_blocks_the_commit_and_is_journaled(repo: GitRepo) -> None:
    repo.write("docs/rules.md", "# rules\n")
    repo.write("CLAUDE.md", "# Main\n\nSee @docs/rules.md\n")
    configure(repo, '[gates.links]\nbuiltin = "links"\nstages = ["pre-commit"]\npolicy = "block"\n')
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "links")
    repo.recover("install")

    repo.write("CLAUDE.md", "# Main\n\nSee @docs/rules.md and @docs/gone.md\n")
    proc = subprocess.run(["git", "commit", "-qam", "broken"], cwd=repo.path, capture_output=True, text=True,
                          check=False)
    assert proc.returncode != 0
    assert "gate links: fail" in proc.stderr
    assert "CLAUDE.md:3:" in proc.stderr and "missing-target" in proc.stderr
    events = [json.loads(line) for line in
              (repo.path / ".git" / "recovery" / "journal.jsonl").read_text().splitlines()]
    assert [e["kind"] for e in events if e["event"] == "failure"] == ["links"]

    repo.write("CLAUDE.md", "# Main\n\nSee @docs/rules.md (fixed)\n")
    repo.git("commit", "-qam", "fixed")
    out = repo.recover("gates", "run").stdout
    assert "links" in out and "cached" in out  # pre-commit's pass on this tree was kept


def test_fail_level_from_the_gate(repo: GitRepo) -> None:
    repo.write("CLAUDE.md", "See @nowhere.md\n")
    configure(repo, '[gates.links]\nbuiltin = "links"\nfail_level = "none"\n')
    proc = repo.recover("gates", "run")
    assert proc.returncode == 0
    assert "1 error" in proc.stdout  # found, but below the gate's fail level
