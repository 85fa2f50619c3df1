"""The machine id: the name under which a clone's checkpoints live on a remote.

The id is stored in the repository's own config as ``recover.machineId`` the
first time it is needed: ``<hostname>-<6 hex digits>``, so two clones never share
a namespace by accident (agent sandboxes are often cloned from one image and
share a host name and ``/etc/machine-id``), and it stays the same for the life of
the clone. Set it yourself (``git config recover.machineId laptop``) to choose a
readable name; it must be a valid ref component.
"""

from __future__ import annotations

import re
import secrets
import socket

from recovery.base.errors import UsageError
from recovery.core.config import GitConfig
from recovery.core.repo import Repo

MACHINE_KEY = "recover.machineId"
# One ref component: letters, digits, '.', '_', '-'; no leading '.' or '-', no
# '..', no '.lock' suffix (git-check-ref-format(1)).
_VALID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")


def valid_machine_id(name: str) -> bool:
    """True when ``name`` can be one component of a ref name (and is no more)."""
    return bool(_VALID.match(name)) and ".." not in name and not name.endswith((".lock", "."))


def machine_id(repo: Repo, config: GitConfig | None = None) -> str:
    """This clone's machine id, created and stored on first use.

    Raises:
        UsageError: ``recover.machineId`` is set to something that cannot be a
            ref component (exit 3).
    """
    current = (config or GitConfig.load(repo.git)).get(MACHINE_KEY)
    if current is not None:
        if not valid_machine_id(current):
            raise UsageError(
                f"git config {MACHINE_KEY}={current!r} is not a valid machine id "
                "(letters, digits, '.', '_' and '-', at most 64)"
            )
        return current
    host = re.sub(r"[^A-Za-z0-9_-]+", "-", socket.gethostname()).strip("-")[:40] or "machine"
    created = f"{host}-{secrets.token_hex(3)}"
    repo.git.run("config", "--local", MACHINE_KEY, created)
    return created
