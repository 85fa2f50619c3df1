"""Benchmark of ``git-recover links``, measured as whole commands (Python startup,
imports, discovery, reading, output), the way a pre-commit hook pays for it.

    .venv/bin/python benchmarks/bench_links.py            # 5 runs each, prints a table
    .venv/bin/python benchmarks/bench_links.py --runs 10

Cases:
- the modular-prompts-3.0.0 corpus (../shared/corpora), both profiles: target < 0.5 s;
- a synthetic tree of 10,000 Markdown files with ~5 imports each (2,000 rule
  files are roots, 8,000 modules form a forward DAG; 1 in 50 imports is broken,
  some sit in code blocks): target < 5 s.

Exit status 1 if a target is missed, so CI or a session can run it as a check.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"


def make_tree(top: Path, files: int = 10_000, imports: int = 5, seed: int = 4) -> None:
    """Write the synthetic framework: ``CLAUDE.md``, ``.claude/rules/r*.md`` roots
    and ``modules/gNN/m*.md`` modules, each with about ``imports`` @-imports."""
    rng = random.Random(seed)
    roots = files // 5
    modules = files - roots - 1

    def module_path(i: int) -> str:
        return f"modules/g{i // 100:03d}/m{i:05d}.md"

    def body(own_dir: str, targets: list[int]) -> str:
        lines = ["# Module", "", "Some prose about the module, with an email a@b.com.", ""]
        for n, t in enumerate(targets):
            rel = os.path.relpath(module_path(t), own_dir)
            if rng.random() < 0.02:
                rel = rel.replace(".md", "-missing.md")
            if n == 0:
                lines += ["```", f"example @{rel}", "```", ""]
            else:
                lines.append(f"- see @{rel} for details")
        return "\n".join(lines) + "\n"

    for i in range(modules):
        path = top / module_path(i)
        path.parent.mkdir(parents=True, exist_ok=True)
        ahead = [rng.randint(i + 1, min(i + 400, modules - 1)) for _ in range(imports)
                 ] if i < modules - 1 else []
        path.write_text(body(str(path.parent.relative_to(top)), ahead))
    rules = top / ".claude" / "rules"
    rules.mkdir(parents=True, exist_ok=True)
    for r in range(roots):
        targets = [rng.randrange(modules) for _ in range(imports)]
        (rules / f"r{r:05d}.md").write_text(body(".claude/rules", targets))
    (top / "CLAUDE.md").write_text(
        "# Project\n\n" + "".join(f"@{module_path(i)}\n" for i in range(imports)))


def time_command(args: list[str], cwd: Path, runs: int) -> tuple[float, float, int]:
    """(best, median) wall seconds of ``git-recover ARGS`` in ``cwd``, and its exit status."""
    times = []
    status = 0
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "recovery", *args], cwd=cwd,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        times.append(time.perf_counter() - start)
        status = proc.returncode
        if status not in (0, 2):
            raise SystemExit(f"git-recover {' '.join(args)} failed ({status}): {proc.stderr.decode()}")
    return min(times), statistics.median(times), status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    opts = parser.parse_args()
    rows = []
    corpus = CORPORA / "modular-prompts-3.0.0"
    with tempfile.TemporaryDirectory(prefix="bench-links-") as tmp:
        synthetic = Path(tmp) / "synthetic"
        t0 = time.perf_counter()
        make_tree(synthetic)
        made = time.perf_counter() - t0
        cases = []
        if corpus.is_dir():
            cases += [
                ("3.0.0 corpus, claude-code", corpus, ["links"], 0.5),
                ("3.0.0 corpus, framework", corpus, ["links", "--profile", "framework"], 0.5),
                ("3.0.0 corpus, --format sarif", corpus, ["links", "--format", "sarif"], 0.5),
            ]
        else:
            print(f"note: {corpus} not found; corpus cases skipped", file=sys.stderr)
        cases += [
            ("10,000 files, claude-code", synthetic, ["links"], 5.0),
            ("10,000 files, framework", synthetic, ["links", "--profile", "framework"], 5.0),
        ]
        for name, cwd, args, target in cases:
            best, median, status = time_command(args, cwd, opts.runs)
            rows.append((name, best, median, target, status))
    width = max(len(r[0]) for r in rows)
    print(f"git-recover links, whole commands, {opts.runs} runs each "
          f"(synthetic tree written in {made:.1f} s)")
    print(f"{'case':<{width}}  {'best s':>7}  {'median s':>8}  {'target s':>8}  exit  ok")
    missed = 0
    for name, best, median, target, status in rows:
        ok = median < target
        missed += not ok
        print(f"{name:<{width}}  {best:7.3f}  {median:8.3f}  {'< ' + format(target, 'g'):>8}"
              f"  {status:>4}  {'yes' if ok else 'NO'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
