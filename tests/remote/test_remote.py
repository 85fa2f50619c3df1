"""Off-machine recovery over real git transports: a checkpoint taken in one
clone is restored byte for byte in another, through a bare repository served
over file://, git daemon and smart HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.conftest import GitRepo
from tests.remote.servers import git_daemon, smart_http

AWS_KEY = "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"


@pytest.fixture(params=["file", "daemon", "http"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty bare repository, over each transport."""
    base = tmp_path / "served"
    base.mkdir()
    subprocess.run(["git", "init", "-q", "--bare", str(base / "store.git")], check=True)
    with ExitStack() as stack:
        if request.param == "file":
            yield (base / "store.git").as_uri()
        elif request.param == "daemon":
            yield stack.enter_context(git_daemon(base)) + "store.git"
        else:
            yield stack.enter_context(smart_http(base)) + "store.git"


def bare_store(tmp_path: Path) -> Path:
    """An empty bare repository to push to."""
    bare = tmp_path / "store.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    return bare


def clone_of(origin: GitRepo, path: Path, url: str, machine: str) -> GitRepo:
    subprocess.run(["git", "clone", "-q", str(origin.path), str(path)], check=True, capture_output=True)
    other = GitRepo(path)
    other.git("remote", "add", "backup", url)
    other.git("config", "recover.machineId", machine)
    return other


def with_backup(repo: GitRepo, url: str, machine: str) -> GitRepo:
    repo.git("remote", "add", "backup", url)
    repo.git("config", "recover.machineId", machine)
    return repo


def make_work(repo: GitRepo) -> dict[str, bytes]:
    """Staged, unstaged and untracked work; returns every file's bytes."""
    repo.write("src/app.py", "print('v1')\n")
    repo.commit_all("app")
    repo.write("src/app.py", "print('v2 staged')\n")
    repo.git("add", "src/app.py")
    repo.write("src/app.py", "print('v3 unstaged')\n")
    repo.write("notes/todo.txt", b"untracked \xff bytes\n")
    repo.write("run.sh", "#!/bin/sh\necho hi\n", mode=0o755)
    return {p: repo.read(p) for p in ("README.md", "src/app.py", "notes/todo.txt", "run.sh")}


def test_a_checkpoint_from_one_clone_is_restored_byte_for_byte_in_another(
        repo: GitRepo, store_url: str, tmp_path: Path) -> None:
    laptop = with_backup(repo, store_url, "laptop")
    wanted = make_work(laptop)
    cp = json.loads(laptop.recover("checkpoint", "-m", "before the agent", "--json").stdout)
    pushed = laptop.recover("push", "backup")
    assert "pushed 1 new checkpoint(s)" in pushed.stdout

    desk = clone_of(laptop, tmp_path / "desk", store_url, "desk")
    desk.write("README.md", "desk's own edit\n")
    listed = desk.recover("list", "--remote", "backup")
    assert "laptop/main (1 checkpoint(s))" in listed.stdout
    assert cp["short"] in listed.stdout and "before the agent" in listed.stdout

    restored = desk.recover("restore", f"backup:{cp['short']}")
    assert "OK, byte-identical" in restored.stdout
    for path, data in wanted.items():
        assert desk.read(path) == data, path
    assert (desk.path / "run.sh").stat().st_mode & 0o111
    assert desk.git("show", ":src/app.py") == "print('v2 staged')"
    assert "notes/todo.txt" in desk.git("ls-files", "--others", "--exclude-standard")

    desk.recover("undo")  # the desk's own work came back
    assert desk.read("README.md") == b"desk's own edit\n"
    assert not (desk.path / "notes").exists()


def test_push_sends_only_what_the_remote_lacks_and_fetch_brings_every_machine(
        repo: GitRepo, store_url: str, tmp_path: Path) -> None:
    laptop = with_backup(repo, store_url, "laptop")
    laptop.write("a.txt", "1\n")
    laptop.recover("checkpoint")
    assert "pushed 1 new" in laptop.recover("push", "backup").stdout
    assert "pushed 0 new checkpoint(s) to backup as refs/recovery/machines/laptop/main (1 there" in \
        laptop.recover("push", "backup").stdout
    laptop.write("a.txt", "2\n")
    laptop.recover("checkpoint")
    assert "pushed 1 new checkpoint(s) to backup as refs/recovery/machines/laptop/main (2 there" in \
        laptop.recover("push", "backup").stdout

    desk = clone_of(laptop, tmp_path / "desk", store_url, "desk")
    desk.write("b.txt", "desk\n")
    desk.recover("checkpoint")
    desk.recover("push", "backup")
    remote_refs = laptop.git("ls-remote", "backup", "refs/recovery/*")
    assert sorted(line.split("\t")[1] for line in remote_refs.splitlines()) == [
        "refs/recovery/machines/desk/main", "refs/recovery/machines/laptop/main"]
    fetched = laptop.recover("fetch", "backup").stdout
    assert "desk/main: 1 checkpoint(s)" in fetched and "laptop/main: 2 checkpoint(s)" in fetched
    only = laptop.recover("list", "--remote", "backup", "--machine", "desk").stdout
    assert "desk/main" in only and "laptop/main" not in only


