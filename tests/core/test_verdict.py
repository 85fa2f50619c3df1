"""The integrity verdict says "byte-identical" only when every file was compared
byte for byte; otherwise it checks what it can and names what it could not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from recovery.core.checkpoint import create_checkpoint
from recovery.core.model import Checkpoint
from recovery.core.repo import Repo
from tests.conftest import GitRepo


def _verdict_line(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if "integrity check" in line)


def test_plain_tree_is_byte_identical(repo: GitRepo) -> None:
    repo.write("a.txt", "a\n")
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    repo.write("a.txt", "b\n")
    out = repo.recover("restore", cp.sha).stdout
    assert _verdict_line(out).endswith("OK, byte-identical") and "not covered" not in out


def _checkpoint_with_submodule(repo: GitRepo, tmp_path: Path, versions: list[str]) -> Checkpoint:
    """Add submodule ``sub`` whose ``lib.txt`` went through ``versions`` (one
    commit each, the last checked out), change ``a.txt`` and checkpoint."""
    upstream = GitRepo(tmp_path / "upstream")
    upstream.path.mkdir()
    upstream.git("init", "-q", "-b", "main")
    for version in versions:
        upstream.write("lib.txt", version)
        upstream.commit_all(version)
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(upstream.path), "sub")
    repo.commit_all("add submodule")
    repo.write("a.txt", "work\n")
    return create_checkpoint(Repo.discover(repo.path), "manual")


def test_emptied_submodule_is_not_called_identical(repo: GitRepo, tmp_path: Path) -> None:
    cp = _checkpoint_with_submodule(repo, tmp_path, ["library\n"])
    repo.git("submodule", "deinit", "-q", "-f", "sub")  # the submodule's files are gone
    assert not (repo.path / "sub/lib.txt").exists()
    repo.write("a.txt", "other\n")

    out = repo.recover("restore", cp.sha).stdout
    assert "byte-identical" not in out
    assert "not covered: submodule sub is not checked out" in out
    verify = repo.recover("verify", cp.sha, "--worktree").stdout
    assert "identical as far as checked" in verify and "submodule sub is not checked out" in verify

    repo.git("-c", "protocol.file.allow=always", "submodule", "update", "-q", "--init")
    assert "not covered" not in repo.recover("verify", cp.sha, "--worktree").stdout
    (repo.path / "sub/lib.txt").write_text("edited inside the submodule\n")
    verify = repo.recover("verify", cp.sha, "--worktree").stdout
    assert "not covered: submodule sub has changes of its own" in verify


def test_crlf_turned_into_lf_by_autocrlf_is_named(repo: GitRepo) -> None:
    """core.autocrlf=input stores CRLF as LF and checks out LF: the restored
    bytes differ from the ones captured, and the verdict must say it cannot know."""
    repo.git("config", "core.autocrlf", "input")
    repo.write("win.txt", b"one\r\ntwo\r\n")
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    (repo.path / "win.txt").unlink()

    out = repo.recover("restore", cp.sha).stdout
    assert repo.read("win.txt") == b"one\ntwo\n"  # git's checkout: the CR bytes are gone
    assert "byte-identical" not in _verdict_line(out)
    assert "pass through a filter or end-of-line conversion" in out
    assert "bytes before the checkpoint are not recorded" in out


def test_lfs_file_restored_as_its_pointer_is_named(repo: GitRepo) -> None:
    pointer = (b"version https://git-lfs.github.com/spec/v1\n"
               b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n")
    repo.write(".gitattributes", "*.bin filter=lfs diff=lfs merge=lfs -text\n")
    repo.write("model.bin", pointer)
    repo.commit_all("lfs")
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    (repo.path / "model.bin").unlink()

    out = repo.recover("restore", cp.sha).stdout
    assert repo.read("model.bin") == pointer
    assert "byte-identical" not in _verdict_line(out)
    assert "model.bin: filter `lfs` is not installed here" in out


def test_filtered_file_is_compared_with_its_smudged_content(repo: GitRepo) -> None:
    """A clean filter that hides a change (it drops '#') makes the trees equal;
    comparing the disk with git's checkout of the recorded content finds it."""
    repo.git("config", "filter.strip.clean", "tr -d '#'")
    repo.git("config", "filter.strip.smudge", "cat")
    repo.write(".gitattributes", "*.cfg filter=strip\n")
    repo.write("app.cfg", "key=value\n")
    repo.commit_all("filtered")
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    assert "not covered: 2 file(s)" not in repo.recover("verify", cp.sha, "--worktree").stdout

    repo.write("app.cfg", "key=val#ue\n")  # cleans to the same blob
    assert repo.git("hash-object", "--path=app.cfg", "app.cfg") == repo.git("rev-parse", f"{cp.sha}:app.cfg")
    verify = repo.recover("verify", cp.sha, "--worktree", check=False)
    assert verify.returncode == 2, verify.stdout + verify.stderr
    assert "M app.cfg (its bytes are not git's checkout of the recorded content)" in verify.stdout


