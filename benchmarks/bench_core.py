"""git-recover against git's own floor, every speed target in one run.

For each size (default 1k, 10k and 80k tracked files; 100 modified, 50
untracked) on a generated repository, whole processes timed side by side, the
series interleaved run by run so that machine noise hits all of them alike:

* ``git recover checkpoint`` against the plumbing floor for the same capture
  (copy the index, ``git add -A`` into the copy, ``write-tree``,
  ``commit-tree``, ``update-ref``) and against ``git stash create``;
* the agent's PreToolUse hook (``git-recover agent-hook PreToolUse``, an
  ``Edit`` payload on stdin) with nothing changed since its last checkpoint
  against Python's own start-up plus one ``git status``, and after 100 files
  changed against that plus the floor capture;
* a one-file ``git commit -a`` with the hooks installed (no gates) against
  the same commit without hooks; the difference against the floor capture;
* ``git recover restore`` (safety checkpoint, switch, integrity check) of 100
  damaged files against the verified-restore floor (the floor capture as the
  safety copy, ``read-tree -m -u`` between the two trees, the floor capture
  again as the recomputed tree) and against ``git stash apply --index``; at the
  largest size also after heavy damage (half the files) against the floor
  capture plus ``git read-tree --reset -u`` (what ``git reset --hard`` does);
* ``git recover verify`` against git reading every object the checkpoint needs
  (``rev-list --objects --no-walk | cat-file --batch``) and hashing the stream;
* at the largest size, with ``core.fsmonitor`` set to git's own watchman hook
  (and ``core.untrackedCache``), ``git recover checkpoint`` of 100 changed files
  against the floor capture without fsmonitor (the target) and with it.

git-recover fsyncs every object and ref it writes (git's defaults sync neither),
so the capture and verified-restore floors are also timed at that durability
(``core.fsync=committed``, ``core.fsyncMethod=batch``), to tell what durability
costs from what git-recover adds.

Then, at the largest size, the git processes each operation starts and what
each step costs (git's trace2 timings, ``GIT_TRACE2_EVENT``, the
machine-readable form of ``GIT_TRACE2_PERF``), and the peak memory of
``verify`` and ``report`` for a small and a large file / journal.

    .venv/bin/python benchmarks/bench_core.py                  # prints the tables
    .venv/bin/python benchmarks/bench_core.py --readme README.md   # also rewrites README's table
    .venv/bin/python benchmarks/bench_core.py --sizes 80000 --fsmonitor-only  # the fsmonitor series alone

Exit status 0 even when a target is missed: the table says which.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

RECOVER = [sys.executable, "-P", "-m", "recovery"]
CHECKOUT = Path(__file__).resolve().parent.parent
# Set in the benchmark's own run under the installed copy: the directory to remove at the end.
INSTALLED = "GIT_RECOVER_BENCH_INSTALLED"
AGENT_HOOK = RECOVER + ["agent-hook", "PreToolUse"]
FLOOR = """set -e
cp .git/index .git/bench-index
export GIT_INDEX_FILE=.git/bench-index
git add -A
t=$(git write-tree)
c=$(git commit-tree "$t" -p HEAD -m floor)
git update-ref refs/bench/floor "$c"
rm -f .git/bench-index
"""
# Safety capture, switch in the capture's index, recomputed tree of the result.
FLOOR_RESTORE = """set -e
cp .git/index .git/bench-index
export GIT_INDEX_FILE=.git/bench-index
git add -A
now=$(git write-tree)
c=$(git commit-tree "$now" -p HEAD -m safety)
git update-ref refs/bench/safety "$c"
git read-tree -m -u "$now" "$TARGET"
git add -A
test "$(git write-tree)" = "$TARGET"
rm -f .git/bench-index
"""
# `git reset --hard` to the target after the capture, on the real index: its stat
# data lets git rewrite only the damaged files (an empty index would rewrite all).
FLOOR_HEAVY = FLOOR + 'unset GIT_INDEX_FILE\ngit read-tree --reset -u "$TARGET"\n'
# The floors again at git-recover's durability: every object and ref it writes is
# fsynced (git's default syncs neither loose objects nor refs), batched per process.
DURABLE = {"GIT_CONFIG_COUNT": "2", "GIT_CONFIG_KEY_0": "core.fsync", "GIT_CONFIG_VALUE_0": "committed",
           "GIT_CONFIG_KEY_1": "core.fsyncMethod", "GIT_CONFIG_VALUE_1": "batch"}
FLOOR_VERIFY = 'git rev-list --objects --no-object-names --no-walk $ROOTS | git cat-file --batch | sha1sum >/dev/null'
PEAK_RSS = ("import resource, sys\nfrom recovery.cli.main import main\nrc = main(sys.argv[1:])\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\nsys.exit(rc)")
WATCHMAN_HOOK = Path("/usr/share/git-core/templates/hooks/fsmonitor-watchman.sample")
# The floor as git runs it where neither fsmonitor nor the untracked cache is set
# up (git-config(1), GIT_CONFIG_COUNT).
PLAIN_GIT = {"GIT_CONFIG_COUNT": "2", "GIT_CONFIG_KEY_0": "core.fsmonitor", "GIT_CONFIG_VALUE_0": "false",
             "GIT_CONFIG_KEY_1": "core.untrackedCache", "GIT_CONFIG_VALUE_1": "false"}
README_START = "<!-- bench_core.py: start -->"
README_END = "<!-- bench_core.py: end -->"


class Bench:
    """One generated repository and its timing series."""

    def __init__(self, root: Path, files: int, runs: int) -> None:
        self.files = files
        self.runs = runs
        self.repo = root / f"repo-{files}"
        self.env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
                    "GIT_COMMITTER_EMAIL": "b@b", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
                    "HOME": str(root)}
        self.series: dict[str, list[float]] = {}
        self.no_hooks = root / "no-hooks"
        self.no_hooks.mkdir(exist_ok=True)
        self.hook_input = json.dumps({"hook_event_name": "PreToolUse", "session_id": "bench", "tool_name": "Edit",
                                      "tool_input": {"file_path": str(self.repo / "touched.txt")},
                                      "cwd": str(self.repo)})

    def sh(self, cmd: list[str] | str, extra: dict[str, str] | None = None, stdin: str | None = None) -> str:
        proc = subprocess.run(cmd, cwd=self.repo, env={**self.env, **(extra or {})}, shell=isinstance(cmd, str),
                              capture_output=True, text=True, check=False, input=stdin)
        if proc.returncode != 0:
            raise SystemExit(f"benchmark step failed: {cmd}\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    def time(self, name: str, cmd: list[str] | str, extra: dict[str, str] | None = None,
             stdin: str | None = None) -> str:
        started = time.perf_counter()
        out = self.sh(cmd, extra, stdin)
        self.series.setdefault(name, []).append(time.perf_counter() - started)
        return out

    def median(self, name: str) -> float:
        return statistics.median(self.series[name])

    def path(self, i: int) -> Path:
        return self.repo / f"d{i % 100}" / f"e{i % 7}" / f"f{i}.txt"

    def build(self) -> None:
        self.repo.mkdir()
        self.sh(["git", "init", "-q", "-b", "main"])
        # No automatic gc or maintenance detached from a commit: it would run
        # beside the next measurement and race the removal of the repository.
        self.sh(["git", "config", "gc.auto", "0"])
        self.sh(["git", "config", "maintenance.auto", "false"])
        for i in range(self.files):
            target = self.path(i)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f"file {i}\n" * 4)
        self.sh(["git", "add", "-A"])
        self.sh(["git", "commit", "-q", "-m", "base"])
        self.sh(["git", "status", "--porcelain"])  # a fresh stat cache, as in a working repo
        self.damage(100, "modified")
        (self.repo / "untracked").mkdir()
        for i in range(50):
            (self.repo / "untracked" / f"u{i}.txt").write_text(f"untracked {i}\n")
        self.sh(RECOVER + ["install"])  # hooks in .git/hooks; no gates configured

    def damage(self, count: int, word: str) -> None:
        for i in range(0, self.files, max(1, self.files // count))[:count]:
            self.path(i).write_text(f"{word} {i}\n")

    def newest(self) -> dict[str, str]:
        return json.loads(self.sh(RECOVER + ["list", "-n", "1", "--json"]))[0]  # type: ignore[no-any-return]

    def run(self, heavy: bool) -> None:
        """Every series, interleaved run by run."""
        for r in range(self.runs):
            (self.repo / "touched.txt").write_text(f"run {r}\n")  # every checkpoint is of a new state
            self.time("floor", FLOOR)
            (self.repo / "touched.txt").write_text(f"run {r} durable\n")
            self.time("floor durable", FLOOR, DURABLE)
            (self.repo / "touched.txt").write_text(f"run {r} checkpoint\n")
            self.time("stash create", ["git", "stash", "create"])
            self.time("checkpoint", RECOVER + ["checkpoint"])
            self.sh(AGENT_HOOK, stdin=self.hook_input)  # the hook's own checkpoint of this state
            self.time("agent hook unchanged", AGENT_HOOK, stdin=self.hook_input)
            self.damage(100, f"agent {r}")  # the 100 modified files again, with new content
            self.time("agent hook changed", AGENT_HOOK, stdin=self.hook_input)
            self.time("python", [sys.executable, "-P", "-c", "pass"])
            self.time("git status", ["git", "status", "--porcelain"])
            (self.repo / "d0" / "e0" / "f0.txt").write_text(f"commit {r} plain\n")
            self.time("commit", ["git", "-c", f"core.hooksPath={self.no_hooks}", "commit", "-q", "-a", "-m", "p"])
            (self.repo / "d0" / "e0" / "f0.txt").write_text(f"commit {r} hooked\n")
            self.time("commit hooked", ["git", "commit", "-q", "-a", "-m", "h"])
        target = self.newest()
        target_tree = target["worktree_tree"]
        self.sh(RECOVER + ["restore", target["short"]])  # HEAD where the stash below is based
        self.damage(100, "stash")
        stash = self.sh(["git", "stash", "create"]).strip()
        roots = " ".join(sha for sha in (target["sha"], target["index_commit"], target["head"]) if sha)
        for r in range(self.runs):
            self.damage(100, f"broken {r}")
            out = self.time("restore", RECOVER + ["restore", target["short"]])
            m = re.search(r"restore (\d+) ms, integrity check (\d+) ms", out)
            if m:
                self.series.setdefault("switch+check", []).append((int(m.group(1)) + int(m.group(2))) / 1000)
            # Content of its own: the objects of git-recover's safety capture
            # would spare the floor's capture its writes.
            self.damage(100, f"broken {r} floor")
            self.time("restore floor", FLOOR_RESTORE, {"TARGET": target_tree})
            self.damage(100, f"broken {r} durable")
            self.time("restore floor durable", FLOOR_RESTORE, {"TARGET": target_tree, **DURABLE})
            self.sh(["git", "reset", "-q", "--hard"])
            self.time("stash apply", ["git", "stash", "apply", "-q", "--index", stash])
            self.time("verify", RECOVER + ["verify", target["short"]])
            self.time("verify floor", FLOOR_VERIFY, {"ROOTS": roots})
        if heavy:
            for r in range(self.runs):
                self.damage(self.files // 2, f"heavy {r}")
                self.time("restore heavy", RECOVER + ["restore", target["short"]])
                self.damage(self.files // 2, f"heavy {r} floor")
                self.time("reset floor heavy", FLOOR_HEAVY, {"TARGET": target_tree})
                self.damage(self.files // 2, f"heavy {r} floor durable")
                self.time("reset floor heavy durable", FLOOR_HEAVY, {"TARGET": target_tree, **DURABLE})
        self.sh(RECOVER + ["restore", target["short"]])

    def run_fsmonitor(self, steps: dict[str, list[tuple[str, float]]]) -> bool:
        """The fsmonitor series: git's watchman hook and the untracked cache set
        up as a user would, 100 files changed before every run; the floor and
        ``checkpoint`` also with both switched off. ``False`` (and nothing
        measured) without watchman."""
        if shutil.which("watchman") is None or not WATCHMAN_HOOK.exists():
            print("fsmonitor series skipped: watchman or git's watchman hook is missing", file=sys.stderr)
            return False
        hook = self.repo / ".git/hooks/fsmonitor-watchman"
        shutil.copy(WATCHMAN_HOOK, hook)
        hook.chmod(0o755)
        self.sh(["git", "config", "core.fsmonitor", ".git/hooks/fsmonitor-watchman"])
        self.sh(["git", "config", "core.untrackedCache", "true"])
        try:
            for _ in range(2):  # the first answer of a new watch is "everything changed"
                self.sh(["git", "status", "--porcelain"])
            for r in range(self.runs):
                self.damage(100, f"fsmonitor {r}")
                self.time("floor plain", FLOOR, PLAIN_GIT)
                self.time("floor fsmonitor", FLOOR)
                self.time("checkpoint fsmonitor", RECOVER + ["checkpoint"])
                self.damage(100, f"fsmonitor {r} plain")
                self.time("checkpoint plain", RECOVER + ["checkpoint"], PLAIN_GIT)
            steps["`checkpoint` with fsmonitor"] = self.traced(RECOVER + ["checkpoint"],
                                                              lambda: self.damage(100, "fsmonitor traced"))
        finally:
            subprocess.run(["watchman", "watch-del", str(self.repo)], capture_output=True, check=False)
        return True

    def traced(self, cmd: list[str], prepare: Callable[[], object], stdin: str | None = None
               ) -> list[tuple[str, float]]:
        """``(git command, seconds)`` for every git process ``cmd`` starts."""
        prepare()
        trace = self.repo.parent / "trace.json"
        trace.unlink(missing_ok=True)
        self.sh(cmd, {"GIT_TRACE2_EVENT": str(trace)}, stdin)
        starts: dict[str, str] = {}
        steps: list[tuple[str, float]] = []
        for line in trace.read_text().splitlines():
            event = json.loads(line)
            if event.get("event") == "start":
                argv = _without_config(event["argv"][1:])
                starts[event["sid"]] = " ".join(argv[:2] if len(argv) > 1 and argv[1].startswith("-") else argv[:1])
            elif event.get("event") == "exit" and event["sid"] in starts:
                steps.append((starts[event["sid"]], event["t_abs"]))
        return steps


def _without_config(argv: list[str]) -> list[str]:
    """``argv`` from git's command on: without the options before it (the
    runner's ``-c name=value`` pairs, ``--literal-pathspecs``)."""
    for i, arg in enumerate(argv):
        if arg == "-c" or (i > 0 and argv[i - 1] == "-c"):
            continue
        if not arg.startswith("-"):
            return argv[i:]
    return []


