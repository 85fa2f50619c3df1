"""What each hook does when git runs it (``git-recover hook <name>``).

- pre-commit, pre-merge-commit, pre-rebase, pre-push: checkpoint first (nothing
  the operation changes is lost), then the chained foreign hook, then the stage's
  gates. A failing gate blocks (git aborts the operation); ``restore`` acts as
  ``block`` here (see :mod:`recovery.gates.policy`).
- post-merge, post-rewrite, post-checkout: the chained hook, then validate the
  new state: checkpoint, gates, mark good, or undo the operation (not the
  user's work; :mod:`recovery.gates.policy`). Everything happens before the hook
  returns: nothing changes the worktree after git has returned the prompt. A
  rebase still holds its state while post-rewrite runs, so there a failure is
  reported with the command that undoes it.
- post-commit: mark the new commit's state good when every required pre-commit
  and post-commit gate passed on it (a cache hit after pre-commit); never undoes.
  Its checkpoint is built from the pre-commit capture when no file changed
  since (:func:`recovery.core.checkpoint.from_last_capture`): one capture per commit.
- While a restore is interrupted, pre-commit, pre-merge-commit and pre-rebase
  refuse the operation: committing a half-restored tree would make it history.

Deliberate outcomes when git-recover itself goes wrong: a checkpoint failure
never blocks (a warning, the operation goes on); a bad gate configuration blocks
the pre-hooks (the gates cannot run, which is a gate failure); a bug (an
unexpected exception) prints one line, keeps the traceback in
``<git dir>/recovery/hook-crash.log`` and never blocks.

Recursion: internal git calls export ``GIT_RECOVER_INTERNAL`` (the script exits
at once); while one of our hooks runs, ``GIT_RECOVER_HOOK`` is exported to what it
starts (gates, the chained hook), and a hook fired from inside them only runs its
chained hook; ``git recover run`` exports ``GIT_RECOVER_RUN`` to the git command it
wraps, since it validates (and undoes) by itself afterwards.

Every commit runs this module, most of them in projects without gates: the
gates' modules (configuration, policy, trust) and the push guard are imported
only where a hook needs them, which halves the hook's import time.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from recovery.core.capture import OPERATIONS_IN_PROGRESS
from recovery.core.checkpoint import checkpoint_or_warn
from recovery.core.config import GitConfig
from recovery.base.errors import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, RecoverError
from recovery.base.output import say
from recovery.base.proc import run_foreground
from recovery.core.git import INTERNAL_ENV, user_env
from recovery.core.intent import intent_path
from recovery.core.journal import record_or_warn
from recovery.core.model import Checkpoint
from recovery.core.refs import resolve_commit
from recovery.core.repo import Repo
from recovery.base.project_config import has_project_file
from recovery.gates import GIT_PREFIX

TYPE_CHECKING = False  # the gates' modules load only where gates run; mypy reads the name as typing's
if TYPE_CHECKING:
    from recovery.gates.config import GateConfig
    from recovery.gates.policy import UndoPlan, Validation

ACTIVE_ENV = "GIT_RECOVER_HOOK"
RUN_ENV = "GIT_RECOVER_RUN"
CRASH_LOG = "hook-crash.log"
# Hooks whose stdin carries data (githooks(5)): read once, handed to the chained hook.
_STDIN_HOOKS = {"pre-push", "post-rewrite"}
# What git keeps while a multi-step operation runs; a post-checkout or
# post-commit fired from inside one (rebase checks out and commits step by step,
# bisect checks out one candidate after another) is not the end state, so it is
# not validated.
_IN_PROGRESS = (*OPERATIONS_IN_PROGRESS, "BISECT_LOG")
# Operations refused while a restore is interrupted (their pre-hooks can refuse).
_REFUSED_WHILE_INTERRUPTED = {"pre-commit": "commit", "pre-merge-commit": "merge", "pre-rebase": "rebase"}


class HookRun:
    """One invocation of a hook.

    A plain class, not a dataclass: this is every hook's own process
    (:mod:`recovery.core.model` says what ``dataclasses`` costs there).

    Attributes:
        name: the hook name.
        args: git's arguments to the hook.
        chain: the foreign hook our script chains (``<hook>.pre-recover``), if any.
        stdin: the hook's stdin (pre-push, post-rewrite), read once.
        chained_rc: the chained hook's exit status once it ran (``None`` before).
    """

    __slots__ = ("name", "args", "chain", "stdin", "chained_rc")

    def __init__(self, name: str, args: tuple[str, ...], chain: Path | None, stdin: bytes | None = None) -> None:
        self.name = name
        self.args = args
        self.chain = chain
        self.stdin = stdin
        self.chained_rc: int | None = None

    def run_chain(self) -> int:
        """Run the chained foreign hook once (later calls return its status)."""
        if self.chained_rc is None:
            self.chained_rc = EXIT_OK
            if self.chain is not None and os.access(self.chain, os.X_OK):
                self.chained_rc = run_foreground([str(self.chain), *self.args], Path.cwd(), user_env(),
                                                 self.stdin)
        return self.chained_rc


def dispatch(name: str, args: Sequence[str], chain: Path | None) -> int:
    """Run hook ``name`` with git's ``args``.

    Returns:
        The exit status for git: non-zero from a pre-hook aborts the operation.
    """
    if os.environ.get(INTERNAL_ENV):
        return EXIT_OK
    stdin = sys.stdin.buffer.read() if name in _STDIN_HOOKS and not sys.stdin.isatty() else None
    run = HookRun(name, tuple(args), chain, stdin)
    if os.environ.get(ACTIVE_ENV) or os.environ.get(RUN_ENV):
        return run.run_chain()
    os.environ[ACTIVE_ENV] = name
    handler = _pre_hook if name.startswith("pre-") else _post_hook
    return _guarded(run, handler)


def _guarded(run: HookRun, handler: Callable[[HookRun], int]) -> int:
    try:
        return handler(run)
    except RecoverError as exc:
        # Expected failures: a bad gate configuration, a repository git-recover
        # cannot work on. In a pre-hook the gates could not run, so it blocks.
        say(f"{run.name} hook: {exc.message}")
        rc = run.run_chain()
        if run.name.startswith("pre-") and run.name != "pre-rebase":
            return rc or exc.exit_code
        return rc
    except Exception as exc:  # a bug in git-recover: documented, never blocking
        log = _write_crash_log(run.name)
        say(f"internal error in the {run.name} hook ({type(exc).__name__}: {exc}); "
            f"git goes on without git-recover this time; details in {log}")
        return run.run_chain()


def _pre_hook(run: HookRun) -> int:
    repo = Repo.discover()
    config = GitConfig.load(repo.git)  # once, for the checkpoint and the gates
    if run.name == "pre-push":
        from recovery.hooks.push_guard import ALLOW_KEY, checkpoint_refs_in_push, checkpoints_carried, refusal

        leaking = checkpoint_refs_in_push(run.stdin) or checkpoints_carried(repo, run.stdin, run.args[0] if run.args else "")
        if leaking and not config.get_bool(ALLOW_KEY, False):
            say(refusal(leaking))
            return EXIT_ERROR
    what = _REFUSED_WHILE_INTERRUPTED.get(run.name)
    if what and intent_path(repo).exists():
        say(f"{what} refused: a restore was interrupted and the worktree is half-restored; run "
            "`git recover restore --continue` to finish it or `git recover restore --abort` to go back, then retry")
        return EXIT_FINDINGS
    cp = (_pre_commit_window_checkpoint(repo, config) if _in_stash_window(run.name)
          else checkpoint_or_warn(repo, run.name, config=config))
    rc = run.run_chain()
    if rc != EXIT_OK or run.name == "pre-rebase":
        return rc
    gates = _hook_gates(repo, config)
    if gates is None or not gates.for_stage(run.name):
        return EXIT_OK
    from recovery.gates.policy import STAGE_LIMITS, Validation, validate

    index_file = _hook_index(repo) if run.name in ("pre-commit", "pre-merge-commit") else None
    # In pre-commit's stash window `cp` holds the unstaged work too; the gates test
    # the staged state on disk, so that gets its own checkpoint (the cache key).
    # Without a patch set aside that is `cp` itself, shown without a second capture.
    tested = (checkpoint_or_warn(repo, "pre-commit-staged", reuse=True, config=config)
              if _in_stash_window(run.name) else cp)
    spec = Validation(run.name, (run.name,), base=resolve_commit(repo, "HEAD"), index_file=index_file,
                      strongest=STAGE_LIMITS[run.name], mark_good=False, interactive=sys.stderr.isatty())
    return validate(repo, spec, gates, tested).exit_code


def _post_hook(run: HookRun) -> int:
    run.run_chain()  # git ignores a post-hook's exit status (githooks(5))
    repo = Repo.discover()
    if not _should_validate(repo, run):
        return EXIT_OK
    return _validate_after(repo, run)


def _hook_gates(repo: Repo, config: GitConfig) -> GateConfig | None:
    """The gates a hook may run: the project's, once the repository is trusted
    (:mod:`recovery.gates.trust`). ``None`` when nothing defines a gate: no
    project file, and no ``recover.gate.*`` git config (which names a gate the
    file must define, an error otherwise); the gate modules, about 15 ms of
    imports, are then not loaded on every commit (benchmarks/bench_core.py).

    Raises:
        UsageError: a bad gate configuration (:func:`recovery.gates.config.load_gates`).
    """
    if not has_project_file(repo.toplevel) and not any(key.startswith(GIT_PREFIX) for key in config.values):
        return None
    from recovery.gates.config import load_gates
    from recovery.gates.trust import allowed_gates

    return allowed_gates(repo, config, load_gates(repo.toplevel, config))


def _validate_after(repo: Repo, run: HookRun) -> int:
    config = GitConfig.load(repo.git)  # once, for the gates and the checkpoint
    gates = _hook_gates(repo, config)
    if gates is None or not gates.gates:
        return EXIT_OK
    spec = _post_spec(repo, run, gates)
    if spec is None:
        return EXIT_OK
    from recovery.gates.policy import validate

    # A commit changes HEAD and the index, not the files: the checkpoint is
    # built from the pre-commit capture when no file changed since.
    reuse = run.name == "post-commit" or (run.name == "post-rewrite" and run.args[:1] == ("amend",))
    checkpoint = checkpoint_or_warn(repo, run.name, reuse=True, config=config) if reuse else None
    outcome = validate(repo, spec, gates, checkpoint)
    if run.name == "post-commit" and outcome.checkpoint is not None:
        from recovery.core.checkpoint import drop_superseded

        # One checkpoint per commit: the pre-commit one is this one minus the commit.
        drop_superseded(repo, outcome.checkpoint)
    return outcome.exit_code


def _post_spec(repo: Repo, run: HookRun, gates: GateConfig) -> Validation | None:
    """The validation a post-hook performs, or ``None`` when no gate runs in it."""
    from recovery.gates.policy import STAGE_LIMITS, Validation

    interactive = sys.stderr.isatty()
    if run.name == "post-commit":
        return Validation("post-commit", ("pre-commit", "post-commit"), base=resolve_commit(repo, "HEAD^"),
                          strongest=STAGE_LIMITS["post-commit"], interactive=interactive)
    if not gates.for_stage(run.name):
        return None
    plan = _undo_plan(repo, run)
    base = plan.before if plan else None
    if run.name == "post-checkout":
        base = _arg(run, 0, "PRE_COMMIT_FROM_REF")
    if base == repo.object_format.null_id:  # post-checkout of a new worktree or clone: nothing came before
        base = None
    return Validation(run.name, (run.name,), base=base, interactive=interactive, undo=plan,
                      strongest=STAGE_LIMITS[run.name])


def _undo_plan(repo: Repo, run: HookRun) -> UndoPlan | None:
    """How to undo the operation that fired this post-hook, from what git
    reports: post-checkout's previous HEAD and the branch in HEAD's reflog;
    ``ORIG_HEAD`` for a merge, a pull or a rebase (git sets it to the commit
    before); the pre-commit checkpoint for ``commit --amend``. ``None`` when
    nothing came before (a clone) or the state before is unknown."""
    from recovery.gates.policy import UndoPlan

    after = resolve_commit(repo, "HEAD")
    branch = repo.git.run("symbolic-ref", "-q", "HEAD", check=False).text or None
    if run.name == "post-checkout":
        before = _arg(run, 0, "PRE_COMMIT_FROM_REF")
        if not before or before == repo.object_format.null_id:
            return None
        return UndoPlan("checkout", "checkout", before, _previous_branch(repo), after)
    if run.name == "post-rewrite" and run.args[:1] == ("amend",):
        old = run.stdin.split(b" ", 1)[0].decode() if run.stdin else None
        before_amend = _pre_commit_checkpoint(repo, old)
        if before_amend is None:
            return None
        return UndoPlan("commit --amend", "amend", old, branch, after, checkpoint=before_amend)
    before = resolve_commit(repo, "ORIG_HEAD")
    if before is None:
        return None  # without it, "before" would be an empty tree: never guess
    if run.name == "post-merge":
        subject = repo.git.run("reflog", "-1", "--format=%gs", "HEAD", "--", check=False).text
        operation = "pull" if subject.startswith("pull") else "merge"
        return UndoPlan(operation, operation, before, branch, after)
    if run.name == "post-rewrite":
        # git runs post-rewrite before it removes the rebase's state directory
        # and applies an autostash (sequencer.c), so the undo cannot happen here.
        return UndoPlan("rebase", "rebase", before, branch, after, in_hook=not _busy(repo))
    return None


def _pre_commit_checkpoint(repo: Repo, head: str | None) -> Checkpoint | None:
    """The checkpoint the pre-commit hook took of the commit being amended
    (newest ``pre-commit`` checkpoint on ``head``), if there is one."""
    from recovery.core.refs import list_checkpoints

    if head is None:
        return None
    return next((cp for cp in list_checkpoints(repo) if cp.reason == "pre-commit" and cp.head == head), None)


def _previous_branch(repo: Repo) -> str | None:
    """The branch a checkout just left, from HEAD's reflog ("checkout: moving
    from <old> to <new>", git-checkout(1)); ``None`` when it was a detached HEAD."""
    subject = repo.git.run("reflog", "-1", "--format=%gs", "HEAD", "--", check=False).text
    prefix = "checkout: moving from "
    if not subject.startswith(prefix):
        return None
    old = subject[len(prefix):].rsplit(" to ", 1)[0]
    ref = f"refs/heads/{old}"
    return ref if resolve_commit(repo, ref) else None


