"""``python -m recovery`` runs the CLI (tests use this to avoid depending on PATH)."""

import sys

from recovery.cli.main import main

sys.exit(main())
