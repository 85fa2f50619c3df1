"""Stress: the kill matrix, concurrent checkpoints and hostile cases, repeated.

Not part of the test run (it takes long); the tests in tests/ prove each case
once, this script counts how often the guarantees hold over many trials. Each
trial copies a small prepared repository (a checkpoint, then a committed change
of many files: the restore has work to do) and runs one scenario, in turn:

* ``restore-kill``: ``git recover restore`` killed at a random instant of its
  run, or of its switch (after the intent record appeared), by SIGKILL of the
  process group, SIGKILL of the git-recover process alone, SIGTERM or SIGINT. When an intent record is left (the kill landed mid-switch),
  ``restore --continue`` (or, every other time, ``--abort``) must succeed
  first time and give exactly the checkpoint's (the changed) files; otherwise
  the files must be one of the two states, whole. ``undo`` then brings back the
  other state. ``git fsck`` after each step.
* ``checkpoint-kill``: ``git recover checkpoint`` killed at a random instant:
  a published ref must be complete, the index and files untouched.
* ``concurrent``: 6 checkpoints at once: every one must land.
* ``hostile``: a forged future-dated checkpoint ref must not become ``last``;
  a checkpoint whose branch is ``x@{1}`` must be refused before anything
  changes; ``run -- branch -D`` of a branch whose commits nothing else reaches
  must be refused.

Output: the counts (trials, kills that landed mid-switch, first-try
``--continue``/``--abort`` failures, lost or mixed states, fsck errors, and the
per-scenario details). Exit status 1 when any loss, mix or fsck error was seen.

Usage: nice python benchmarks/stress.py [--trials 1000] [--files 200] [--jobs N] [--seed N] [--max-seconds S]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ENV = {**os.environ, "GIT_AUTHOR_NAME": "s", "GIT_AUTHOR_EMAIL": "s@s", "GIT_COMMITTER_NAME": "s",
       "GIT_COMMITTER_EMAIL": "s@s", "GIT_CONFIG_NOSYSTEM": "1"}
RECOVER = [sys.executable, "-P", "-m", "recovery"]
SOURCES = str(Path(__file__).resolve().parent.parent)
ENV["PYTHONPATH"] = SOURCES + os.pathsep + ENV.get("PYTHONPATH", "")
KILLS = (("SIGKILL", "group"), ("SIGKILL", "process"), ("SIGTERM", "group"), ("SIGINT", "group"))
SCENARIOS = ("restore-kill", "restore-kill", "restore-kill", "checkpoint-kill", "concurrent", "hostile")


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, env=ENV, capture_output=True, text=True, check=check)


def recover(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RECOVER, *args], cwd=cwd, env=ENV, capture_output=True, text=True)


def disk_state(root: Path) -> dict[str, bytes]:
    """Every file and symlink under ``root`` except ``.git``: bytes (and the exec bit)."""
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            full = Path(dirpath) / name
            info = full.lstat()
            data = os.readlink(full).encode() if os.path.islink(full) else full.read_bytes()
            out[str(full.relative_to(root))] = bytes([info.st_mode & 0o100 != 0]) + data
    return out


def build_template(root: Path, files: int) -> tuple[Path, str, dict[str, bytes], dict[str, bytes]]:
    """The prepared repository, its checkpoint id, and the disk states at the
    checkpoint and after the committed change."""
    repo = root / "template"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for i in range(files):
        (repo / f"d{i % 10}").mkdir(exist_ok=True)
        (repo / f"d{i % 10}/f{i}.txt").write_text(f"line {i}\n" * 20)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    (repo / "d0/f0.txt").write_text("unstaged work\n")
    (repo / "untracked.txt").write_text("untracked work\n")
    done = recover(repo, "checkpoint", "-m", "stress")
    if done.returncode != 0:
        raise SystemExit(f"stress: the template checkpoint failed: {done.stderr}")
    cp = json.loads(recover(repo, "list", "--json").stdout)[0]["sha"]
    at_checkpoint = disk_state(repo)
    for i in range(0, files, 2):
        (repo / f"d{i % 10}/f{i}.txt").write_text(f"changed {i}\n")
    for i in range(1, files, 10):
        (repo / f"d{i % 10}/f{i}.txt").unlink()
    (repo / "new").mkdir()
    for i in range(files // 10):
        (repo / f"new/n{i}.txt").write_text(f"new {i}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bad change")
    return repo, cp, at_checkpoint, disk_state(repo)


def fresh_copy(template: Path, root: Path, n: int) -> Path:
    path = root / f"t{n}"
    shutil.copytree(template, path, symlinks=True)
    return path


def fsck_ok(path: Path) -> bool:
    return git(path, "fsck", "--no-dangling", check=False).returncode == 0


def kill(proc: subprocess.Popen[bytes], signame: str, whom: str) -> bool:
    """Send the signal; True when the process was still running."""
    if proc.poll() is not None:
        return False
    sig = getattr(signal, signame)
    try:
        if whom == "group":
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)
    except ProcessLookupError:
        return False
    return True


def restore_kill(path: Path, cp: str, at_cp: dict[str, bytes], mutated: dict[str, bytes],
                 delay_s: float, in_switch: bool, how: tuple[str, str], use_abort: bool,
                 counts: Counter[str]) -> None:
    """``in_switch``: wait for the intent record, then ``delay_s``; else ``delay_s`` from the start."""
    intent = path / ".git/recovery/restore-intent.json"
    proc = subprocess.Popen([*RECOVER, "restore", cp], cwd=path, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    if in_switch:
        deadline = time.monotonic() + 60
        while not intent.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
    time.sleep(delay_s)
    counts["restore kills sent"] += kill(proc, *how)
    proc.wait()
    if how[1] == "process":
        time.sleep(0.05)  # what a user does: read the message, then type the next command
    counts["fsck errors"] += not fsck_ok(path)
    if intent.exists():
        counts["kills mid-switch"] += 1
        word = "--abort" if use_abort else "--continue"
        wanted = mutated if use_abort else at_cp
        first = recover(path, "restore", word)
        if first.returncode != 0:
            counts[f"first-try {word} failures"] += 1
            for _ in range(3):
                time.sleep(0.3)
                if recover(path, "restore", word).returncode == 0:
                    break
        if intent.exists() or disk_state(path) != wanted:
            counts["lost or mixed states"] += 1
            return
        counts["fsck errors"] += not fsck_ok(path)
        other = at_cp if use_abort else mutated
    else:
        state = disk_state(path)
        if state == at_cp:
            counts["restores finished before the kill"] += 1
            other = mutated
        elif state == mutated:
            counts["restores stopped before any change"] += 1
            return
        else:
            counts["lost or mixed states"] += 1
            return
    if other is mutated and recover(path, "undo").returncode != 0:
        counts["undo failures"] += 1
    if other is mutated and disk_state(path) != mutated:
        counts["lost or mixed states"] += 1
    counts["fsck errors"] += not fsck_ok(path)


def checkpoint_kill(path: Path, delay_s: float, how: tuple[str, str], counts: Counter[str]) -> None:
    (path / "d1/f1.txt").write_text("work in progress\n")
    index = (path / ".git/index").read_bytes()
    before_disk = disk_state(path)
    before_refs = set(git(path, "for-each-ref", "--format=%(objectname)", "refs/recovery/").stdout.split())
    expected = set(git(path, "ls-files").stdout.split()) | {"d1/f1.txt", "untracked.txt"}
    proc = subprocess.Popen([*RECOVER, "checkpoint"], cwd=path, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(delay_s)
    counts["checkpoint kills sent"] += kill(proc, *how)
    proc.wait()
    for sha in set(git(path, "for-each-ref", "--format=%(objectname)", "refs/recovery/").stdout.split()) - before_refs:
        names = set(git(path, "ls-tree", "-r", "--name-only", sha).stdout.split())
        if names != expected:
            counts["incomplete checkpoints"] += 1
    if (path / ".git/index").read_bytes() != index or disk_state(path) != before_disk:
        counts["lost or mixed states"] += 1
    counts["fsck errors"] += not fsck_ok(path)


def concurrent(path: Path, counts: Counter[str], writers: int = 6) -> None:
    before = len(git(path, "for-each-ref", "refs/recovery/").stdout.splitlines())
    procs = [subprocess.Popen([*RECOVER, "checkpoint", "-m", f"c{i}"], cwd=path, env=ENV,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for i in range(writers)]
    failed = sum(p.wait() != 0 for p in procs)
    for p in procs:
        assert p.stderr is not None
        p.stderr.close()
    after = len(git(path, "for-each-ref", "refs/recovery/").stdout.splitlines())
    counts["concurrent checkpoints"] += writers
    counts["concurrent checkpoints failed"] += failed
    counts["concurrent checkpoints without a ref"] += writers - failed - (after - before)
    counts["fsck errors"] += not fsck_ok(path)


def hostile(path: Path, cp: str, counts: Counter[str]) -> None:
    """Forged refs and unprotected commands; each failed check is counted."""
    git(path, "checkout", "-q", "-b", "lonely")
    (path / "lonely.txt").write_text("only here\n")
    git(path, "add", "lonely.txt")
    git(path, "commit", "-q", "-m", "lonely")
    lonely = git(path, "rev-parse", "HEAD").stdout.strip()
    git(path, "checkout", "-q", "main")
    counts["hostile checks"] += 1
    result = recover(path, "run", "--", "branch", "-D", "lonely")
    reachable = git(path, "for-each-ref", f"--contains={lonely}").stdout.strip()
    counts["hostile: branch -D lost commits"] += result.returncode == 0 and not reachable
    body = git(path, "cat-file", "commit", cp).stdout
    message = body.partition("\n\n")[2]
    marker = "git-recover-metadata: "
    meta = json.loads(message.rpartition(marker)[2].splitlines()[0])
    checks = {
        "future-dated ref became last": {**meta, "time": "9999-12-31T00:00:00+00:00"},
        "branch x@{1} accepted": {**meta, "branch": "refs/heads/x@{1}"},
    }
    for name, forged in checks.items():
        text = message.rpartition(marker)[0] + marker + json.dumps(forged) + "\n"
        tree = git(path, "rev-parse", f"{cp}^{{tree}}").stdout.strip()
        parents = git(path, "rev-list", "--parents", "-n1", cp).stdout.split()[1:]
        args = [a for p in parents for a in ("-p", p)]
        sha = subprocess.run(["git", "commit-tree", tree, *args], cwd=path, env=ENV, input=text,
                             capture_output=True, text=True, check=True).stdout.strip()
        git(path, "update-ref", f"refs/recovery/main/cp/{sha}", sha)
        counts["hostile checks"] += 1
        if name.startswith("future"):
            shown = json.loads(recover(path, "show", "last", "--json").stdout or "{}").get("sha")
            failed = shown == sha
        else:
            before = disk_state(path)
            result = recover(path, "restore", sha[:12])
            failed = result.returncode == 0 or disk_state(path) != before or \
                (path / ".git/recovery/restore-intent.json").exists()
        counts[f"hostile: {name}"] += failed
        git(path, "update-ref", "-d", f"refs/recovery/main/cp/{sha}")


def run_trials(job: int, trials: int, files: int, seed: int | None, progress: int,
               deadline: float | None = None) -> Counter[str]:
    """One worker: ``trials`` trials on its own template, or fewer when the
    ``deadline`` (``time.time()`` seconds) passes first; returns the counts."""
    rng = random.Random(None if seed is None else seed + job)
    counts: Counter[str] = Counter()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="recover-stress-") as tmp:
        root = Path(tmp)
        template, cp, at_cp, mutated = build_template(root, files)
        probe = fresh_copy(template, root, -1)
        t0 = time.perf_counter()
        recover(probe, "restore", cp)
        restore_s = time.perf_counter() - t0
        shutil.rmtree(probe)
        print(f"stress job {job}: {files} files, an uninterrupted restore takes {restore_s:.2f} s", flush=True)
        mid_switch_aborts = 0
        for n in range(trials):
            if deadline is not None and time.time() > deadline:
                print(f"stress job {job}: deadline reached after {n} trials", flush=True)
                break
            path = fresh_copy(template, root, n)
            scenario = SCENARIOS[n % len(SCENARIOS)]
            counts[f"trials: {scenario}"] += 1
            counts["trials"] += 1
            how = KILLS[rng.randrange(len(KILLS))]
            if scenario == "restore-kill":
                use_abort = mid_switch_aborts % 2 == 1
                had = counts["kills mid-switch"]
                # Half the kills at a random instant of the whole command, half
                # at a random instant after the intent record appeared (inside
                # the switch, or the integrity check after it).
                in_switch = rng.random() < 0.5
                delay_s = rng.uniform(0.0, restore_s / 3 if in_switch else restore_s)
                restore_kill(path, cp, at_cp, mutated, delay_s, in_switch, how, use_abort, counts)
                mid_switch_aborts += counts["kills mid-switch"] - had
            elif scenario == "checkpoint-kill":
                checkpoint_kill(path, rng.uniform(0.0, restore_s / 2), how, counts)
            elif scenario == "concurrent":
                concurrent(path, counts)
            else:
                hostile(path, cp, counts)
            shutil.rmtree(path, ignore_errors=True)
            if progress and (n + 1) % progress == 0:
                print(f"job {job} after {n + 1} trials ({time.monotonic() - started:.0f} s): "
                      f"{dict(sorted(counts.items()))}", flush=True)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=1, help="workers running trials side by side")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--progress", type=int, default=50, help="print the counts every N trials of a job")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="start no trial after this many seconds (the counts say how many ran)")
    args = parser.parse_args()
    deadline = time.time() + args.max_seconds if args.max_seconds else None
    started = time.monotonic()
    shares = [args.trials // args.jobs + (j < args.trials % args.jobs) for j in range(args.jobs)]
    from concurrent.futures import ProcessPoolExecutor

    counts: Counter[str] = Counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        for part in pool.map(run_trials, range(args.jobs), shares, [args.files] * args.jobs,
                             [args.seed] * args.jobs, [args.progress] * args.jobs, [deadline] * args.jobs):
            counts.update(part)
    headline = ("trials", "kills mid-switch", "first-try --continue failures", "first-try --abort failures",
                "lost or mixed states", "fsck errors")
    print(f"stress: {counts['trials']} trials in {time.monotonic() - started:.0f} s ({args.jobs} jobs)")
    for key in headline:
        print(f"  {key}: {counts[key]}")
    for key in sorted(set(counts) - set(headline)):
        print(f"  {key}: {counts[key]}")
    bad = counts["lost or mixed states"] + counts["fsck errors"] + counts["incomplete checkpoints"] + \
        counts["concurrent checkpoints without a ref"] + sum(v for k, v in counts.items() if k.startswith("hostile:"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
