"""The one place that runs git.

Every git process git-recover starts goes through :meth:`Git.run` (or the
long-lived reader :meth:`Git.object_reader`), which starts git with
:mod:`subprocess` directly so that git itself does the work: clean/smudge
filters, ``core.fsmonitor``, sparse checkouts and the stat cache behave exactly
as in the user's own git.

Why plain :mod:`subprocess`: a checkpoint runs on every commit and before every
agent tool call, so the runner's own cost counts. GitPython's runner cost 50-90 ms
of import plus two ``git version`` runs per process and a temporary file for
every call's stdin (docs/design.md, "The git runner"); here stdin is fed from
memory and nothing but :mod:`subprocess` is imported (and :mod:`threading`,
which :mod:`subprocess` imports itself).

Every call runs with ``LC_ALL=C`` and ``LANGUAGE=C``: callers match git's
English messages (``unmerged``, ``would be overwritten``), which a translated
git would not print.

Internal calls are made hook-free and non-recursive: ``core.hooksPath``
points at ``/dev/null`` (so not even ``reference-transaction`` fires on our
``update-ref``), and ``GIT_RECOVER_INTERNAL=1`` tells our own hook scripts to
exit at once should anything still reach them. ``GIT_OPTIONAL_LOCKS=0`` keeps
read-only commands from refreshing the user's real index behind their back
(git-status(1), "BACKGROUND REFRESH"). ``GIT_NO_REPLACE_OBJECTS=1``: an object
id in a checkpoint means exactly its own bytes. With a ``refs/replace/`` entry
for a tree, git read the replacement wherever that tree appeared: a restore
found the object store "damaged" and refused, and a replacement tree that
contains the tree it replaces made git recurse until it crashed (git-replace(1)).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping

from recovery.base.errors import RecoverError

TYPE_CHECKING = False  # pathlib's import costs the agent hook 5 ms; mypy reads the name as typing's
if TYPE_CHECKING:
    from pathlib import Path

INTERNAL_ENV = "GIT_RECOVER_INTERNAL"

# Applied to every internal git call; see the module docstring for the why.
_BASE_ENV = {
    INTERNAL_ENV: "1",
    "GIT_OPTIONAL_LOCKS": "0",
    "GIT_NO_REPLACE_OBJECTS": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_EDITOR": ":",
}
# core.fsync=committed: objects and refs reach the disk before a ref naming them
# is published (git's default leaves refs unsynced); the batch method syncs the
# loose objects of one command with a single flush (git-config(1), core.fsyncMethod).
# core.checkStat=default and core.trustctime=true: a capture must see every
# change the stat data can show. With the user's `checkStat=minimal` or
# `trustctime=false`, a same-size edit that put the mtime back looked clean,
# and a restore's safety checkpoint held the old bytes (hostile testing).
_BASE_ARGS = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsync=committed",
              "-c", "core.fsyncMethod=batch", "-c", "core.checkStat=default", "-c", "core.trustctime=true")
# The git commands that change the worktree, an index, HEAD or refs: a restore
# killed alone must not leave one of them running (Git.dying_with_parent).
_CHANGES_STATE = frozenset({"read-tree", "checkout-index", "update-index", "update-ref", "symbolic-ref",
                            "checkout", "reset"})
# prctl(2) option: the signal the kernel sends a child when its parent dies.
_PR_SET_PDEATHSIG = 1
# Forced last, over the caller's environment: see the module docstring.
_LOCALE_ENV = {"LC_ALL": "C", "LANGUAGE": "C"}


class Result:
    """What a finished git process left: exit status, raw stdout, decoded stderr.

    A plain class, not a dataclass: this module is on the agent hook's path,
    where ``dataclasses`` (and the ``inspect`` it imports) cost 20 ms of a
    90 ms process (benchmarks/bench_core.py).
    """

    __slots__ = ("returncode", "stdout", "stderr")

    def __init__(self, returncode: int, stdout: bytes, stderr: str) -> None:
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    @property
    def text(self) -> str:
        """stdout decoded as UTF-8 (surrogate-escaped), trailing newline removed."""
        return self.stdout.decode("utf-8", "surrogateescape").rstrip("\n")


class GitCommandError(RecoverError):
    """A git command exited non-zero (or was killed by a signal).

    Attributes:
        argv: the git arguments, without the internal ``-c`` prefix.
        returncode: git's exit status; negative when killed by that signal number.
        stderr: git's full stderr, decoded.
    """

    def __init__(self, argv: tuple[str, ...], returncode: int, stderr: str) -> None:
        lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
        # The first "error:" line names the cause (`error: open("x"): Permission
        # denied`); the final "fatal:" line only says that the command failed.
        # Without one, the "fatal:" line does, not the advice after it (a stale
        # lock: "Unable to create '.../undo.lock': File exists.", then a
        # paragraph ending "remove the file manually to continue.").
        errors = [line for line in lines if line.startswith("error:")] or [
            line for line in lines if line.startswith("fatal:")]
        reason = (errors or lines or ["no message"])[0 if errors else -1]
        if returncode < 0:
            try:
                reason = f"killed by {signal.Signals(-returncode).name}"
            except ValueError:
                reason = f"killed by signal {-returncode}"
        name = " ".join(argv[:1])
        super().__init__(f"git {name} failed (exit {returncode}): {reason}")
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr


class Git:
    """Runs git with a fixed environment (repository, index file, hook guard).

    Args:
        cwd: directory git runs in (the worktree's top level).
        env: variables layered over ``os.environ`` for every call, e.g. ``GIT_DIR``,
            ``GIT_WORK_TREE`` and ``GIT_INDEX_FILE``.
        preexec_fn: called in a git child between fork and exec (e.g. to set
            a parent-death signal so git dies with us); ``None`` lets
            :mod:`subprocess` use its faster ``vfork`` path.
        preexec_for: the git commands ``preexec_fn`` is called for (``None``:
            every one); the others start through ``vfork``.
        process_group: put every git child in this process group (``0``: a new
            group of its own), as :class:`subprocess.Popen`'s argument of that name.
        config: ``-c key=value`` arguments given to every call, after the internal ones.
    """

    def __init__(
        self,
        cwd: str | os.PathLike[str],
        env: Mapping[str, str] | None = None,
        preexec_fn: Callable[[], None] | None = None,
        process_group: int | None = None,
        config: tuple[str, ...] = (),
        preexec_for: frozenset[str] | None = None,
    ) -> None:
        self.cwd = cwd
        self.env: dict[str, str] = {**_BASE_ENV, **(env or {})}
        self.preexec_fn = preexec_fn
        self.process_group = process_group
        self.config = config
        self.preexec_for = preexec_for

    def with_env(self, **env: str) -> Git:
        """A runner for the same repository with extra variables (e.g. a temporary
        ``GIT_INDEX_FILE``); the child set-up is kept."""
        return Git(self.cwd, {**self.env, **env}, self.preexec_fn, self.process_group, self.config, self.preexec_for)

    def with_config(self, key: str, value: str) -> Git:
        """A runner whose calls override git config ``key`` with ``value``
        (``git -c key=value``); everything else is kept."""
        return Git(self.cwd, self.env, self.preexec_fn, self.process_group, (*self.config, "-c", f"{key}={value}"),
                   self.preexec_for)

    def dying_with_parent(self) -> Git:
        """A runner whose git children that change the worktree, an index or
        refs (:data:`_CHANGES_STATE`) are killed when this process dies
        (:func:`_parent_death_setup`); the environment is kept.

        Only those: the setting costs a child a ``fork`` instead of ``vfork``,
        which copies the page tables of this process, 3-8 ms a child for a
        restore at 80k files (29 children: about 100 ms). A child that only
        reads, or writes objects and private files, changes nothing the user
        sees if it outlives a killed restore.
        """
        return Git(self.cwd, self.env, _parent_death_setup(), self.process_group, self.config, _CHANGES_STATE)

    def with_index(self, index_file: Path) -> Git:
        """A runner whose commands read and write ``index_file`` instead of the real index."""
        return self.with_env(GIT_INDEX_FILE=str(index_file))

    def full_env(self) -> dict[str, str]:
        """The whole environment a git child gets: ``os.environ`` as it is now,
        this runner's variables, then the C locale."""
        return {**os.environ, **self.env, **_LOCALE_ENV}

    def run(self, *args: str, input: bytes | None = None, check: bool = True) -> Result:
        """Run ``git <args>`` and wait for it.

        Args:
            args: git arguments, e.g. ``("write-tree",)``.
            input: bytes fed to git's stdin from memory (``None``: stdin is empty).
            check: raise :class:`GitCommandError` on a non-zero exit.

        Returns:
            The :class:`Result`; ``returncode`` is checked only when ``check`` is true.

        Raises:
            GitCommandError: git exited non-zero or died of a signal and ``check`` is true.
            RecoverError: the git executable could not be started.
        """
        return self._spawn(args, input).wait(check)

    def start(self, *args: str, input: bytes | None = None) -> Running:
        """Start ``git <args>`` without waiting, so that two git processes that do
        not depend on each other overlap (a capture lists untracked files while
        it refreshes the index); :meth:`Running.wait` collects it. ``input`` is
        written at once, from a thread: git works on it while the caller goes on.

        Raises:
            RecoverError: the git executable could not be started.
        """
        running = self._spawn(args, input)
        if input:
            running.feed()
        return running

    def _spawn(self, args: tuple[str, ...], input: bytes | None) -> Running:
        """Start ``git <args>``; its stdin is a pipe when there is ``input``, else empty.

        Raises:
            RecoverError: the git executable could not be started.
        """
        try:
            proc = subprocess.Popen(
                ["git", *_BASE_ARGS, *self.config, *args], cwd=self.cwd, env=self.full_env(),
                stdin=subprocess.PIPE if input else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                preexec_fn=self._preexec(args), process_group=self.process_group,
            )
        except OSError as exc:
            raise RecoverError(f"cannot run git: {exc}") from None
        return Running(args, proc, input)

    def _preexec(self, args: tuple[str, ...]) -> Callable[[], None] | None:
        """The ``preexec_fn`` of the child ``git <args>``: see ``preexec_for``."""
        if self.preexec_for is None or _subcommand(args) in self.preexec_for:
            return self.preexec_fn
        return None

    def object_reader(self) -> ObjectReader:
        """A long-lived ``git cat-file --batch-command`` for reading many objects."""
        return ObjectReader(self)

    def text(self, *args: str, input: bytes | None = None) -> str:
        """Run git (checked) and return its stdout as text without the trailing newline."""
        return self.run(*args, input=input).text


def _subcommand(args: tuple[str, ...]) -> str:
    """The git command in ``args`` (``clean`` in ``-c core.quotePath=false clean -n``)."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in ("-c", "-C") else 1
    return args[i] if i < len(args) else ""


def _parent_death_setup() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes a git child receive SIGKILL when this process
    dies, or ``None`` where prctl(2) does not exist (not Linux).

    A git-recover killed with SIGKILL alone (not its process group) otherwise
    leaves its ``git read-tree`` running, still writing files, and the first
    ``restore --continue`` fails (hostile testing: 12 of 126 mid-switch kills).
    The setting survives ``exec`` (prctl(2), ``PR_SET_PDEATHSIG``). libc is
    loaded here, in the parent, so the child does no more than one system call.
    """
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def die_with_parent() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the setting took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return die_with_parent


class Running:
    """A git process started by :meth:`Git.start`, not yet waited for."""

    def __init__(self, args: tuple[str, ...], proc: subprocess.Popen[bytes], input: bytes | None) -> None:
        self.args = args
        self._proc = proc
        self._input = input or None
        self._feeder: threading.Thread | None = None
        self._result: Result | None = None

    def feed(self) -> None:
        """Write the input from a thread of its own, starting now, instead of
        in :meth:`wait`; git closing its stdin early is not an error here (its
        exit status says what happened)."""
        stdin, data = self._proc.stdin, self._input
        if stdin is None or data is None:
            return
        self._proc.stdin = None  # the thread's alone: communicate() must not write or close it
        self._input = None

        def write() -> None:
            try:
                with stdin:
                    stdin.write(data)
            except BrokenPipeError:
                pass

        self._feeder = threading.Thread(target=write, daemon=True)
        self._feeder.start()

    def wait(self, check: bool = True) -> Result:
        """Feed the input, collect the output and wait for git to exit; a second
        call returns the same result.

        Raises:
            GitCommandError: git exited non-zero or died of a signal and ``check`` is true.
        """
        if self._result is None:
            with self._proc as proc:
                try:
                    out, err = proc.communicate(self._input)
                except BaseException:
                    proc.kill()  # never leave a git child behind (KeyboardInterrupt mid-call)
                    raise
                finally:
                    if self._feeder is not None:
                        self._feeder.join()  # done writing, or broken off: git has exited
            # surrogateescape: git names paths raw in its messages, and a path
            # parsed from them must name the same bytes on disk (os.fsencode).
            self._result = Result(proc.returncode, out, err.decode("utf-8", "surrogateescape"))
        result = self._result
        if check and result.returncode != 0:
            raise GitCommandError(self.args, result.returncode, result.stderr)
        return result


# Ids asked of an ObjectReader at a time: git answers only once it has read a
# whole batch, and we read only after writing it, so a batch must fit a pipe's
# buffer (64 KiB) with room to spare: 256 ids of 41-65 bytes.
BATCH = 256


class ObjectReader:
    """One long-lived ``git cat-file --batch-command --buffer``: many objects,
    one process, each object's content streamed in chunks (a 2 GB blob never
    sits in memory).

    Protocol (git-cat-file(1)): ``contents <id>`` lines, then ``flush``; per id
    ``<id> <type> <size>`` LF, the content, LF; or ``<id> missing`` LF. With
    ``--buffer`` git writes the answers in large blocks only at ``flush``, and
    they are read here in large blocks too: per object, a few microseconds
    instead of two system calls each way. git reports an object it cannot
    inflate as missing and names it on stderr, which goes to a temporary file (a
    pipe nobody reads could fill and stall git).

    Use as a context manager (from :meth:`Git.object_reader`); the process is
    waited for on exit.
    """

    _READ = 1 << 20

    def __init__(self, git: Git) -> None:
        import tempfile

        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            ["git", *_BASE_ARGS, *git.config, "cat-file", "--batch-command", "--buffer"],
            cwd=git.cwd, env=git.full_env(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, bufsize=0,
            preexec_fn=git._preexec(("cat-file",)), process_group=git.process_group,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in = self._proc.stdin
        self._fd = self._proc.stdout.fileno()
        self._buf = b""  # read ahead; self._pos is where the unread part starts
        self._pos = 0

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ask(self, oids: list[str]) -> None:
        """Queue ``oids`` and flush; read each answer with :meth:`header` then
        :meth:`chunks`. Keep a batch small (a few hundred ids): git answers
        only once it has read them all, and we read only after writing them all.

        Raises:
            BrokenPipeError: git has exited.
        """
        self._in.write("".join(f"contents {oid}\n" for oid in oids).encode() + b"flush\n")

    def _fill(self) -> bool:
        """Read another block after the unread part; ``False`` at end of output."""
        data = os.read(self._fd, self._READ)
        self._buf = self._buf[self._pos:] + data
        self._pos = 0
        return bool(data)

    def header(self) -> tuple[str, str | None, int]:
        """The next answer's ``(id, type, size)``; type ``None`` when git says
        missing (or could not read it).

        Raises:
            EOFError: git exited before answering.
        """
        while (cut := self._buf.find(b"\n", self._pos)) < 0:
            if not self._fill():
                raise EOFError("git cat-file exited")
        parts = self._buf[self._pos:cut].decode("ascii", "replace").split()
        self._pos = cut + 1
        if len(parts) == 3:
            return parts[0], parts[1], int(parts[2])
        return parts[0] if parts else "", None, 0

    def chunks(self, size: int) -> Iterator[bytes]:
        """The content announced by :meth:`header`, at most 1 MiB at a time;
        consume it all before the next header.

        Raises:
            EOFError: git exited mid-object.
        """
        left = size + 1  # and the LF after it
        while left:
            if self._pos == len(self._buf) and not self._fill():
                raise EOFError("git cat-file exited mid-object")
            take = min(left, len(self._buf) - self._pos)
            piece = self._buf[self._pos:self._pos + take]
            self._pos += take
            left -= take
            if not left:
                if not piece.endswith(b"\n"):
                    raise EOFError("git cat-file exited mid-object")
                piece = piece[:-1]
            if piece:
                yield piece

    def contents(self, oids: list[str]) -> Iterator[tuple[str, str | None, bytes]]:
        """``(id, type, whole content)`` for each of ``oids`` in order, asked in
        batches of :data:`BATCH`; type ``None`` and no content for a missing
        object. For objects that fit in memory (commits, trees, the blobs a
        scanner reads whole); stream large ones with :meth:`header` and :meth:`chunks`.

        Raises:
            EOFError, BrokenPipeError: git exited (a damaged object it cannot read past).
        """
        for start in range(0, len(oids), BATCH):
            batch = oids[start:start + BATCH]
            self.ask(batch)
            for oid in batch:
                _, kind, size = self.header()
                yield oid, kind, b"".join(self.chunks(size)) if kind is not None else b""

    def errors(self) -> str:
        """What git said on stderr so far."""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def close(self) -> None:
        """End git's input and wait for it to exit."""
        try:
            self._in.close()
        except BrokenPipeError:
            pass
        assert self._proc.stdout is not None
        self._proc.stdout.close()
        self._proc.wait()
        self._stderr.close()


def user_env() -> dict[str, str]:
    """A copy of the environment for running *user* programs (gates, wrapped git
    commands): our internal-call marker removed so their own git calls behave
    normally."""
    env = dict(os.environ)
    env.pop(INTERNAL_ENV, None)
    return env
