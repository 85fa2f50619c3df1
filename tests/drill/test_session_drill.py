"""The session-state drill: an agent-like process edits, then destroys files from a
shell, under a real `git recover watch` and under the real agent hook commands;
every state before each destructive step comes back byte for byte."""

from __future__ import annotations

import json

from recovery.core.journal import read_events
from recovery.core.repo import Repo
from tests.conftest import GitRepo


def test_session_drill_recovers_every_state_and_reports_the_rpo(repo: GitRepo) -> None:
    repo.write("wip.md", "uncommitted work\n")
    before = repo.git("status", "--porcelain")
    proc = repo.recover("drill", "--scenario", "session-watch", "--scenario", "session-agent", "--json")
    data = json.loads(proc.stdout)
    samples = data["session"]
    assert [(s["mode"], s["step"]) for s in samples] == [
        ("watch", "overwrite"), ("watch", "delete-dir"), ("agent", "overwrite"), ("agent", "delete-dir")]
    assert all(s["recovered"] for s in samples), samples
    for s in samples:
        assert s["checkpoint_age_s"] is not None and s["checkpoint_age_s"] < 60
    agent = [s for s in samples if s["mode"] == "agent"]
    assert all(s["rpo_s"] == 0.0 and s["rpo_files"] == 0 for s in agent)  # the hooks hold every state
    watch = [s for s in samples if s["mode"] == "watch"]
    assert all(s["rpo_s"] < 60 for s in watch)
    rows = {r["mode"]: r for r in data["report"]["session"]}
    assert rows["watch"]["status"] == rows["agent"]["status"] == "met"
    journaled = [e for e in read_events(Repo.discover(repo.path)) if e.event == "session_rpo"]
    assert len(journaled) == 4
    report = repo.recover("report", "--source", "drills").stdout  # drill runs are reported apart from incidents
    assert "Session state RPO (target < 60 s), agent hooks: 2 destructive events" in report
    assert repo.git("status", "--porcelain") == before  # the drill ran in a disposable repository
    assert repo.git("for-each-ref", "refs/recovery/") == ""