def test_a_file_that_looks_like_a_secret_is_refused_with_its_path(repo: GitRepo, tmp_path: Path) -> None:
    bare = bare_store(tmp_path)
    laptop = with_backup(repo, bare.as_uri(), "laptop")
    laptop.write("config/.env", AWS_KEY)
    laptop.write("ok.txt", "fine\n")
    laptop.recover("checkpoint")
    refused = laptop.recover("push", "backup", check=False)
    assert refused.returncode == 2
    assert "config/.env" in refused.stderr and "AWS Access Key" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert laptop.git("ls-remote", "backup") == ""  # nothing was sent

    allowed = laptop.recover("push", "backup", "--allow-secrets")
    assert "sent config/.env" in allowed.stderr
    assert laptop.git("ls-remote", "backup", "refs/recovery/*") != ""


def test_excluded_paths_never_leave_and_the_restore_says_so(repo: GitRepo, tmp_path: Path) -> None:
    bare = bare_store(tmp_path)
    laptop = with_backup(repo, bare.as_uri(), "laptop")
    laptop.git("config", "--add", "recover.push.exclude", "*.env")
    laptop.write("config/prod.env", AWS_KEY)
    laptop.write("keep.txt", "kept\n")
    cp = json.loads(laptop.recover("checkpoint", "--json").stdout)
    out = laptop.recover("push", "backup").stdout
    assert "left out (1 path(s), recover.push.exclude): config/prod.env" in out

    # The secret's blob is not on the remote at all.
    secret_blob = laptop.git("rev-parse", f"{cp['sha']}:config/prod.env")
    probe = subprocess.run(["git", "--git-dir", str(bare), "cat-file", "-e", secret_blob], check=False)
    assert probe.returncode != 0

    desk = clone_of(laptop, tmp_path / "desk", bare.as_uri(), "desk")
    desk.recover("restore", "backup:last")
    assert desk.read("keep.txt") == b"kept\n"
    assert not (desk.path / "config" / "prod.env").exists()
    shown = desk.recover("list", "--remote", "backup", "--json").stdout
    notes = json.loads(shown)[0]["checkpoints"][0]["notes"]
    assert any("config/prod.env" in n for n in notes)


def test_two_clones_with_one_machine_id_add_to_the_replica_and_lose_nothing(
        repo: GitRepo, tmp_path: Path) -> None:
    bare = bare_store(tmp_path)
    first = with_backup(repo, bare.as_uri(), "same")
    second = clone_of(first, tmp_path / "second", bare.as_uri(), "same")
    first.write("one.txt", "1\n")
    a = json.loads(first.recover("checkpoint", "--json").stdout)["sha"]
    second.write("two.txt", "2\n")
    b = json.loads(second.recover("checkpoint", "--json").stdout)["sha"]
    first.recover("push", "backup")
    second.recover("push", "backup")
    listed = first.recover("list", "--remote", "backup", "--json").stdout
    ids = {cp["sha"] for r in json.loads(listed) for cp in r["checkpoints"]}
    assert {a, b} <= ids


def test_a_push_that_lost_the_race_is_refused_and_changes_nothing(repo: GitRepo, tmp_path: Path) -> None:
    from recovery.base.errors import RecoverError
    from recovery.core.repo import Repo
    from recovery.remote.replica import _push_ref, remote_ref

    bare = bare_store(tmp_path)
    laptop = with_backup(repo, bare.as_uri(), "laptop")
    laptop.recover("checkpoint")
    laptop.recover("push", "backup")
    ref = remote_ref("laptop", "main")
    on_remote = laptop.git("ls-remote", "backup", ref).split("\t")[0]
    stale = laptop.git("rev-parse", "HEAD")  # not what the remote holds
    with pytest.raises(RecoverError, match="changed while pushing"):
        _push_ref(Repo.discover(laptop.path), "backup", laptop.git("rev-parse", "HEAD"), ref, stale)
    assert laptop.git("ls-remote", "backup", ref).split("\t")[0] == on_remote


