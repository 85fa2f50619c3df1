"""``git recover gates list`` and ``git recover gates run [--stage S]``."""

from __future__ import annotations

import sys

import click

from recovery.base.output import out, say
from recovery.cli.common import echo_json, open_repo
from recovery.core.config import GitConfig
from recovery.base.errors import EXIT_OK
from recovery.gates.config import load_gates
from recovery.gates.model import STAGES, Gate
from recovery.core.refs import resolve_commit
from recovery.core.checkpoint import checkpoint_or_warn
from recovery.gates.policy import Validation, summary_table, validate
from recovery.gates.trust import untrusted_note

_SHOWN = ("command", "builtin", "shell", "timeout_s", "severity", "stages", "required", "policy")
# Shown under the key the configuration file uses.
_KEY_OF_FIELD = {"timeout_s": "timeout"}


@click.group()
def gates() -> None:
    """Quality gates: show the effective configuration, run them by hand."""


@gates.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the configuration as JSON.")
def list_gates(as_json: bool) -> None:
    """Show every gate with each value and where it came from (the project file,
    a git config override, or the default)."""
    repo = open_repo()
    config = load_gates(repo.toplevel, GitConfig.load(repo.git))
    if as_json:
        echo_json({
            "source": str(config.source) if config.source else None,
            "gates": [{"name": g.name, **{k: _value(g, k) for k in _fields(g)}, "sources": g.sources}
                      for g in config.gates],
            "disabled": list(config.disabled),
        })
        return
    if config.source is None:
        out("no gates configured (add a [gates.<name>] table to .recover.toml or "
                   "[tool.git-recover.gates.<name>] to pyproject.toml; see docs/gates.md)")
        return
    out(f"configuration: {config.source}")
    for gate in config.gates:
        out(f"{gate.name}")
        for key in _fields(gate):
            label = _KEY_OF_FIELD.get(key, key)
            out(f"  {label:<10} {_shown(_value(gate, key)):<40} ({gate.sources.get(key, 'default')})")
    for name in config.disabled:
        out(f"{name}  (disabled by git config recover.gate.{name}.enabled)")


@gates.command("run")
@click.option("--stage", type=click.Choice(STAGES), help="Run only the gates of this stage (default: all).")
@click.option("--no-cache", is_flag=True, help="Run every gate even when it passed on this tree before.")
def run_gates(stage: str | None, no_cache: bool) -> int:
    """Checkpoint the worktree (reason `gates`) and run the gates on it; print a summary table.
    When every required gate passes, the checkpoint is marked good.

    Exit status: 0 all required gates passed, 2 a required gate did not.
    """
    repo = open_repo()
    git_config = GitConfig.load(repo.git)
    config = load_gates(repo.toplevel, git_config)
    if not config.for_stage(stage):
        out("no gates to run" + (f" in stage {stage}" if stage else ""))
        return EXIT_OK
    note = untrusted_note(repo, git_config)
    if note:
        say(note)
    spec = Validation(stage or "manual", (stage,) if stage else None, base=resolve_commit(repo, "HEAD"), strongest=None,
                      interactive=sys.stderr.isatty(), use_cache=not no_cache)
    outcome = validate(repo, spec, config, checkpoint_or_warn(repo, "gates"))
    for line in summary_table(outcome.results):
        out(line)
    for result in outcome.results:
        if result.status != "pass" and result.output and not spec.interactive:
            out(f"--- {result.gate.name} output ---\n{result.output.rstrip()}")
    if outcome.checkpoint is not None:
        verdict = "marked good" if outcome.exit_code == EXIT_OK else "not good"
        out(f"checkpoint {outcome.checkpoint.short}: {verdict}")
    return outcome.exit_code


def _fields(gate: Gate) -> tuple[str, ...]:
    extra = tuple(sorted(gate.options))
    return tuple(k for k in _SHOWN if k != ("builtin" if gate.builtin is None else "command")
                 and not (k == "shell" and gate.builtin)) + extra


def _value(gate: Gate, key: str) -> object:
    if key in gate.options:
        return gate.options[key]
    value = getattr(gate, key)
    return list(value) if isinstance(value, tuple) else value


def _shown(value: object) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