def _should_validate(repo: Repo, run: HookRun) -> bool:
    if run.name == "post-checkout":
        # A file checkout (flag 0) is not a move; pre-commit's own stash checkout
        # sets _PRE_COMMIT_SKIP_POST_CHECKOUT (pre-commit #1418).
        if _arg(run, 2, "PRE_COMMIT_CHECKOUT_TYPE") != "1" or os.environ.get("_PRE_COMMIT_SKIP_POST_CHECKOUT"):
            return False
    if run.name in ("post-checkout", "post-commit") and _busy(repo):
        return False
    return True


def _arg(run: HookRun, index: int, pre_commit_env: str) -> str | None:
    """Hook argument ``index``; under the pre-commit framework the same value
    comes in ``PRE_COMMIT_*`` variables instead of arguments."""
    if len(run.args) > index:
        return run.args[index]
    return os.environ.get(pre_commit_env)


def _busy(repo: Repo) -> bool:
    return any((repo.git_dir / name).exists() for name in _IN_PROGRESS)



def _hook_index(repo: Repo) -> Path | None:
    """The index git handed the hook (``GIT_INDEX_FILE``; relative to the top level)."""
    value = os.environ.get("GIT_INDEX_FILE")
    if not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else repo.toplevel / path


def _in_stash_window(name: str) -> bool:
    """Inside pre-commit's stash window: the framework has set unstaged changes
    aside and runs our pre-commit hook on the staged content (it sets PRE_COMMIT=1)."""
    return name == "pre-commit" and os.environ.get("PRE_COMMIT") == "1"