def test_gc_remote_thins_what_this_machine_pushed(repo: GitRepo, tmp_path: Path) -> None:
    bare = bare_store(tmp_path)
    laptop = with_backup(repo, bare.as_uri(), "laptop")
    for n in range(4):
        laptop.write("n.txt", f"{n}\n")
        laptop.recover("checkpoint")
    laptop.recover("push", "backup")
    out = laptop.recover("gc", "--remote", "backup", "--keep", "2").stdout
    assert "dropped 2, kept 2 checkpoint(s) on backup" in out
    listed = json.loads(laptop.recover("list", "--remote", "backup", "--json").stdout)
    assert len(listed[0]["checkpoints"]) == 2
    # The dropped ones are still local, but a later push does not send them again;
    # a new checkpoint is sent.
    assert "pushed 0 new checkpoint(s) to backup as refs/recovery/machines/laptop/main (2 there" in \
        laptop.recover("push", "backup").stdout
    laptop.write("n.txt", "new\n")
    laptop.recover("checkpoint")
    assert "pushed 1 new checkpoint(s) to backup as refs/recovery/machines/laptop/main (3 there" in \
        laptop.recover("push", "backup").stdout


def test_report_remote_shows_every_machine_and_all_of_them(repo: GitRepo, tmp_path: Path) -> None:
    bare = bare_store(tmp_path)
    laptop = with_backup(repo, bare.as_uri(), "laptop")
    desk = clone_of(laptop, tmp_path / "desk", bare.as_uri(), "desk")
    for clone in (laptop, desk):
        clone.write("x.txt", "before\n")
        clone.recover("checkpoint")
        clone.write("x.txt", "broken\n")
        clone.recover("restore", "last")
        clone.recover("push", "backup")
    text = laptop.recover("report", "--remote", "backup").stdout
    lines = text.splitlines()
    assert any(line.startswith("desk/main") for line in lines)
    assert any(line.startswith("laptop/main") for line in lines)
    assert any(line.startswith("all machines") for line in lines)
    data = json.loads(laptop.recover("report", "--remote", "backup", "--json").stdout)
    assert {m["machine"] for m in data["machines"]} == {"laptop", "desk"}
    assert data["overall"]["restores"]["ok"] == sum(m["report"]["restores"]["ok"] for m in data["machines"]) == 2


def test_bad_remote_names_and_machine_ids_are_one_line_errors(repo: GitRepo) -> None:
    missing = repo.recover("push", "nowhere", check=False)
    assert missing.returncode == 1 and "cannot fetch from nowhere" in missing.stderr
    assert "Traceback" not in missing.stderr
    repo.git("config", "recover.machineId", "../evil")
    bad = repo.recover("push", "nowhere", check=False)
    assert bad.returncode == 3 and "not a valid machine id" in bad.stderr
    unknown = repo.recover("restore", "nowhere:abcd", check=False)
    assert unknown.returncode == 3  # not a remote: read as a local name, which does not exist


def test_the_machine_id_is_created_once_and_kept(repo: GitRepo, tmp_path: Path) -> None:
    bare = bare_store(tmp_path)
    repo.git("remote", "add", "backup", bare.as_uri())
    repo.recover("checkpoint")
    repo.recover("push", "backup")
    machine = repo.git("config", "recover.machineId")
    assert machine and "/" not in machine
    repo.recover("push", "backup")
    assert repo.git("config", "recover.machineId") == machine
    assert repo.git("ls-remote", "backup", f"refs/recovery/machines/{machine}/main") != ""


def install_hooks(repo: GitRepo) -> None:
    subprocess.run([sys.executable, "-P", "-m", "recovery", "install"], cwd=repo.path, check=True,
                   capture_output=True)


def test_a_plain_or_mirror_push_never_carries_checkpoints(repo: GitRepo, tmp_path: Path) -> None:
    install_hooks(repo)
    repo.write("wip.env", AWS_KEY)
    repo.recover("checkpoint")
    mirror = tmp_path / "mirror.git"
    subprocess.run(["git", "init", "-q", "--bare", str(mirror)], check=True)
    repo.git("remote", "add", "pub", mirror.as_uri())

    repo.git("push", "-q", "pub", "main")
    repo.git("push", "-q", "--all", "pub")
    refused = subprocess.run(["git", "push", "--mirror", "pub"], cwd=repo.path, capture_output=True, text=True)
    assert refused.returncode != 0
    assert "push refused" in refused.stderr and "refs/recovery/" in refused.stderr
    assert repo.git("ls-remote", "pub", "refs/recovery/*") == ""

    repo.git("-c", "recover.push.allowCheckpointRefs=true", "push", "-q", "--mirror", "pub")
    assert repo.git("ls-remote", "pub", "refs/recovery/*") != ""


