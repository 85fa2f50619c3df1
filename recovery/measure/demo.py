"""The demonstration behind ``git recover demo``: copy a real tree into a
temporary repository, commit it, make uncommitted work, checkpoint, break the
tree (delete, corrupt, commit the damage), restore, and prove every file byte
for byte with an independent SHA-256 manifest.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from recovery.base.errors import RecoverError
from recovery.base.output import out, summarize
from recovery.core.checkpoint import create_checkpoint
from recovery.core.git import Git
from recovery.core.repo import Repo
from recovery.core.restore import restore

# Not copied from the source tree: build and tool output, never user content.
_NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", ".pytest_cache", ".hypothesis")


def run_demo(source: Path | None, keep: bool) -> None:
    """Run the demonstration on a copy of ``source`` and print each step on stdout.

    Args:
        source: the directory to copy (default: git-recover's own package source).
        keep: leave the demo repository in place and print where it is.

    Raises:
        RecoverError: the copy failed, there was nothing to demonstrate on, or the
            restore did not reproduce the tree.
    """
    source = source or Path(__file__).resolve().parents[1]
    # Inside a hook or a `git --git-dir=...` alias these point at the user's
    # repository; the demo must never touch it.
    for variable in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY"):
        os.environ.pop(variable, None)
    base = Path(tempfile.mkdtemp(prefix="git-recover-demo-"))
    try:
        _run(source, base / "repo")
    finally:
        if keep:
            out(f"demo repository kept at {base / 'repo'}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def _run(source: Path, path: Path) -> None:
    try:
        shutil.copytree(source, path, ignore=_NOT_COPIED, symlinks=True,
                        copy_function=_copy_regular_file)
    except shutil.Error as exc:
        raise RecoverError(f"cannot copy {source}: {exc.args[0][0][2]}") from None
    Git(path).run("init", "-q", "-b", "main", str(path))
    repo = Repo.discover(path)
    git = repo.git.with_env(GIT_AUTHOR_NAME="demo", GIT_AUTHOR_EMAIL="demo@example.com",
                            GIT_COMMITTER_NAME="demo", GIT_COMMITTER_EMAIL="demo@example.com")
    git.run("add", "-A")
    git.run("commit", "-q", "--no-verify", "--allow-empty", "-m", "demo: initial import")
    # Damage only what git tracks: ignored files are never captured by design,
    # and deleting a .gitignore would un-ignore build.cache.
    tracked = git.run("ls-files", "-z").stdout.decode("utf-8", "surrogateescape").split("\0")
    files = [path / name for name in tracked if name and not name.endswith(".gitignore")
             and (path / name).is_file() and not (path / name).is_symlink()]
    if not files:
        raise RecoverError(f"nothing to demonstrate: {source} has no file git would track")
    out(f"demo repository: {len(files)} files copied from {source}")

    # Uncommitted work: the part a plain `git reset --hard` would lose.
    (path / "WORK_IN_PROGRESS.md").write_text("# Notes nobody committed yet\n")
    with open(files[0], "ab") as handle:
        handle.write(b"\nan unstaged edit\n")
    with open(path / ".gitignore", "a") as ignore:
        ignore.write("\n*.cache\n")
    (path / "build.cache").write_bytes(b"ignored: never captured, never touched\n")
    before = _manifest(path)
    out(f"uncommitted work: {files[0].relative_to(path)} edited, WORK_IN_PROGRESS.md new (untracked), "
        "build.cache new and ignored")

    cp = create_checkpoint(Repo.discover(path), "demo", "before the damage")
    out(f"checkpoint {cp.short}: {cp.capture_s * 1000:.0f} ms")

    doomed = files[::3]
    for victim in doomed:
        victim.unlink()
    for victim in files[1::7][:5]:
        victim.write_bytes(b"\xff\xfe corrupted \x00\x01")
    (path / "WORK_IN_PROGRESS.md").unlink()
    git.run("add", "-A")
    git.run("commit", "-q", "--no-verify", "-m", "demo: a bad commit")
    out(f"damage: deleted {len(doomed) + 1} files, corrupted {len(files[1::7][:5])}, committed the damage")

    result = restore(Repo.discover(path), cp)
    lines = result.lines()
    out(lines[0])
    for line in summarize(result.changed_paths, 5) + ([result.head_change] if result.head_change else []):
        out(f"  {line}")
    out(lines[-2])  # the timings and the verdict; not "undo with": the demo repository is deleted
    after = _manifest(path)
    same = before == after
    out(f"independent check: every file outside .git ({len(after)}: the copied ones, the uncommitted work, "
        f".gitignore and build.cache) compared by SHA-256 with the state before the damage: "
               f"{'identical' if same else 'DIFFERENT'}; ignored build.cache "
               f"{'untouched' if (path / 'build.cache').exists() else 'MISSING'}")
    if not same:
        raise RecoverError("the demo restore did not reproduce the tree")


def _copy_regular_file(src: str, dst: str) -> None:
    """Copy regular files only: a FIFO or device would block or mean nothing."""
    if not Path(src).is_file():
        raise OSError(f"{src} is not a regular file")
    shutil.copy2(src, dst)


def _manifest(root: Path) -> dict[str, str]:
    """SHA-256 and executable bit of every file outside .git (ignored ones
    included): git records only the executable bit of a mode (git-add(1),
    --chmod), so that is what a restore reproduces."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            full = Path(dirpath) / name
            rel = str(full.relative_to(root))
            if full.is_symlink():
                out[rel] = "link:" + os.readlink(full)
            else:
                exe = "x" if full.stat().st_mode & 0o100 else "-"
                out[rel] = f"{exe}:" + hashlib.sha256(full.read_bytes()).hexdigest()
    return out