def _pre_commit_window_checkpoint(repo: Repo, config: GitConfig) -> Checkpoint | None:
    """Checkpoint the worktree *with* the unstaged changes pre-commit set aside.

    pre-commit writes them as a patch ``patch<time>-<pid>`` in its store directory
    (``$PRE_COMMIT_HOME``, else ``$XDG_CACHE_HOME/pre-commit``, else
    ``~/.cache/pre-commit``) and checks the files out from the index before any
    hook runs, so the disk no longer holds the work (pre-commit #176, #1787;
    tests/hooks/test_hooks_cases.py). The patch of our parent process is applied
    to the checkpoint's worktree tree in a temporary index, against the content
    it was made from, so the user's files are never written and a hook that ran
    `git add` before ours (pre-commit #2473) cannot make it fail.

    Raises:
        RecoverError: the patch could not be applied; the checkpoint taken
            without it says so in its notes. The hook then fails, because
            pre-commit shows the output of failed hooks only.
    """
    from recovery.core.checkpoint import PatchNotApplied

    try:
        return checkpoint_or_warn(repo, "pre-commit", _stash_patch(), config=config)
    except PatchNotApplied as exc:
        raise RecoverError(f"{exc.message}; commit again once it is resolved, or skip this hook with "
                           "SKIP=recover-pre-commit") from None


