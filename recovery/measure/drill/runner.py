"""Running drill scenarios: clone, baseline, inject, detect, recover, verify, measure.

One run of one scenario:

1. Clone the drill base (the repository plus the fixture) into a fresh directory,
   add the scenario's files, commit.
2. Baseline: validate with every gate; all must pass, which also labels the
   checkpoint ``good``. A scenario whose baseline fails is an error, never a pass.
3. Inject the failure and snapshot the broken worktree (blob id and mode per file).
4. Detect: validate again, exactly as ``git recover run`` does after a git
   command; the scenario's evidence check must find its failure in the gate
   results, or the run is ``undetected`` and its recovery is not counted.
5. Recover: the gates' ``restore`` policy restores ``good`` (mode ``restore``);
   or the drill starts ``git recover restore good``, SIGKILLs it inside the
   switch and runs ``git recover restore --continue`` (mode ``kill``); or the
   missing program is put back (mode ``degraded``).
6. Verify: every gate passes again; the worktree equals the good snapshot byte
   for byte (and mode for mode); the ``undo`` checkpoint holds every broken file
   byte for byte. Anything missing is a lost path.
7. Measure from the clone's own journal: RTO from the ``failure`` event to the
   verified ``restore`` end (for ``degraded``: from the gate reported unavailable
   to the gate passing again); RPO as the failure event says.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from recovery.base.proc import kill_group, run_captured, start_group
from recovery.core.config import GitConfig
from recovery.gates.config import load_gates
from recovery.gates.policy import UndoPlan, Validation, validate
from recovery.measure.drill import fixture
from recovery.measure.drill.sandbox import Sandbox, Snapshot, clone, differences, init_example, snapshot, tree_blobs
from recovery.measure.drill.scenarios import BULK_DIR, Detection, Injection, Scenario, bulk_files
from recovery.base.errors import RecoverError
from recovery.core.intent import intent_path
from recovery.core.journal import Event, read_events
from recovery.core.refs import get_label
from recovery.core.repo import Repo

KILL_WAIT_S = 30.0  # longest wait for the restore to reach its switch before giving up


class DrillError(RecoverError):
    """A drill run could not be carried out (baseline failing, the kill came too late...)."""


class KillMissed(DrillError):
    """The kill of a ``kill`` scenario did not land inside the switch (the
    restore finished first): nothing was measured, which is not a failure."""


KILL_TRIES = 3  # runs of a kill scenario before it is reported as not measured


@dataclass(frozen=True)
class DrillResult:
    """One run of one scenario.

    Attributes:
        scenario, category: what ran and the failure type it measures.
        verdict: ``ok``; ``undetected`` (the failure was not seen); ``not-recovered``
            (a gate still fails after recovery, or permission bits were not restored);
            ``lost`` (bytes missing from the worktree or the undo checkpoint); ``error``;
            ``not-measured`` (a kill scenario whose kill never landed inside the
            switch in ``KILL_TRIES`` runs: the machine won the race, nothing failed).
        detected: the failure was seen; evidence: what showed it.
        detect_s: injection to the ``failure`` event, seconds.
        rto_s: detection to verified recovery, seconds (None unless recovered).
        rpo_s, rpo_files: the age of the checkpoint restored and the files that differ between it and the
            failing state (what the restore did not keep on disk).
        changed_files: files the injection changed (from the snapshots).
        lost_paths: paths whose bytes were lost; mode_paths: paths whose permission bits differ.
        error: why the run failed, one line.
    """

    scenario: str
    category: str
    verdict: str
    detected: bool = False
    evidence: str = ""
    detect_s: float | None = None
    rto_s: float | None = None
    rpo_s: float | None = None
    rpo_files: int | None = None
    changed_files: int = 0
    lost_paths: tuple[str, ...] = ()
    mode_paths: tuple[str, ...] = ()
    error: str = ""

    def journal_fields(self) -> dict[str, object]:
        """The ``drill`` journal event's fields."""
        data = asdict(self)
        data["lost_paths"] = list(self.lost_paths)
        data["mode_paths"] = list(self.mode_paths)
        return data


@dataclass
class _Run:
    """Mutable state of one run while it proceeds."""

    scenario: Scenario
    sandbox: Sandbox
    tools_dir: Path
    good: Snapshot = field(default_factory=dict)
    broken: Snapshot = field(default_factory=dict)
    injected_at: datetime | None = None
    evidence: list[str] = field(default_factory=list)


