"""``python -m recovery`` runs the CLI (tests use this to avoid depending on PATH)."""

from recovery.cli.main import run

run()