def _stash_patch() -> Path | None:
    home = os.environ.get("PRE_COMMIT_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pre-commit")
    found = sorted(Path(home).glob(f"patch*-{os.getppid()}"), key=lambda p: p.stat().st_mtime)
    # pre-commit never deletes its patches, and pids are reused: a patch older
    # than our parent process belongs to another run (hostile testing).
    started = _process_start_time(os.getppid())
    if started is not None:
        found = [p for p in found if p.stat().st_mtime >= started - 1.0]
    return found[-1] if found else None


def _process_start_time(pid: int) -> float | None:
    """When process ``pid`` started, in seconds since the epoch (Linux /proc,
    proc(5): field 22 of /proc/<pid>/stat, in clock ticks after boot); ``None``
    where that cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _write_crash_log(name: str) -> Path | str:
    import traceback  # only when a hook crashed: 2 ms of every hook otherwise

    try:
        repo = Repo.discover()
        repo.state_dir.mkdir(parents=True, exist_ok=True)
        path = repo.state_dir / CRASH_LOG
        with path.open("a") as handle:
            handle.write(f"--- {name} hook, {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n")
            handle.write(traceback.format_exc())
        record_or_warn(repo, "error", stage=name, error=traceback.format_exc(limit=1).strip().splitlines()[-1])
        return path
    except Exception:  # the log is best effort: the crash message matters more
        return "stderr (the crash log could not be written):\n" + traceback.format_exc()
