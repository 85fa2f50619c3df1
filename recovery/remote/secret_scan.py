"""Refusing secrets before checkpoints leave the machine.

A checkpoint holds what was never committed: ``.env`` files, private keys,
cloud credentials pasted into a scratch file. Pushed to a shared remote, they
would leave the machine for the first time. Every blob that a pushed checkpoint
adds to its HEAD commit (staged, unstaged or untracked) is scanned with
detect-secrets (Yelp's scanner: private keys, cloud provider keys, keyword and
high-entropy rules) instead of patterns of our own. Its import costs about a
second, so it is loaded only when there is something to scan, never on a hook's
path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from recovery.base.errors import RecoverError
from recovery.core.capture import capture_workdir
from recovery.core.repo import Repo


@dataclass(frozen=True)
class SecretFinding:
    """A file that looks like it holds a secret.

    Attributes:
        path: the path in the worktree, relative to the top level.
        blob: the blob id that was scanned.
        kinds: what detect-secrets recognised (``Private Key``, ``AWS Access Key``...).
    """

    path: str
    blob: str
    kinds: tuple[str, ...]


def scan_blobs(repo: Repo, blobs: Iterable[tuple[str, str]]) -> list[SecretFinding]:
    """Scan blobs for secrets.

    Args:
        repo: where the blobs are.
        blobs: ``(path, blob id)`` pairs; each blob is read once, whatever the
            number of paths that name it.

    Returns:
        One finding per path whose blob holds a secret, sorted by path.

    Raises:
        RecoverError: a blob could not be read.
    """
    wanted = sorted(set(blobs))
    if not wanted:
        return []
    from detect_secrets.core.secrets_collection import SecretsCollection
    from detect_secrets.settings import default_settings

    with capture_workdir(repo, "secret-scan") as scratch:
        files: dict[str, tuple[str, str]] = {}
        contents = _read_blobs(repo, [blob for _, blob in wanted])
        for number, (path, blob) in enumerate(wanted):
            # The file keeps its own name: detect-secrets chooses rules by it.
            target = scratch / str(number) / Path(path).name
            target.parent.mkdir()
            target.write_bytes(contents[blob])
            files[str(target)] = (path, blob)
        found: dict[str, set[str]] = {}
        with default_settings():
            collection = SecretsCollection()
            for name in files:
                collection.scan_file(name)
            for name, secrets in collection.data.items():
                found.setdefault(name, set()).update(secret.type for secret in secrets)
        return [
            SecretFinding(files[name][0], files[name][1], tuple(sorted(kinds)))
            for name, kinds in sorted(found.items(), key=lambda item: files[item[0]][0])
            if kinds
        ]


def _read_blobs(repo: Repo, blobs: list[str]) -> dict[str, bytes]:
    """Every blob's content through one ``git cat-file --batch-command``.

    Raises:
        RecoverError: a blob cannot be read (missing or damaged).
    """
    contents: dict[str, bytes] = {}
    with repo.git.object_reader() as reader:
        try:
            for blob, kind, data in reader.contents(list(dict.fromkeys(blobs))):
                if kind is None:
                    raise RecoverError(f"cannot read blob {blob} to scan it for secrets")
                contents[blob] = data
        except (EOFError, BrokenPipeError):
            raise RecoverError("cannot read the blobs to scan them for secrets: git cat-file stopped "
                               "(a damaged object; `git recover verify` names it)") from None
    return contents
