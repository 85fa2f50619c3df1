"""Gate configuration: the project file (``.recover.toml`` or ``[tool.git-recover]``),
per-user overrides in git config, the source of every value, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

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


@pytest.mark.parametrize(("file", "text", "message"), [
    (".recover.toml", '[gate.pytest]\ncommand = ["false"]\n',
     ".recover.toml: gate: unknown table (did you mean 'gates'?)"),
    (".recover.toml", '[tool.git-recover.gates.x]\ncommand = ["false"]\n',
     ".recover.toml: tool: unknown table (in .recover.toml write the tables without the tool.git-recover. prefix)"),
    (".recover.toml", '[gates.x]\ncommand = ["false"]\npolcy = "block"\n',
     ".recover.toml: gates.x.polcy: unknown key (did you mean 'policy'?)"),
    (".recover.toml", '[links]\nprofle = "framework"\n', ".recover.toml: links.profle: unknown key (did you mean 'profile'?)"),
    (".recover.toml", '[metrics.target]\nquality_gate = 5\n', ".recover.toml: metrics.target: unknown table (did you mean 'targets'?)"),
    ("pyproject.toml", '[tool.git-recover.gate.x]\ncommand = ["false"]\n',
     "pyproject.toml: tool.git-recover.gate: unknown table (did you mean 'gates'?)"),
    ("pyproject.toml", '[tool.git_recover.gates.x]\ncommand = ["false"]\n',
     "pyproject.toml: tool.git_recover: unknown table (did you mean 'tool.git-recover'?)"),
    ("pyproject.toml", '[tool.recover.gates.x]\ncommand = ["false"]\n',
     "pyproject.toml: tool.recover: unknown table (did you mean 'tool.git-recover'?)"),
    ("pyproject.toml", '[tool.git.recover.gates.x]\ncommand = ["false"]\n',
     "pyproject.toml: tool.git.recover: unknown table (did you mean 'tool.git-recover'?)"),
    ("pyproject.toml", '[tool.GIT-RECOVER.gates.x]\ncommand = ["false"]\n',
     "pyproject.toml: tool.GIT-RECOVER: unknown table (did you mean 'tool.git-recover'?)"),
    ("pyproject.toml", '[tool.git-recover-gates.x]\ncommand = ["false"]\n',
     "pyproject.toml: tool.git-recover-gates: unknown table (did you mean 'tool.git-recover'?)"),
    ("pyproject.toml", '[tool.recovery.gates.x]\ncommand = ["false"]\n',
     "pyproject.toml: tool.recovery: unknown table (did you mean 'tool.git-recover'?)"),
    ("pyproject.toml", '[tool.git.Recover.links]\nprofile = "framework"\n',
     "pyproject.toml: tool.git.Recover: unknown table (did you mean 'tool.git-recover'?)"),
    ("pyproject.toml", '[tools.git-recover.gates.x]\ncommand = ["false"]\n',
     "pyproject.toml: tools.git-recover: unknown table (did you mean 'tool.git-recover'?)"),
    ("pyproject.toml", '[gates.x]\ncommand = ["false"]\n',
     "pyproject.toml: gates: unknown table (in pyproject.toml git-recover's tables go under [tool.git-recover]: "
     "did you mean 'tool.git-recover.gates'?)"),
])
def test_a_typo_never_turns_the_gates_off(repo: GitRepo, file: str, text: str, message: str) -> None:
    """A misspelt table or key is an error with the file, the key and the nearest
    valid name (exit 3) for every command that reads the configuration."""
    repo.write(file, text)
    for args in (("gates", "list"), ("gates", "run"), ("links",), ("report",)):
        proc = repo.recover(*args, check=False)
        assert proc.returncode == 3, (args, proc.stdout, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and "no gates to run" not in proc.stdout


@pytest.mark.parametrize("table", ["git-river", "git-grove", "git-crecord", "trecover", "recover"])
def test_another_tools_table_with_a_near_name_is_not_ours(repo: GitRepo, table: str) -> None:
    """A near name alone is not a misspelling: ``[tool.git-river]`` is another
    tool's table, and refusing it blocked every commit of that project."""
    repo.write("pyproject.toml", f'[project]\nname = "p"\n\n[tool.{table}]\nbranch = "main"\nverbose = true\n')
    proc = repo.recover("gates", "list")
    assert proc.returncode == 0, proc.stderr
    assert "unknown table" not in proc.stderr