@contextlib.contextmanager
def drill_root(keep: bool = False) -> Iterator[Path]:
    """A temporary directory for the clones, removed afterwards unless ``keep``.

    While it is in use the process umask is 022: every file the drill, git and
    git-recover write is then readable by the unprivileged test gate, and a file
    a restore rewrites gets the same permission bits as the clone's originals
    (under a user's umask of 077 they would differ and the byte-and-mode check
    would report a false loss).
    """
    old_umask = os.umask(0o022)
    root = Path(tempfile.mkdtemp(prefix="git-recover-drill-"))
    root.chmod(0o755)  # mkdtemp makes it 0700 whatever the umask
    try:
        yield root
    finally:
        os.umask(old_umask)
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def prepare_base(root: Path, source: Repo | None) -> Path:
    """The repository every scenario clones: ``source``'s committed history (or the
    built-in example project) plus the drill fixture, committed.

    Raises:
        GitCommandError: cloning or committing failed.
    """
    if source is not None:
        base = clone(source.toplevel, root / "base")
    else:
        base = init_example(root / "base", fixture.example_project())
    for rel, text in fixture.FILES.items():
        base.write(rel, text, executable=rel.endswith(".sh"))
    base.commit_all("drill fixture")
    return base.top


def run_scenario(scenario: Scenario, base: Path, root: Path, index: int) -> DrillResult:
    """Run ``scenario`` once in a fresh clone of ``base`` under ``root``; never raises
    for an expected failure (it becomes the result's verdict and error).

    A kill scenario whose kill lands after the restore finished is run again in
    a fresh clone, up to ``KILL_TRIES`` times, then reported ``not-measured``:
    whether a kill wins a race against a fast restore says nothing about recovery.
    """
    tries = KILL_TRIES if scenario.mode == "kill" else 1
    missed = ""
    for attempt in range(tries):
        try:
            run = _setup(scenario, base, root, f"{index}" if attempt == 0 else f"{index}-retry{attempt}")
            return _drive(run)
        except KillMissed as exc:
            missed = exc.message
        except RecoverError as exc:
            return DrillResult(scenario.name, scenario.category, "error", error=exc.message)
        except OSError as exc:
            return DrillResult(scenario.name, scenario.category, "error", error=f"{exc.filename}: {exc.strerror}")
    return DrillResult(scenario.name, scenario.category, "not-measured",
                       error=f"the kill never landed inside the switch in {tries} runs ({missed})")


def run_drill(scenarios: Sequence[Scenario], repeat: int, source: Repo | None, root: Path,
              on_start: Callable[[Scenario], None] = lambda s: None,
              on_done: Callable[[DrillResult], None] = lambda r: None) -> list[DrillResult]:
    """Run every scenario ``repeat`` times, in order, each in its own clone.

    Args:
        scenarios: what to run.
        repeat: runs per scenario.
        source: the repository to clone, or None for the built-in example.
        root: the directory for the clones (see :func:`drill_root`).
        on_start, on_done: called around each run (the progress bar).

    Raises:
        GitCommandError: the base repository could not be prepared.
    """
    results = []
    base = prepare_base(root, source)
    for round_ in range(repeat):
        for scenario in scenarios:
            on_start(scenario)
            results.append(run_scenario(scenario, base, root, round_))
            on_done(results[-1])
    return results


def _setup(scenario: Scenario, base: Path, root: Path, index: str) -> _Run:
    sandbox = clone(base, root / f"{scenario.name}-{index}")
    tools = root / f"tools-{scenario.name}-{index}"
    fixture.install_checker(tools)
    sandbox.write(".recover.toml", fixture.gates_toml(tools))
    for rel, text in bulk_files(scenario.bulk_files).items():
        sandbox.write(rel, text)
    sandbox.commit_all(f"drill: {scenario.name}")
    run = _Run(scenario, sandbox, tools)
    baseline, _ = _validate(sandbox, "warn", mark_good=True)
    bad = [f"{name} {r.status}" for name, r in baseline.results.items() if r.status != "pass"]
    if bad or get_label(sandbox.repo, "good") is None:
        raise DrillError(f"baseline: gates fail before any injection ({', '.join(bad) or 'no good checkpoint'})")
    run.good = snapshot(sandbox.top)
    return run


