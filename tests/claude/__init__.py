"""Test support for running the real Claude Code client: :mod:`claude.client`
installs and runs the pinned client, :mod:`claude.standin` is the Messages API
stand-in it talks to.  Tests use the ``claude_client`` fixture (tests/conftest.py)."""