def test_a_typo_blocks_the_commit_hook_instead_of_skipping_the_gates(repo: GitRepo) -> None:
    repo.write("a.txt", "a\n")
    head = repo.commit_all("base")
    repo.recover("install")
    repo.write(".recover.toml", '[gate.pytest]\ncommand = ["false"]\n')
    repo.write("a.txt", "b\n")
    repo.git("add", "a.txt")
    proc = subprocess.run(["git", "commit", "-q", "-m", "x"], cwd=repo.path, capture_output=True, text=True)
    assert proc.returncode != 0
    assert ".recover.toml: gate: unknown table (did you mean 'gates'?)" in proc.stderr
    assert repo.git("rev-parse", "HEAD") == head


def test_a_valid_file_is_validated_once_per_content(repo: GitRepo, hermetic_env) -> None:
    """The schema check (jsonschema, ~100 ms to import) runs when the file changed,
    not on every hook: the second run does not import jsonschema at all."""
    repo.write(".recover.toml", '[gates.x]\ncommand = ["true"]\n')
    code = ("import sys; from pathlib import Path; from recovery.base.project_config import load_project_config;"
            "load_project_config(Path('.')); print('jsonschema' in sys.modules)")
    first = subprocess.run([sys.executable, "-c", code], cwd=repo.path, capture_output=True, text=True, check=True)
    second = subprocess.run([sys.executable, "-c", code], cwd=repo.path, capture_output=True, text=True, check=True)
    assert (first.stdout.strip(), second.stdout.strip()) == ("True", "False")
    assert len(list((hermetic_env / ".cache" / "git-recover" / "valid-config").iterdir())) == 1
    repo.write(".recover.toml", '[gates.x]\ncommand = ["true"]\ncolour = 1\n')
    third = subprocess.run([sys.executable, "-c", code], cwd=repo.path, capture_output=True, text=True)
    assert third.returncode == 1 and "gates.x.colour: unknown key" in third.stderr


def test_the_schema_names_the_values_the_code_knows() -> None:
    """The schema's lists are the code's constants (one can drift from the other)."""
    from recovery.base.project_config import SCHEMA_PATH
    from recovery.gates.model import BUILTINS, POLICIES, SEVERITIES, STAGES
    from recovery.links.findings import FAIL_LEVELS, PROFILES
    from recovery.links.settings import KEYS
    from recovery.measure.metrics import DEFAULT_TARGETS_S

    schema = json.loads(SCHEMA_PATH.read_text())
    gate = schema["$defs"]["gate"]["properties"]
    assert tuple(gate["stages"]["items"]["enum"]) == STAGES
    assert tuple(gate["policy"]["enum"]) == POLICIES
    assert tuple(gate["severity"]["enum"]) == SEVERITIES
    assert tuple(gate["builtin"]["enum"]) == BUILTINS
    assert tuple(schema["$defs"]["fail_level"]["enum"]) == FAIL_LEVELS
    links = schema["properties"]["links"]["properties"]
    assert sorted(links) == sorted(KEYS) and tuple(links["profile"]["enum"]) == PROFILES
    assert sorted(schema["properties"]["metrics"]["properties"]["targets"]["properties"]) == sorted(DEFAULT_TARGETS_S)


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.mkdir(), ".recover.toml: not a regular file"),
    (lambda p: p.symlink_to("gone.toml"), ".recover.toml: a symbolic link to nothing"),
    (lambda p: p.symlink_to(p.name), ".recover.toml: cannot read: Too many levels of symbolic links"),
])
def test_a_config_entry_that_is_no_readable_file_blocks_the_commit(repo: GitRepo, make, message: str) -> None:
    """A `.recover.toml` that is a directory or a symbolic link to nothing is no
    absent file: every command that reads the configuration says so (exit 3),
    and the commit hook blocks instead of running no gate."""
    repo.write("a.txt", "a\n")
    head = repo.commit_all("base")
    repo.recover("install")
    make(repo.path / ".recover.toml")
    proc = repo.recover("gates", "list", check=False)
    assert (proc.returncode, proc.stderr.strip()) == (3, f"git-recover: {message}")
    repo.write("a.txt", "b\n")
    proc = subprocess.run(["git", "commit", "-q", "-am", "x"], cwd=repo.path, capture_output=True, text=True)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr
    assert repo.git("rev-parse", "HEAD") == head