def _drive(run: _Run) -> DrillResult:
    scenario, sandbox = run.scenario, run.sandbox
    run.injected_at = datetime.now(timezone.utc)
    scenario.inject(Injection(sandbox, run.tools_dir))
    run.broken = snapshot(sandbox.top)
    strongest = {"restore": "restore", "kill": "block", "degraded": "warn"}[scenario.mode]
    detection, action = _validate(sandbox, strongest, mark_good=False)
    evidence = scenario.detected(detection)
    changed = len(differences(run.good, run.broken))
    base = DrillResult(scenario.name, scenario.category, "undetected", changed_files=changed)
    if evidence is None:
        statuses = ", ".join(f"{n} {r.status}" for n, r in detection.results.items())
        return _replace(base, error=f"failure not detected (gates: {statuses})")
    run.evidence.append(evidence)
    leftovers = _processes_inside(sandbox.top)
    if leftovers:
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        return _replace(base, verdict="error", detected=True, evidence=evidence,
                        error=f"gate processes left running after the gate run: pids {leftovers}")
    if scenario.mode == "restore" and action != "restore":
        return _replace(base, verdict="not-recovered", detected=True, evidence=evidence,
                        error=f"the restore policy did not restore (action {action}): "
                              + _last_line(detection.messages))
    if scenario.mode == "kill":
        _kill_and_continue(run)
    elif scenario.mode == "degraded":
        fixture.install_checker(run.tools_dir)
    return _verify(run, base)


def _verify(run: _Run, base: DrillResult) -> DrillResult:
    sandbox = run.sandbox
    after, _ = _validate(sandbox, "warn", mark_good=False)
    evidence = "; ".join(run.evidence)
    timing = _timing(run)
    result = _replace(base, verdict="ok", detected=True, evidence=evidence, **timing)
    still = [f"{n} {r.status}" for n, r in after.results.items() if r.status != "pass"]
    now = snapshot(sandbox.top)
    content_lost = differences(run.good, now, check_mode=False)
    mode_lost = sorted(set(differences(run.good, now)) - set(content_lost))
    if run.scenario.mode != "degraded":
        content_lost = sorted(set(content_lost) | set(_missing_from_undo(run, now)))
    if content_lost:
        return _replace(result, verdict="lost", lost_paths=tuple(content_lost), mode_paths=tuple(mode_lost),
                        error=f"{len(content_lost)} path(s) not recovered byte for byte: {content_lost[0]}")
    if still or mode_lost:
        why = "; ".join(filter(None, [
            f"gates still failing after recovery ({', '.join(still)})" if still else "",
            f"permission bits not restored: {', '.join(mode_lost[:3])}" if mode_lost else "",
        ]))
        return _replace(result, verdict="not-recovered", mode_paths=tuple(mode_lost), rto_s=None, error=why)
    if result.rto_s is None:
        return _replace(result, verdict="error", error="no verified recovery found in the clone's journal")
    return result


def _missing_from_undo(run: _Run, now: Snapshot) -> list[str]:
    """Broken-state files held byte for byte neither by the ``undo`` (safety)
    checkpoint nor by the worktree (a restore leaves ignored files in place)."""
    undo = get_label(run.sandbox.repo, "undo")
    kept = tree_blobs(run.sandbox.repo, undo.worktree_tree) if undo else {}
    return sorted(path for path, state in run.broken.items()
                  if kept.get(path) != state.blob and getattr(now.get(path), "blob", None) != state.blob)


