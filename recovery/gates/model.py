"""What a gate is and what running it produced.

A :class:`Gate` is one entry of the ``gates`` table of the project configuration
(``.recover.toml`` or ``[tool.git-recover]``), after per-user overrides from git
config ``recover.gate.<name>.*``; :class:`GateResult` is one run of it on one tree.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from recovery.core.repo import Repo

Severity = Literal["critical", "high", "medium", "low"]
Policy = Literal["restore", "block", "warn"]
Status = Literal["pass", "fail", "timeout", "unavailable", "error"]

SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")
POLICIES: tuple[Policy, ...] = ("restore", "block", "warn")
BUILTINS = ("tdd", "links")
# Stages a gate can run in: the git hooks that validate (githooks(5)) plus "run",
# the validation after `git recover run -- <git args>`.
STAGES = (
    "pre-commit",
    "pre-merge-commit",
    "pre-push",
    "post-commit",
    "post-merge",
    "post-rewrite",
    "post-checkout",
    "run",
    "agent",
)


@dataclass(frozen=True)
class Gate:
    """One configured gate.

    Attributes:
        name: the key under ``gates`` (``pytest``, ``tdd``).
        command: argv of a command gate (empty for a built-in one).
        builtin: ``"tdd"`` or ``"links"`` for a built-in gate, else ``None``.
        shell: run ``command[0]`` with ``/bin/sh -c`` (only when asked for explicitly).
        timeout_s: seconds before the whole process group is killed.
        severity: critical / high / medium / low (reported, and orders the summary).
        stages: the stages the gate runs in (see :data:`STAGES`).
        required: a required gate's failure (or missing program) counts; an optional
            one only warns.
        policy: what a required gate's failure does: ``restore`` the last good
            checkpoint, ``block`` the operation, or ``warn``.
        options: the built-in gate's own settings (``sources``/``tests`` for tdd,
            ``fail_level`` and link overrides for links).
        sources: field name (``timeout_s``) to where its value came from, e.g.
            ``.recover.toml: gates.pytest.timeout``, ``git config recover.gate.pytest.timeout``
            or ``default``; shown by ``git recover gates list``.
    """

    name: str
    command: tuple[str, ...] = ()
    builtin: str | None = None
    shell: bool = False
    timeout_s: float = 300.0
    severity: Severity = "high"
    stages: tuple[str, ...] = ("pre-commit", "post-merge", "post-rewrite", "run")
    required: bool = True
    policy: Policy = "restore"
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    sources: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def advice(self) -> str:
        """The fix for this gate's own failure, one line: what the user does next
        (never a restore, which would take the change away rather than fix it)."""
        if self.builtin == "tdd":
            from recovery.gates.builtin.tdd import DEFAULT_TESTS

            tests = ", ".join(self.options.get("tests", DEFAULT_TESTS))
            return f"add or change a test ({tests}) with the source change, and stage it"
        if self.builtin == "links":
            return "fix the links listed above (`git recover links` lists them again)"
        import shlex

        shown = self.command[0] if self.shell else shlex.join(self.command)
        return f"fix what `{shown}` reports, then run the operation again"

    @property
    def definition_key(self) -> str:
        """SHA-256 (hex) of everything that decides the gate's outcome on a given tree:
        command, shell, built-in and its options. Timeout, severity, stages and policy
        are left out: they change what a result means, not the result."""
        payload = json.dumps(
            [self.name, list(self.command), self.shell, self.builtin, self.options],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class GateResult:
    """One run of one gate.

    Attributes:
        gate: the gate that ran.
        status: ``pass``, ``fail``, ``timeout``, ``unavailable`` (program missing) or
            ``error`` (the gate itself could not run, e.g. a bad built-in setting).
        duration_s: wall-clock seconds, 0 for a cached result.
        tree: the tree it ran on (``None`` when no checkpoint could be taken).
        reason: one line for the summary ("exit 1", "timed out after 5 s").
        output: the gate's output, bounded (see :mod:`recovery.gates.runner`).
        cached: the pass came from the cache, nothing ran.
    """

    gate: Gate
    status: Status
    duration_s: float
    tree: str | None = None
    reason: str = ""
    output: str = ""
    cached: bool = False

    @property
    def failed(self) -> bool:
        """True when this result counts against the operation: a required gate that
        did not pass (a missing program included: gates that silently switch
        themselves off are a failure, not a pass). An optional gate never fails the run, it only warns."""
        return self.gate.required and self.status != "pass"

    @property
    def warning(self) -> bool:
        """True for an optional gate that did not pass (shown, never blocking)."""
        return not self.gate.required and self.status != "pass"


@dataclass(frozen=True)
class GateContext:
    """What a gate run is about.

    Attributes:
        repo: the worktree.
        stage: the stage being validated (``None`` for ``gates run`` without ``--stage``).
        tree: the tree on disk the gates test (a checkpoint's worktree tree), or
            ``None`` when no checkpoint could be taken (nothing is cached then).
        base: the commit the change is measured from (the tdd gate): HEAD before
            the operation, ``None`` for an unborn branch.
        index_file: the index git handed the hook (``GIT_INDEX_FILE`` in pre-commit,
            githooks(5)); the tdd gate reads the change about to be committed from it.
        interactive: stream gate output to the terminal as it comes.
        use_cache: look passes up in (and add them to) the pass cache.
    """

    repo: Repo
    stage: str | None
    tree: str | None
    base: str | None = None
    index_file: Path | None = None
    interactive: bool = False
    use_cache: bool = True


@dataclass(frozen=True)
class Verdict:
    """What a built-in gate decided.

    Attributes:
        passed: the rule holds.
        reason: one line for the summary.
        output: details (the files that broke the rule, the link report).
    """

    passed: bool
    reason: str
    output: str = ""
