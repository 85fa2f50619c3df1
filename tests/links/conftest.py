"""Fixtures for the @-link validator: small projects written from a dict."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from links_helpers import write_tree


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Path]:
    """``project({"CLAUDE.md": "@a.md\\n", "a.md": "x"})`` -> the project root."""
    top = tmp_path / "proj"
    top.mkdir()

    def make(files: dict[str, str | bytes] | None = None) -> Path:
        return write_tree(top, files or {})

    return make