def _memory(root: Path) -> list[tuple[str, int, int]]:
    """Peak RSS (KiB) of our own process for ``verify`` and ``report``, small and large input."""
    rows = []
    for label, size in (("1 MiB", 1 << 20), ("256 MiB", 256 << 20)):
        (root / f"mem-{size}").mkdir()
        bench = Bench(root / f"mem-{size}", 10, 1)
        bench.repo.mkdir()
        bench.sh(["git", "init", "-q", "-b", "main"])
        bench.sh(["git", "config", "recover.maxUntrackedSize", "1g"])
        block = bytes(range(256)) * 4096
        with open(bench.repo / "big.bin", "wb") as out:
            for _ in range(size // len(block)):
                out.write(block)
        bench.sh(RECOVER + ["checkpoint"])
        line = json.dumps({"time": "2026-01-01T00:00:00+00:00", "event": "checkpoint", "worktree": "main",
                           "checkpoint": "0" * 10, "reason": "manual", "capture_s": 0.01, "pad": "x" * 150}) + "\n"
        with open(bench.repo / ".git/recovery/journal.jsonl", "ab") as out:
            chunk = line.encode() * 1000
            for _ in range(size // len(chunk)):
                out.write(chunk)
        peaks = []
        for command in ("verify", "report"):
            proc = subprocess.run([sys.executable, "-P", "-c", PEAK_RSS, command], cwd=bench.repo, env=bench.env,
                                  capture_output=True, text=True, check=False)
            peaks.append(int(proc.stderr.strip().splitlines()[-1]))
        rows.append((label, peaks[0], peaks[1]))
        shutil.rmtree(bench.repo.parent)
    return rows


def _ratios(ratios: list[tuple[int, float]]) -> str:
    """``1,000 files 2.31x, 80,000 files 1.40x``."""
    return ", ".join(f"{files:,} files {ratio:.2f}x" for files, ratio in ratios)


def _judged(ratios: list[tuple[int, float]], limit: float, least: int, most: int | None = None) -> str:
    """Whether the ``(files, ratio)`` pairs with ``least <= files <= most`` are
    all within ``limit``, naming the sizes where not; "not measured" when the
    run had no such size (``--sizes 1000`` says nothing about 80k files)."""
    judged = [(files, ratio) for files, ratio in ratios if files >= least and (most is None or files <= most)]
    if not judged:
        return "not measured"
    missed = [f"{files:,}" for files, ratio in judged if ratio > limit]
    if not missed:
        return "met" if len(judged) == 1 else "met at every size"
    return "NOT met" if len(missed) == len(judged) else f"NOT met at {', '.join(missed)} files"


def _verdict(value: float, limit: float, files: int) -> str:
    """A ratio measured at ``files`` files against a target set at 80k files."""
    return f"{value:.2f}x (target <= {limit}x at 80k files: {_judged([(files, value)], limit, 80_000)})"


def _fsmonitor_target(big: Bench) -> str:
    f = big.median
    return (f"- `checkpoint` with fsmonitor (git's watchman hook, untracked cache) at {big.files:,} files, "
            f"100 changed, in a series of its own after the table's: {f('checkpoint fsmonitor') * 1000:.0f} ms "
            "against the floor capture "
            f"{f('floor plain') * 1000:.0f} ms without fsmonitor, "
            f"{_verdict(f('checkpoint fsmonitor') / f('floor plain'), 0.5, big.files)}; the floor with fsmonitor takes "
            f"{f('floor fsmonitor') * 1000:.0f} ms ({f('checkpoint fsmonitor') / f('floor fsmonitor'):.2f}x); "
            f"the same checkpoint without fsmonitor takes {f('checkpoint plain') * 1000:.0f} ms.")


def _steps(steps: dict[str, list[tuple[str, float]]], files: int) -> list[str]:
    out = []
    for name, trace in steps.items():
        total = sum(t for _, t in trace)
        out += ["", f"{name} at {files:,} files: {len(trace)} git processes, their times summed {total * 1000:.0f} ms "
                "(more than the whole when processes overlap, or a commit's includes its hooks'): "
                + ", ".join(f"`{cmd}` {t * 1000:.0f}" for cmd, t in trace) + " (ms)."]
    return out


def render(benches: list[Bench], steps: dict[str, list[tuple[str, float]]],
           memory: list[tuple[str, int, int]]) -> str:
    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.0f}"

    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.split()[-1]
    runs = benches[0].runs
    out = [f"git {git_version}, Python {sys.version.split()[0]}, {os.cpu_count()} cores, "
           f"medians of {runs} interleaved runs, whole processes (git-recover installed from a wheel, as "
           "`./install.sh` installs it), milliseconds.", ""]
    out += ["| files | floor capture | `stash create` | `checkpoint` | ratio | agent hook, unchanged | "
            "Python + `git status` | ratio | commit | commit with hooks | added / floor | "
            "`restore` (100 damaged) | verified-restore floor | ratio | `stash apply --index` | "
            "`verify` | cat-file floor | ratio |",
            "|" + "---:|" * 18]
    for b in benches:
        f = b.median
        added = f("commit hooked") - f("commit")
        out.append(
            f"| {b.files:,} | {ms(f('floor'))} | {ms(f('stash create'))} | {ms(f('checkpoint'))} | "
            f"{f('checkpoint') / f('floor'):.2f}x | {ms(f('agent hook unchanged'))} | "
            f"{ms(f('python') + f('git status'))} | {f('agent hook unchanged') / (f('python') + f('git status')):.2f}x | "
            f"{ms(f('commit'))} | {ms(f('commit hooked'))} | {added / f('floor'):.2f}x | "
            f"{ms(f('restore'))} | {ms(f('restore floor'))} | {f('restore') / f('restore floor'):.2f}x | "
            f"{ms(f('stash apply'))} | {ms(f('verify'))} | {ms(f('verify floor'))} | "
            f"{f('verify') / f('verify floor'):.2f}x |")
    big = benches[-1]
    out += ["", "Targets:", ""]
    checkpoint = [(b.files, b.median("checkpoint") / b.median("floor")) for b in benches]
    out.append(f"- `checkpoint`: {_ratios(checkpoint)} (targets: <= 2.5x at 1k files: "
               f"{_judged(checkpoint, 2.5, 1_000, 1_000)}; <= 1.25x at 80k files: "
               f"{_judged(checkpoint, 1.25, 80_000)}). Against the same floor at "
               f"git-recover's durability (objects and refs fsynced): "
               + ", ".join(f"{b.files:,} files {b.median('checkpoint') / b.median('floor durable'):.2f}x "
                           f"({ms(b.median('floor durable'))} ms)" for b in benches) + ".")
    unchanged = [(b.files, b.median("agent hook unchanged") / (b.median("python") + b.median("git status")))
                 for b in benches]
    out.append(f"- The agent's PreToolUse hook with nothing changed since its last checkpoint: "
               f"{_ratios(unchanged)} of Python's start-up plus one `git status` "
               f"(target <= 2x: {_judged(unchanged, 2, 0)}).")
    changed = ", ".join(
        f"{b.files:,} files {ms(b.median('agent hook changed'))} ms "
        f"({b.median('agent hook changed') / (b.median('python') + b.median('git status') + b.median('floor')):.2f}x)"
        for b in benches)
    out.append("- The same hook after 100 files changed (its checkpoint's capture takes the changed files from "
               f"the hook's own `git status`): {changed} of Python's start-up, one `git status` and the floor "
               "capture (no target).")
    hook_ratios = [(b.files, (b.median("commit hooked") - b.median("commit")) / b.median("floor")) for b in benches]
    out.append(f"- A commit with the hooks and no gates, time added over the floor capture: {_ratios(hook_ratios)} "
               f"(targets: <= 2.5x at 1k files: {_judged(hook_ratios, 2.5, 1_000, 1_000)}; <= 1.3x at 35k files, "
               f"judged at every size from 10k files up: {_judged(hook_ratios, 1.3, 10_000)}).")
    restore = [(b.files, b.median("restore") / b.median("restore floor")) for b in benches]
    out.append(f"- `restore` with its integrity check, 100 damaged: {_ratios(restore)} (target <= 1.5x at 80k files: "
               f"{_judged(restore, 1.5, 80_000)}); against the verified-restore floor at git-recover's durability: "
               + ", ".join(f"{b.files:,} files {b.median('restore') / b.median('restore floor durable'):.2f}x"
                           for b in benches) + ".")
    if "restore heavy" in big.series:
        out.append(f"- `restore` after heavy damage ({big.files // 2:,} files) against the floor capture plus "
                   f"`read-tree --reset -u` of the real index (`git reset --hard`): {ms(big.median('restore heavy'))} ms against "
                   f"{ms(big.median('reset floor heavy'))} ms, "
                   f"{_verdict(big.median('restore heavy') / big.median('reset floor heavy'), 1.3, big.files)}; "
                   f"against the same floor at git-recover's durability, {ms(big.median('reset floor heavy durable'))} "
                   f"ms: {big.median('restore heavy') / big.median('reset floor heavy durable'):.2f}x.")
    if "checkpoint fsmonitor" in big.series:
        out.append(_fsmonitor_target(big))
    verify = [(b.files, b.median("verify") / b.median("verify floor")) for b in benches]
    out.append(f"- `verify`: {_ratios(verify)} of git reading and hashing the same objects "
               f"(target <= 1.5x: {_judged(verify, 1.5, 0)}).")
    if memory:
        out.append("- Peak memory of our own process (KiB), small and large input: "
                   + "; ".join(f"{label}: `verify` {v:,}, `report` {r:,}" for label, v, r in memory)
                   + " (bounded: the large input changes them by "
                   + f"{memory[-1][1] - memory[0][1]:+,} and {memory[-1][2] - memory[0][2]:+,} KiB).")
    out += _steps(steps, big.files)
    return "\n".join(out) + "\n"


def _run_installed() -> None:
    """Run this benchmark again under a Python where git-recover is installed as
    ``./install.sh`` installs it for a user: a wheel built from this checkout,
    its bytecode compiled, its dependencies taken from this interpreter's
    environment. A developer's editable checkout adds a path finder to every
    Python start (20 ms) and, where PYTHONDONTWRITEBYTECODE is set, compiles
    every module again in every process (45 ms): costs no user pays. Returns
    when already running so."""
    if os.environ.get(INSTALLED):
        return
    home = Path(tempfile.mkdtemp(prefix="bench-core-install-"))
    print("installing git-recover from this checkout...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(home / "venv")], check=True)
    python = home / "venv" / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # A path line, not a site directory: the editable checkout's own .pth files there are not read.
    (Path(site) / "git_recover_bench_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                    "--target", site, str(CHECKOUT)], check=True)
    os.execve(python, [str(python), __file__, *sys.argv[1:]], {**os.environ, INSTALLED: str(home)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,80000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-memory", action="store_true", help="skip the 256 MiB memory runs")
    parser.add_argument("--readme", type=Path, help="rewrite the table between the bench_core.py markers")
    parser.add_argument("--fsmonitor-only", action="store_true",
                        help="only the fsmonitor series, at the largest size (no table)")
    args = parser.parse_args()
    _run_installed()
    root = Path(tempfile.mkdtemp(prefix="bench-core-"))
    benches: list[Bench] = []
    steps: dict[str, list[tuple[str, float]]] = {}
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
        for files in sizes:
            bench = Bench(root, files, args.runs)
            print(f"building {files:,} files...", file=sys.stderr)
            bench.build()
            print(f"measuring {files:,} files...", file=sys.stderr)
            if args.fsmonitor_only:
                if files == sizes[-1] and bench.run_fsmonitor(steps):
                    print(f"medians of {args.runs} interleaved runs, whole processes\n\n{_fsmonitor_target(bench)}"
                          + "\n".join(_steps(steps, files)))
                shutil.rmtree(bench.repo)
                continue
            bench.run(heavy=files == sizes[-1])
            benches.append(bench)
            if files == sizes[-1]:
                target = bench.newest()["short"]
                steps["`checkpoint`"] = bench.traced(RECOVER + ["checkpoint"], lambda: bench.damage(100, "traced"))
                steps["agent hook, unchanged"] = bench.traced(  # primed: its own checkpoint of this state first
                    AGENT_HOOK, lambda: bench.sh(AGENT_HOOK, stdin=bench.hook_input), bench.hook_input)
                steps["`restore`"] = bench.traced(RECOVER + ["restore", target], lambda: bench.damage(100, "x"))
                steps["commit with hooks"] = bench.traced(
                    ["git", "commit", "-q", "-a", "-m", "traced"],
                    lambda: (bench.repo / "d0" / "e0" / "f0.txt").write_text("traced commit\n"))
                bench.run_fsmonitor(steps)  # last: it leaves core.fsmonitor set
            shutil.rmtree(bench.repo)
        if args.fsmonitor_only:
            return
        memory = [] if args.no_memory else _memory(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(os.environ[INSTALLED], ignore_errors=True)
    table = render(benches, steps, memory)
    print(table)
    if args.readme:
        text = args.readme.read_text()
        head, _, rest = text.partition(README_START)
        _, _, tail = rest.partition(README_END)
        args.readme.write_text(f"{head}{README_START}\n{table}{README_END}{tail}")


if __name__ == "__main__":
    main()
