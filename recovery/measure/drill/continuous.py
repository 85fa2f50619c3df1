"""The session-state drill: an agent-like process edits files for a while, then
overwrites files and deletes a directory from a shell; every state before each
destructive step must be recovered byte for byte.

Run in a disposable repository, once per protection mode:

- ``watch``: a real ``git recover watch`` process (settle ``WATCH_SETTLE_S``)
  watches while the process edits; between its last edit and the destructive
  command the process "thinks" for ``THINK_S`` (longer than the settle time, as an
  agent between two tool calls).
- ``agent``: no watcher; the process runs the Claude Code hook commands
  (``git-recover agent-hook``) with the payloads the client sends, before the
  prompt and before every ``Write`` and ``Bash`` step, as the client would.

At each destructive event the drill records the **session-state RPO**: 0 when
the newest checkpoint holds exactly the state the event destroys (nothing done
since it is lost), else that checkpoint's age in seconds (the work at risk);
and the checkpoint's age itself. Afterwards it restores, for each event, the
checkpoint that holds the state before it (verified restore) and compares every
file byte for byte with a copy taken just before the event.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from recovery.core.git import Git
from recovery.core.refs import list_checkpoints
from recovery.core.repo import Repo
from recovery.core.restore import restore

MODES = ("watch", "agent")
WATCH_SETTLE_S = 1.0
THINK_S = WATCH_SETTLE_S + 2.0
EDITS = 6
EDIT_INTERVAL_S = 0.2
_START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class SessionSample:
    """One destructive event of the drill.

    Attributes:
        mode: ``watch`` or ``agent``.
        step: what was destroyed (``overwrite``, ``delete-dir``).
        rpo_s: 0 when the newest checkpoint held the destroyed state, else its age (s).
        checkpoint_age_s: age of the newest checkpoint at the event (s); ``None``: none existed.
        rpo_files: files that differ between the newest checkpoint and the destroyed state.
        recovered: the destroyed state came back byte for byte through a verified restore.
        error: why it did not, when it did not.
    """

    mode: str
    step: str
    rpo_s: float | None
    checkpoint_age_s: float | None
    rpo_files: int | None
    recovered: bool
    error: str = ""

    def line(self) -> str:
        """One line for the drill's output."""
        from recovery.base.output import seconds

        verdict = "ok" if self.recovered else "not-recovered"
        age = "none" if self.checkpoint_age_s is None else seconds(self.checkpoint_age_s)
        detail = (f"newest checkpoint {age} old, {self.rpo_files} file(s) since it; "
                  + ("recovered byte for byte" if self.recovered else self.error))
        return f"{verdict:>13}  session-{self.mode}/{self.step:<9} RPO {seconds(self.rpo_s):>9}  {detail}"

    def journal_fields(self) -> dict[str, object]:
        """The fields of its ``session_rpo`` journal event (docs/metrics.md)."""
        return {"mode": self.mode, "step": self.step, "rpo_s": self.rpo_s,
                "checkpoint_age_s": self.checkpoint_age_s, "rpo_files": self.rpo_files,
                "recovered": self.recovered, "error": self.error, "source": "drill"}


@dataclass
class _Event:
    step: str
    at: datetime
    tree: str
    files: dict[str, bytes]


def run_continuous_drill(root: Path, mode: str) -> list[SessionSample]:
    """Run the drill for ``mode`` in a new repository under ``root``.

    Returns:
        One sample per destructive event.

    Raises:
        RecoverError: the watcher did not start, or git failed setting up.
    """
    top = root / f"session-{mode}"
    _make_project(top)
    repo = Repo.discover(top)
    driver = _Driver(repo, mode)
    watcher = _start_watcher(top) if mode == "watch" else None
    events: list[_Event] = []
    try:
        driver.prompt("refactor the project")
        for i in range(EDITS):
            driver.write(f"src/mod{i % 3}.py", f"def f():\n    return {i}\n")
        driver.think()
        events.append(driver.shell("overwrite", "printf 'overwritten\\n' > src/mod0.py && "
                                                "printf 'gone\\n' > docs/guide.md"))
        for i in range(EDITS):
            driver.write(f"docs/note{i}.md", f"note {i}\n")
        driver.think()
        events.append(driver.shell("delete-dir", "rm -rf src docs"))
    finally:
        if watcher is not None:
            watcher.send_signal(signal.SIGTERM)
            watcher.wait(timeout=60)
    return [_measure(repo, mode, ev) for ev in events]