def _kill_and_continue(run: _Run) -> None:
    """Start ``git recover restore good``, SIGKILL it once its switch has begun, check
    that it left its intent record, and finish with ``git recover restore --continue``.

    Raises:
        KillMissed: the restore ended before the kill, or left no intent record.
        DrillError: --continue failed.
    """
    sandbox = run.sandbox
    intent = intent_path(sandbox.repo)
    first = sandbox.top / BULK_DIR / "f00000.txt"
    # Its own process group, killed whole: the git child dies with it, as in a crash
    # (a lone SIGKILL to Python would leave git finishing the switch behind our back).
    proc = start_group(sandbox.recover_argv("restore", "good"), sandbox.top)
    deadline = time.monotonic() + KILL_WAIT_S
    # Wait for the intent record (written just before the switch), then for the
    # switch to rewrite its first file: the kill then lands inside the switch.
    while proc.poll() is None and not intent.exists() and time.monotonic() < deadline:
        time.sleep(0.001)
    while proc.poll() is None and b"BROKEN" in _read(first) and time.monotonic() < deadline:
        time.sleep(0.0005)
    kill_group(proc.pid, signal.SIGKILL)
    proc.wait()
    if proc.returncode != -signal.SIGKILL:
        raise KillMissed(f"restore finished (exit {proc.returncode}) before it could be killed")
    if not intent.exists():
        raise KillMissed("the killed restore left no intent record; --continue would have nothing to finish")
    switched = sum(1 for p in (sandbox.top / BULK_DIR).iterdir() if b"BROKEN" not in _read(p))
    rc, _, stderr = run_captured(sandbox.recover_argv("restore", "--continue"), sandbox.top)
    if rc != 0:
        raise DrillError(f"restore --continue exited {rc}: {_last_line(stderr)}")
    run.evidence.append(f"restore SIGKILLed inside the switch ({switched} file(s) switched), intent record left, "
                        "restore --continue finished it")


def _validate(sandbox: Sandbox, strongest: str, mark_good: bool) -> tuple[Detection, str]:
    """Run every gate as ``git recover run`` does (stage ``run``), output captured."""
    gates = load_gates(sandbox.top, GitConfig.load(sandbox.repo.git))
    # The injected failure is no git operation; undoing it means going back to
    # the good checkpoint the baseline marked.
    good = get_label(sandbox.repo, "good")
    undo = UndoPlan("injected failure", "drill", good.head, good.branch, None, checkpoint=good) if good else None
    spec = Validation(stage="run", gate_stages=None, strongest=strongest,  # type: ignore[arg-type]
                      mark_good=mark_good, use_cache=False, undo=undo)
    messages = io.StringIO()
    with contextlib.redirect_stderr(messages):
        outcome = validate(sandbox.repo, spec, gates)
    return Detection({r.gate.name: r for r in outcome.results}, messages.getvalue()), outcome.action


def _timing(run: _Run) -> dict[str, object]:
    """detect_s, rto_s, rpo_s and rpo_files from the clone's journal (module docstring, step 7)."""
    assert run.injected_at is not None
    events = [e for e in read_events(run.sandbox.repo, warn=lambda m: None) if e.time >= run.injected_at]
    if run.scenario.mode == "degraded":
        down = _first(events, lambda e: e.event == "gate" and e.get("gate") == fixture.CHECKER_GATE
                      and e.get("status") == "unavailable")
        up = down and _first(events, lambda e: e.event == "gate" and e.get("gate") == fixture.CHECKER_GATE
                             and e.get("status") == "pass" and e.time > down.time)
        if not down or not up:
            return {}
        return {"detect_s": _secs(run.injected_at, down.time), "rto_s": _secs(down.time, up.time)}
    failure = _first(events, lambda e: e.event == "failure")
    if failure is None:
        return {}
    end = _first(events, lambda e: e.event == "restore" and e.get("phase") == "end"
                 and e.get("verdict") == "ok" and e.time >= failure.time)
    # The recovery point is the checkpoint the restore went back to (its end event).
    files = end.get("rpo_files") if end else None
    return {
        "detect_s": _secs(run.injected_at, failure.time),
        "rto_s": _secs(failure.time, end.time) if end else None,
        "rpo_s": end.get("rpo_s") if end else None,
        "rpo_files": files if isinstance(files, int) else None,
    }


def _processes_inside(top: Path) -> list[int]:
    """Processes whose working directory is inside ``top`` (Linux ``/proc``; empty
    elsewhere): a gate run must not leave any behind (the runner kills the group)."""
    proc = Path("/proc")
    found = []
    prefix = str(top.resolve())
    for entry in proc.iterdir() if proc.is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd == prefix or cwd.startswith(prefix + os.sep):
            found.append(int(entry.name))
    return found


def _first(events: Sequence[Event], pred: Callable[[Event], bool]) -> Event | None:
    return next((e for e in events if pred(e)), None)


def _secs(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds(), 6)


def _replace(result: DrillResult, **changes: object) -> DrillResult:
    return replace(result, **changes)  # type: ignore[arg-type]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
