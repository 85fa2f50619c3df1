"""Keeping checkpoints from leaving the machine by accident.

A checkpoint holds what was never committed (untracked ``.env`` files included).
``git push --mirror`` and ``git push 'refs/*:refs/*'`` would publish every one of
them, and a mirror push would also delete the checkpoints other machines
replicated to that remote. The pre-push hook refuses any push that names a ref
under ``refs/recovery/``, on either side, unless the user asks for it for this
one command (``git -c recover.push.allowCheckpointRefs=true push ...``).
``git recover push`` sends checkpoints on purpose, through its own path.
"""

from __future__ import annotations

from recovery.core.repo import Repo

ALLOW_KEY = "recover.push.allowCheckpointRefs"
PREFIX = b"refs/recovery/"


def checkpoint_refs_in_push(stdin: bytes | None) -> list[str]:
    """The refs under ``refs/recovery/`` a push would create, move or delete.

    Args:
        stdin: the pre-push hook's input: ``<local ref> <local oid> <remote ref>
            <remote oid>`` lines (githooks(5)).

    Returns:
        The remote ref names concerned, in the order git listed them.
    """
    found = []
    for line in (stdin or b"").splitlines():
        fields = line.split(b" ")
        if len(fields) != 4:
            continue
        local_ref, _, remote_ref, _ = fields
        if local_ref.startswith(PREFIX) or remote_ref.startswith(PREFIX):
            found.append(remote_ref.decode("utf-8", "replace"))
    return found


def checkpoints_carried(repo: Repo, stdin: bytes | None, remote: str) -> list[str]:
    """The pushed refs whose new commits reach a checkpoint commit: a checkpoint
    id pasted into ``git push R <id>:refs/heads/x``, a branch or tag made on one,
    a merge with one as a parent. Their untracked files would leave unscanned.

    Args:
        repo: the repository pushing.
        stdin: the pre-push hook's input.
        remote: the remote's name (the hook's first argument); commits its
            remote-tracking refs reach are already there and are not walked.

    Returns:
        ``<remote ref> (checkpoint <id>)`` for each such ref.
    """
    found = []
    for line in (stdin or b"").splitlines():
        fields = line.decode("utf-8", "replace").split(" ")
        if len(fields) != 4 or set(fields[1]) == {"0"} or fields[2].startswith(PREFIX.decode()):
            continue
        args = ["rev-list", "-n", "1", "--grep=^git-recover-metadata: ", fields[1], "--not", f"--remotes={remote}"]
        if set(fields[3]) != {"0"} and repo.git.run("cat-file", "-e", fields[3], check=False).returncode == 0:
            args.append(fields[3])
        hit = repo.git.run(*args, check=False).text
        if hit:
            found.append(f"{fields[2]} (checkpoint {hit[:10]})")
    return found


def refusal(refs: list[str]) -> str:
    """The one-line reason a push naming ``refs`` is refused."""
    shown = ", ".join(refs[:3]) + (f" and {len(refs) - 3} more" if len(refs) > 3 else "")
    return (f"push refused: it would send or delete checkpoints ({shown}), which hold uncommitted and "
            f"untracked files; use `git recover push` to replicate them, or "
            f"`git -c {ALLOW_KEY}=true push ...` if you mean it")


HIDDEN_REFS = "refs/recovery/"


def hide_checkpoint_refs(repo: Repo) -> bool:
    """Add ``refs/recovery/`` to the repository's ``transfer.hideRefs`` once,
    so that ``git clone --mirror``, ``fetch`` and ``ls-remote`` from this
    repository never see checkpoints (git-config(1), transfer.hideRefs).

    Returns:
        True when the setting was added now.
    """
    current = repo.git.run("config", "--local", "--get-all", "transfer.hideRefs", check=False).text
    if HIDDEN_REFS in current.splitlines():
        return False
    repo.git.run("config", "--local", "--add", "transfer.hideRefs", HIDDEN_REFS)
    return True
