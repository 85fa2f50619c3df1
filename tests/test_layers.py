"""The layer contract of docs/architecture.md, checked on every test run: cli >
measure > hooks | agent | watch > gates > remote > core > base, arrows down only, and links a
leaf that imports only base (contracts in pyproject.toml, checked by import-linter)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def test_imports_keep_the_layer_contract() -> None:
    pytest.importorskip("importlinter", reason="import-linter is not installed (pip install -e '.[test]')")
    lint = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_the_contract_catches_an_upward_import(tmp_path: Path) -> None:
    # The contract must be able to fail: a core module importing the CLI breaks it.
    pytest.importorskip("importlinter", reason="import-linter is not installed (pip install -e '.[test]')")
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "recovery", copy / "recovery", ignore=shutil.ignore_patterns("__pycache__"))
    bad = copy / "recovery" / "core" / "model.py"
    bad.write_text(bad.read_text() + "\nfrom recovery.cli import app  # noqa\n")
    lint = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=copy,
                          capture_output=True, text=True, check=False, env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "recovery.core.model -> recovery.cli" in proc.stdout
