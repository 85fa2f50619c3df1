"""The drill scenarios: one injected failure each, and the evidence its
detection must show before any recovery is counted.

Each scenario names its failure type (a row of the measured-versus-target table,
:data:`recovery.measure.metrics.CATEGORIES`), how it is recovered (``restore``: the
gates' ``restore`` policy restores the last good checkpoint; ``kill``: the
restore is SIGKILLed mid-switch and finished with ``restore --continue``;
``degraded``: an optional gate's program vanishes and comes back, nothing is
restored), and a ``detected`` check that reads the gate results and the printed
warnings and returns the evidence, or ``None`` when the failure went unnoticed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from recovery.measure.drill.fixture import CHECKER, CHECKER_GATE, DIR
from recovery.measure.drill.sandbox import Sandbox
from recovery.gates.model import GateResult

BULK_DIR = f"{DIR}/bulk"
LARGE_FILES = 3000  # thousands of files: a restore long enough to be killed inside its switch
KILL_FILES = 2000  # enough for the switch to take long enough to be killed inside it


@dataclass(frozen=True)
class Injection:
    """Where a scenario acts: the clone and the directory of external tools."""

    sandbox: Sandbox
    tools_dir: Path


@dataclass(frozen=True)
class Detection:
    """What the detecting gate run showed.

    Attributes:
        results: gate name to its result.
        messages: what git-recover printed while validating (stderr lines).
    """

    results: dict[str, GateResult]
    messages: str

    def status(self, gate: str) -> str | None:
        """The status of ``gate`` (``pass``, ``fail``, ``timeout``, ``unavailable``...), or None."""
        result = self.results.get(gate)
        return result.status if result else None

    def output(self, gate: str) -> str:
        """What ``gate`` printed (bounded by the gate runner)."""
        result = self.results.get(gate)
        return result.output if result else ""


@dataclass(frozen=True)
class Scenario:
    """One chaos scenario.

    Attributes:
        name: the ``--scenario`` value.
        category: the failure type it measures (a key of ``recovery.measure.metrics.CATEGORIES``).
        summary: one line for people.
        asserts: what must be seen for the failure to count as detected (docs/metrics.md).
        inject: breaks the clone.
        detected: the evidence string, or None when the failure was not detected.
        mode: ``restore``, ``kill`` or ``degraded`` (module docstring).
        bulk_files: files committed under ``recover-drill/bulk/`` before the good checkpoint.
    """

    name: str
    category: str
    summary: str
    asserts: str
    inject: Callable[[Injection], None]
    detected: Callable[[Detection], str | None]
    mode: str = "restore"
    bulk_files: int = 0


def bulk_files(count: int) -> dict[str, str]:
    """``count`` small text files for the large change set, named by number."""
    return {f"{BULK_DIR}/f{n:05d}.txt": f"bulk file {n}\n" + "data " * 20 + "\n" for n in range(count)}


def _failed(d: Detection, gate: str, *needles: str) -> str | None:
    """Evidence that ``gate`` failed with every needle in its output, else None."""
    if d.status(gate) != "fail":
        return None
    text = d.output(gate)
    if not all(n.lower() in text.lower() for n in needles):
        return None
    first = next((line for line in text.splitlines() if any(n.lower() in line.lower() for n in needles)), "")
    return f"gate {gate} failed: {first.strip()[:120]}"


# --- injections ---------------------------------------------------------------


def _delete_module(inj: Injection) -> None:
    (inj.sandbox.top / DIR / "modules" / "beta.md").unlink()


def _truncate_module(inj: Injection) -> None:
    path = inj.sandbox.top / DIR / "modules" / "gamma.md"
    data = path.read_bytes()
    cut = data.index("«".encode()) + 1  # inside a two-byte UTF-8 sequence
    path.write_bytes(data[:cut])


def _circular_import(inj: Injection) -> None:
    path = inj.sandbox.top / DIR / "modules" / "gamma.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Gamma is a leaf:", "Gamma now needs @alpha.md for", 1), encoding="utf-8")


def _unreadable_module(inj: Injection) -> None:
    (inj.sandbox.top / DIR / "modules" / "beta.md").chmod(0)


def _failing_test(inj: Injection) -> None:
    inj.sandbox.write(f"{DIR}/tests/test_regression.sh",
                      "#!/bin/sh\necho 'regression: expected 4, got 5'\nexit 1\n")


def _hanging_test(inj: Injection) -> None:
    inj.sandbox.write(f"{DIR}/tests/test_hang.sh", "#!/bin/sh\n# waits on a lock nobody releases\nsleep 600\n")


def _remove_checker(inj: Injection) -> None:
    (inj.tools_dir / CHECKER).unlink()


def _damage_bulk(inj: Injection) -> None:
    for path in sorted((inj.sandbox.top / BULK_DIR).iterdir()):
        with path.open("a") as handle:
            handle.write("BROKEN by a runaway codemod\n")


def _rename_module(inj: Injection) -> None:
    modules = inj.sandbox.top / DIR / "modules"
    os.rename(modules / "alpha.md", modules / "alpha-v2.md")


# --- detection evidence ----------------------------------------------------------


def _timeout(d: Detection) -> str | None:
    result = d.results.get("tests")
    if result is None or result.status != "timeout":
        return None
    return f"gate tests timed out and was killed after {result.duration_s:.1f} s"


def _degraded(d: Detection) -> str | None:
    warned = [line for line in d.messages.splitlines() if "warning" in line and CHECKER_GATE in line]
    if d.status(CHECKER_GATE) != "unavailable" or not warned:
        return None
    return f"gate {CHECKER_GATE} unavailable, run went on: {warned[0].strip()[:120]}"


def _cascade(d: Detection) -> str | None:
    links, tests = _failed(d, "links", "alpha.md"), _failed(d, "tests", "module alpha is missing")
    return f"{links}; then {tests}" if links and tests else None


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("missing-module", "module_recovery", "an imported Markdown module is deleted",
             "the links gate fails naming the deleted module (beta.md)",
             _delete_module, lambda d: _failed(d, "links", "beta.md")),
    Scenario("corrupted-module", "module_recovery", "a module is truncated inside a UTF-8 sequence",
             "the test gate fails reporting the module truncated",
             _truncate_module, lambda d: _failed(d, "tests", "gamma.md is truncated")),
    Scenario("circular-imports", "link_resolution", "two modules import each other",
             "the links gate fails on the import cycle (naming alpha.md)",
             _circular_import, lambda d: _failed(d, "links", "alpha.md")),
    Scenario("permission-error", "module_recovery", "a module loses its read permission",
             "the test gate, run as an unprivileged user under root, fails with Permission denied",
             _unreadable_module, lambda d: _failed(d, "tests", "cannot read", "permission denied")),
    Scenario("failing-gate", "quality_gate", "a test starts failing",
             "the test gate fails with the test's own message",
             _failing_test, lambda d: _failed(d, "tests", "regression: expected 4, got 5")),
    Scenario("hanging-gate", "quality_gate", "a test hangs",
             "the test gate times out and its process group is killed",
             _hanging_test, _timeout),
    Scenario("missing-gate-program", "quality_gate", "an optional gate's program disappears, then comes back",
             "the checker gate is unavailable, a warning is printed and the run goes on (degraded); "
             "recovered when the gate passes again",
             _remove_checker, _degraded, mode="degraded"),
    Scenario("sigkill-restore", "command_engine", "the restore is SIGKILLed mid-switch",
             "the test gate fails on the damaged files; the killed restore leaves its intent record, "
             "and `restore --continue` finishes it",
             _damage_bulk, lambda d: _failed(d, "tests", "bulk files damaged"), mode="kill",
             bulk_files=KILL_FILES),
    Scenario("cascade", "full_system", "a renamed module breaks an import, then the tests",
             "the links gate fails on alpha.md and the test gate fails on the missing module",
             _rename_module, _cascade),
    Scenario("large-change-set", "atomic_rollback", f"{LARGE_FILES} files damaged at once",
             "the test gate fails on the damaged files",
             _damage_bulk, lambda d: _failed(d, "tests", "bulk files damaged"), bulk_files=LARGE_FILES),
)
BY_NAME: dict[str, Scenario] = {s.name: s for s in SCENARIOS}