class _Driver:
    """The agent-like process: edits, thinks, runs shell commands; in ``agent``
    mode it runs the hook commands before each step, as Claude Code does."""

    def __init__(self, repo: Repo, mode: str) -> None:
        self.repo = repo
        self.mode = mode
        self.session = str(uuid.uuid4())
        self.prompt_id = ""

    def _hook(self, event: str, **fields: object) -> None:
        if self.mode != "agent":
            return
        payload = {"session_id": self.session, "transcript_path": "", "cwd": str(self.repo.toplevel),
                   "hook_event_name": event, "prompt_id": self.prompt_id, **fields}
        subprocess.run([sys.executable, "-P", "-m", "recovery", "agent-hook", event],
                       input=json.dumps(payload).encode(), cwd=self.repo.toplevel, capture_output=True,
                       env={**os.environ, "CLAUDE_PROJECT_DIR": str(self.repo.toplevel)}, check=False)

    def prompt(self, text: str) -> None:
        self.prompt_id = str(uuid.uuid4())
        self._hook("UserPromptSubmit", prompt=text)

    def write(self, rel: str, content: str) -> None:
        path = self.repo.toplevel / rel
        self._hook("PreToolUse", tool_name="Write", tool_input={"file_path": str(path), "content": content},
                   tool_use_id=f"toolu_{uuid.uuid4().hex[:12]}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        time.sleep(EDIT_INTERVAL_S)

    def think(self) -> None:
        if self.mode == "watch":
            time.sleep(THINK_S)

    def shell(self, step: str, command: str) -> _Event:
        self._hook("PreToolUse", tool_name="Bash", tool_input={"command": command},
                   tool_use_id=f"toolu_{uuid.uuid4().hex[:12]}")
        before = _Event(step, datetime.now(timezone.utc), _tree_of(self.repo), _files(self.repo.toplevel))
        subprocess.run(["sh", "-c", command], cwd=self.repo.toplevel, check=True)
        return before


def _measure(repo: Repo, mode: str, ev: _Event) -> SessionSample:
    taken = [cp for cp in list_checkpoints(repo) if cp.time <= ev.at and not cp.reason.startswith("restore-")]
    if not taken:
        return SessionSample(mode, ev.step, None, None, None, False, "no checkpoint before the event")
    newest = taken[0]
    age = (ev.at - newest.time).total_seconds()
    changed = repo.git.text("diff-tree", "-r", "--name-only", newest.worktree_tree, ev.tree).splitlines()
    holder = next((cp for cp in taken if cp.worktree_tree == ev.tree), None)
    rpo = 0.0 if not changed else age
    if holder is None:
        return SessionSample(mode, ev.step, rpo, age, len(changed), False,
                             "no checkpoint holds the state before the event")
    restore(repo, holder)
    now = _files(repo.toplevel)
    lost = sorted(p for p in set(ev.files) | set(now) if ev.files.get(p) != now.get(p))
    return SessionSample(mode, ev.step, rpo, age, len(changed), not lost,
                         f"differs after restore: {', '.join(lost[:5])}" if lost else "")


def _make_project(top: Path) -> None:
    if top.exists():
        shutil.rmtree(top)
    (top / "src").mkdir(parents=True)
    (top / "docs").mkdir()
    for i in range(3):
        (top / "src" / f"mod{i}.py").write_text(f"def f():\n    return -{i}\n")
    (top / "docs" / "guide.md").write_text("# Guide\n")
    (top / ".gitignore").write_text("node_modules/\n")
    git = Git(top, {"GIT_AUTHOR_NAME": "drill", "GIT_AUTHOR_EMAIL": "drill@localhost",
                    "GIT_COMMITTER_NAME": "drill", "GIT_COMMITTER_EMAIL": "drill@localhost"})
    git.run("init", "-q", "-b", "main")
    git.run("add", "-A")
    git.run("commit", "-q", "-m", "project")


def _start_watcher(top: Path) -> subprocess.Popen[str]:
    from recovery.base.errors import RecoverError

    proc = subprocess.Popen([sys.executable, "-P", "-m", "recovery", "watch", "--settle", str(WATCH_SETTLE_S)],
                            cwd=top, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if " watching " not in line:
        proc.kill()
        raise RecoverError(f"the drill's watcher did not start: {line.strip() or 'no output'}")
    return proc


def _tree_of(repo: Repo) -> str:
    """The tree of the worktree as a checkpoint would record it (tracked and
    untracked, not ignored), built in a temporary index."""
    tmp = repo.state_dir / "tmp" / f"drill-{os.getpid()}.index"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        git = repo.git.with_index(tmp)
        git.run("add", "-A")
        return git.text("write-tree")
    finally:
        tmp.unlink(missing_ok=True)


def _files(top: Path) -> dict[str, bytes]:
    out = {}
    for path in top.rglob("*"):
        rel = path.relative_to(top).as_posix()
        if rel == ".git" or rel.startswith(".git/") or not path.is_file():
            continue
        out[rel] = path.read_bytes()
    return out
