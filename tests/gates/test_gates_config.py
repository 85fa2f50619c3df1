"""Gate configuration: the project file (``.recover.toml`` or ``[tool.git-recover]``),
per-user overrides in git config, the source of every value, and clear errors."""

from __future__ import annotations

import json

import pytest

from recovery.core.config import GitConfig
from recovery.base.errors import UsageError
from recovery.gates.config import load_gates
from tests.conftest import GitRepo

FULL = """\
[gates.pytest]
command = "pytest -q --maxfail=1"
timeout = 120
severity = "critical"
stages = ["pre-commit", "post-merge"]
required = true
policy = "block"

[gates.tdd]
builtin = "tdd"
sources = ["src/**/*.py"]
tests = ["tests/**/*.py"]
required = false
"""


def test_recover_toml_values_and_sources(repo: GitRepo) -> None:
    repo.write(".recover.toml", FULL)
    config = load_gates(repo.path, GitConfig())
    pytest_gate, tdd = config.gates
    assert pytest_gate.command == ("pytest", "-q", "--maxfail=1")  # a string is split with shlex
    assert (pytest_gate.timeout_s, pytest_gate.severity, pytest_gate.policy) == (120.0, "critical", "block")
    assert pytest_gate.stages == ("pre-commit", "post-merge")
    assert pytest_gate.sources["timeout_s"] == ".recover.toml: gates.pytest.timeout"
    assert pytest_gate.sources["shell"] == "default"
    assert tdd.builtin == "tdd" and tdd.options == {"sources": ["src/**/*.py"], "tests": ["tests/**/*.py"]}
    assert tdd.required is False


def test_pyproject_table(repo: GitRepo) -> None:
    repo.write("pyproject.toml", '[project]\nname = "x"\n\n[tool.git-recover.gates.lint]\n'
                                 'command = ["ruff", "check", "."]\npolicy = "warn"\n')
    (gate,) = load_gates(repo.path, GitConfig()).gates
    assert gate.command == ("ruff", "check", ".")
    assert gate.sources["policy"] == "pyproject.toml: tool.git-recover.gates.lint.policy"


def test_git_config_overrides_show_their_source(repo: GitRepo) -> None:
    repo.write(".recover.toml", FULL)
    repo.git("config", "recover.gate.pytest.timeout", "900")
    repo.git("config", "recover.gate.pytest.stages", "pre-push, run")
    repo.git("config", "recover.gate.tdd.enabled", "false")
    out = repo.recover("gates", "list").stdout
    assert "timeout    900 " in out
    assert "(git config recover.gate.pytest.timeout)" in out
    assert "stages     pre-push run" in out
    assert "(.recover.toml: gates.pytest.severity)" in out
    assert "tdd  (disabled by git config recover.gate.tdd.enabled)" in out
    data = json.loads(repo.recover("gates", "list", "--json").stdout)
    assert [g["name"] for g in data["gates"]] == ["pytest"]
    assert data["gates"][0]["sources"]["timeout_s"] == "git config recover.gate.pytest.timeout"
    assert data["disabled"] == ["tdd"]


@pytest.mark.parametrize(("toml", "message"), [
    ('[gates.x]\ncommand = ["a"]\ntimeout = "long"\n', ".recover.toml: gates.x.timeout: expected a number of seconds from 0 to 86400"),
    ('[gates.x]\ncommand = ["a"]\nseverity = "huge"\n', ".recover.toml: gates.x.severity: expected one of critical"),
    ('[gates.x]\ncommand = ["a"]\npolicy = "pray"\n', ".recover.toml: gates.x.policy: expected one of restore"),
    ('[gates.x]\ncommand = ["a"]\nstages = ["pre-fetch"]\n',
     ".recover.toml: gates.x.stages: unknown stage 'pre-fetch'"),
    ('[gates.x]\ncommand = ["a"]\ncolour = 1\n', ".recover.toml: gates.x.colour: unknown key"),
    ('[gates.x]\ntimeout = 3\n', ".recover.toml: gates.x: a gate needs a command or a builtin"),
    ('[gates.x]\nbuiltin = "fuzz"\n', ".recover.toml: gates.x.builtin: unknown built-in 'fuzz'"),
    ('[gates.x]\ncommand = []\n', ".recover.toml: gates.x.command: expected a non-empty command"),
    ('[gates.x]\ncommand = ["a", "b"]\nshell = true\n', ".recover.toml: gates.x.command: with shell = true"),
    ('[gates.x]\nbuiltin = "tdd"\nsources = "src"\n', ".recover.toml: gates.x.sources: expected a non-empty list"),
    ('gates = 3\n', ".recover.toml: gates: expected a table"),
    ('[gates.x]\ncommand = ["a"\n', ".recover.toml: invalid TOML"),
])
def test_bad_config_names_file_and_key(repo: GitRepo, toml: str, message: str) -> None:
    repo.write(".recover.toml", toml)
    proc = repo.recover("gates", "list", check=False)
    assert proc.returncode == 3
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("key", "value", "message"), [
    ("recover.gate.nope.timeout", "3", "git config recover.gate.nope.timeout: no gate named 'nope'"),
    ("recover.gate.x.colour", "red", "git config recover.gate.x.colour: unknown key"),
    ("recover.gate.x.timeout", "soon", "git config recover.gate.x.timeout: expected a number of seconds from 0 to 86400"),
    ("recover.gate.x.required", "maybe", "bad boolean in git config recover.gate.x.required"),
])
def test_bad_git_config_override(repo: GitRepo, key: str, value: str, message: str) -> None:
    repo.write(".recover.toml", '[gates.x]\ncommand = ["a"]\n')
    repo.git("config", key, value)
    proc = repo.recover("gates", "list", check=False)
    assert proc.returncode == 3
    assert message in proc.stderr


def test_no_config_is_not_an_error(repo: GitRepo) -> None:
    assert load_gates(repo.path, GitConfig()).gates == ()
    assert "no gates configured" in repo.recover("gates", "list").stdout
    with pytest.raises(UsageError):
        repo.write(".recover.toml", "[gates.'a.b']\ncommand = ['x']\n")
        load_gates(repo.path, GitConfig())


def test_values_that_pass_a_naive_check_are_refused(tmp_path) -> None:
    import pytest

    from recovery.core.config import GitConfig
    from recovery.base.errors import UsageError
    from recovery.gates.config import load_gates

    for table in ('timeout = nan\ncommand = ["true"]', 'timeout = inf\ncommand = ["true"]',
                  'command = ["a\\u0000b"]', 'builtin = "links"\nfail_level = "fatal"'):
        (tmp_path / ".recover.toml").write_text(f"[gates.g]\n{table}\n")
        with pytest.raises(UsageError, match="gates.g"):
            load_gates(tmp_path, GitConfig())