@pytest.mark.parametrize("where", ["ignored", "xdg", "home-config"])
def test_crlf_from_attributes_outside_the_index_is_named(repo: GitRepo, where: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """An ignored, untracked .gitattributes and git's default global attributes
    file (``$XDG_CONFIG_HOME/git/attributes``, else ``~/.config/git/attributes``)
    convert line endings as surely as a tracked one: the LF bytes captured come
    back as CRLF, and the verdict must not call that byte-identical."""
    rule = "*.txt text eol=crlf\n"
    if where == "ignored":
        repo.write(".gitattributes", rule + ".gitattributes\n")
        repo.write(".git/info/exclude", ".gitattributes\n")
    else:
        if where == "home-config":
            monkeypatch.delenv("XDG_CONFIG_HOME")
        config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        (config_home / "git").mkdir(parents=True, exist_ok=True)
        (config_home / "git" / "attributes").write_text(rule)
    assert "eol: crlf" in repo.git("check-attr", "eol", "a.txt")
    repo.write("a.txt", b"line1\nline2\n")
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    repo.write("a.txt", b"line1\nline2\nj\n")

    out = repo.recover("restore", cp.sha).stdout
    assert repo.read("a.txt") == b"line1\r\nline2\r\n"  # git's checkout, not the bytes captured
    assert "byte-identical" not in _verdict_line(out)
    assert "not covered: 1 file(s) pass through a filter or end-of-line conversion" in out


def test_assume_unchanged_edit_is_not_called_identical(repo: GitRepo) -> None:
    """An assume-unchanged entry hides its file's edit from git: the verdict
    compares the index's record of it, and must say so."""
    for name in ("f1.txt", "f2.txt", "f3.txt"):
        repo.write(name, f"{name}\n")
    repo.commit_all("base")
    repo.git("update-index", "--assume-unchanged", "f2.txt")
    repo.write("f2.txt", "f2.txt\nhidden\n")
    repo.write("f1.txt", "f1.txt\ny\n")
    cp = create_checkpoint(Repo.discover(repo.path), "manual")
    repo.write("f3.txt", "f3.txt\nz\n")

    out = repo.recover("restore", cp.sha).stdout
    assert repo.read("f2.txt") != repo.git("cat-file", "blob", f"{cp.worktree_tree}:f2.txt").encode() + b"\n"
    assert "byte-identical" not in _verdict_line(out)
    assert "not covered: 1 assume-unchanged path(s) are compared as the index records them" in out
    verify = repo.recover("verify", cp.sha, "--worktree").stdout
    assert "identical as far as checked" in verify and "1 assume-unchanged path(s)" in verify


def test_submodule_at_another_commit_is_a_limit(repo: GitRepo, tmp_path: Path) -> None:
    """read-tree leaves a submodule's checkout alone: when it is not at the
    recorded commit its files were not compared, and both verdicts say so."""
    cp = _checkpoint_with_submodule(repo, tmp_path, ["v1\n", "v2\n"])
    repo.git("-C", "sub", "checkout", "-q", "HEAD~1")
    repo.write("a.txt", "other\n")

    out = repo.recover("restore", cp.sha).stdout
    assert repo.read("sub/lib.txt") == b"v1\n"  # left at the other commit
    assert "byte-identical" not in _verdict_line(out)
    assert "not covered: submodule sub is not at the commit the checkpoint recorded" in out
    verify = repo.recover("verify", cp.sha, "--worktree")
    assert verify.returncode == 0
    assert "identical as far as checked" in verify.stdout
    assert "not covered: submodule sub is not at the commit the checkpoint recorded" in verify.stdout


def test_a_file_the_restore_left_alone_is_not_failed_for_its_own_line_endings(repo: GitRepo) -> None:
    """An ignored .gitattributes asks for CRLF on checkout of files committed
    with LF. The restore writes only the file that differs (as CRLF, git's
    checkout); the one it left alone keeps the user's LF bytes, which clean to
    the recorded content: a limit, never "integrity check FAILED"."""
    repo.write("keep.txt", "a\n")
    repo.write("t.txt", "l1\n")
    repo.commit_all("lf files")
    repo.write(".gitattributes", "* text eol=crlf\n")
    (repo.path / ".git/info/exclude").write_text(".gitattributes\n")
    cp = repo.recover("checkpoint").stdout.split()[1]
    repo.write("t.txt", "z\n")
    restored = repo.recover("restore", cp, check=False)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "identical as far as checked" in restored.stdout and "byte-identical" not in restored.stdout
    assert "keep.txt: left as they were" in restored.stdout
    assert repo.read("keep.txt") == b"a\n"  # untouched
    assert repo.read("t.txt") == b"l1\r\n"  # git's checkout of the recorded content, and said so


def test_a_file_the_live_capture_leaves_out_is_not_called_deleted(repo: GitRepo) -> None:
    """A file present on disk that the capture of the live state leaves out
    (over the size cap here; unreadable alike) was reported as deleted by
    ``verify --worktree``; it is named as not compared instead."""
    repo.write("big.bin", b"b" * 2048)
    create_checkpoint(Repo.discover(repo.path), "manual")
    repo.git("config", "recover.maxUntrackedSize", "1k")
    proc = repo.recover("verify", "--worktree")
    assert "live state is identical as far as checked" in proc.stdout, proc.stdout
    assert "not covered: big.bin could not be captured (size): not compared" in proc.stdout
    assert "D big.bin" not in proc.stdout