def test_install_hides_checkpoints_from_clones_fetches_and_ls_remote(repo: GitRepo, tmp_path: Path) -> None:
    repo.recover("checkpoint")
    assert "refs/recovery/" in subprocess.run(["git", "ls-remote", str(repo.path)], capture_output=True,
                                              text=True, check=True).stdout
    install_hooks(repo)
    assert repo.git("config", "--get-all", "transfer.hideRefs") == "refs/recovery/"
    listed = subprocess.run(["git", "ls-remote", str(repo.path)], capture_output=True, text=True, check=True)
    assert "refs/recovery/" not in listed.stdout and "refs/heads/main" in listed.stdout
    subprocess.run(["git", "clone", "-q", "--mirror", str(repo.path), str(tmp_path / "m.git")], check=True)
    copied = subprocess.run(["git", "--git-dir", str(tmp_path / "m.git"), "for-each-ref", "refs/recovery/"],
                            capture_output=True, text=True, check=True)
    assert copied.stdout == ""
    install_hooks(repo)  # a second install adds nothing
    assert repo.git("config", "--get-all", "transfer.hideRefs") == "refs/recovery/"


def test_a_foreign_ref_among_the_replicas_is_skipped_with_a_warning(repo: GitRepo, tmp_path: Path) -> None:
    bare = bare_store(tmp_path)
    laptop = with_backup(repo, bare.as_uri(), "laptop")
    laptop.recover("checkpoint", "-m", "mine")
    laptop.recover("push", "backup")
    laptop.git("push", "-q", "--no-verify", "backup", "HEAD:refs/recovery/machines/evil/main")
    listed = laptop.recover("list", "--remote", "backup")
    assert "laptop/main (1 checkpoint(s))" in listed.stdout and "mine" in listed.stdout
    assert "warning: skipping" in listed.stderr and "evil/main" in listed.stderr
    assert "Traceback" not in listed.stderr


def test_a_push_whose_commits_reach_a_checkpoint_is_refused(repo: GitRepo, tmp_path: Path) -> None:
    install_hooks(repo)
    repo.write("wip.env", AWS_KEY)
    cp = json.loads(repo.recover("checkpoint", "--json").stdout)["sha"]
    mirror = bare_store(tmp_path)
    repo.git("remote", "add", "pub", mirror.as_uri())
    for args in (["push", "pub", f"{cp}:refs/heads/x"], ["push", "pub", "--tags"]):
        if args[-1] == "--tags":
            repo.git("tag", "oops", cp)
        refused = subprocess.run(["git", *args], cwd=repo.path, capture_output=True, text=True)
        assert refused.returncode != 0, args
        assert f"checkpoint {cp[:10]}" in refused.stderr
    assert repo.git("ls-remote", "pub") == ""
    repo.git("push", "-q", "pub", "main")  # an ordinary branch still goes


def test_excluded_paths_are_matched_in_the_checkpoint_not_on_disk(repo: GitRepo, tmp_path: Path) -> None:
    laptop = with_backup(repo, bare_store(tmp_path).as_uri(), "laptop")
    laptop.git("config", "--add", "recover.push.exclude", ".env")
    laptop.write(".env", "one\n")
    laptop.recover("checkpoint")
    laptop.write(".env", "two, different from the checkpoint\n")
    assert "left out (1 path(s), recover.push.exclude): .env" in laptop.recover("push", "backup").stdout
    laptop.git("config", "--add", "recover.push.exclude", ":(bogus)x")
    laptop.write("n.txt", "new\n")
    laptop.recover("checkpoint")
    bad = laptop.recover("push", "backup", check=False)
    assert bad.returncode == 3 and "recover.push.exclude" in bad.stderr and "Traceback" not in bad.stderr


def test_remote_names_in_restore_are_checked(repo: GitRepo, tmp_path: Path) -> None:
    laptop = with_backup(repo, bare_store(tmp_path).as_uri(), "laptop")
    laptop.recover("checkpoint")
    laptop.recover("push", "backup")
    empty = laptop.recover("restore", "backup:", check=False)
    assert empty.returncode == 3 and "missing checkpoint id" in empty.stderr
    unknown = laptop.recover("restore", "nosuch:last", check=False)
    assert unknown.returncode == 3 and "'nosuch' is not a remote" in unknown.stderr


def test_a_remote_that_git_would_read_as_an_option_is_refused(repo: GitRepo, tmp_path: Path) -> None:
    """`--upload-pack=CMD` in the place of a remote would run CMD."""
    pwned = tmp_path / "pwned"
    evil = f"--upload-pack=touch {pwned};"
    repo.recover("checkpoint")
    for args in (["list", "--remote", evil], ["fetch", "--", evil], ["push", "--", evil],
                 ["gc", "--remote", evil], ["restore", f"{evil}:1"]):
        proc = repo.recover(*args, check=False)
        assert proc.returncode == 3, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert not pwned.exists()
