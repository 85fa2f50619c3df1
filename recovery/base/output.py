"""The one place that writes what the user reads.

Every line git-recover prints for a person goes through here, so the rules hold
everywhere at once:

- Messages on stderr start with ``git-recover:`` (hooks share the terminal with
  git, whose own lines start with ``error:``/``hint:``), and go out unbuffered.
- Paths are quoted the way git quotes them (``core.quotePath``): a name with a
  control character, a double quote, a backslash or bytes that are not UTF-8 is
  printed in double quotes with C escapes (``"a\\tb"``, ``"\\377.bin"``), so one
  file name is always one unambiguous token and never moves the cursor.
- Text from the repository (commit messages, branch names, gate output shown in
  a line) has its control characters escaped: an escape sequence in a checkpoint
  message cannot rewrite the terminal.
- Colour only on a terminal, and never when ``NO_COLOR`` is set (no-color.org)
  or ``TERM=dumb``.
- Long listings are summaries: the first lines, then ``... and K more``.
- A step that runs longer than a second shows a progress line on stderr when
  stderr is a terminal, and erases it when done.

Imports only the standard library: the hooks print through it on every commit.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

TYPE_CHECKING = False  # typing's import costs every hook process 4 ms; mypy reads the name as typing's
if TYPE_CHECKING:
    from typing import TextIO

PREFIX = "git-recover: "
# How many lines of a listing are shown before "... and K more".
SUMMARY_LINES = 20
# A step shorter than this never shows a progress line (it would only flicker).
PROGRESS_AFTER_S = 1.0

_C_ESCAPES = {0x07: "\\a", 0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0B: "\\v", 0x0C: "\\f", 0x0D: "\\r",
              0x22: '\\"', 0x5C: "\\\\"}
_STYLES = {"red": "31", "green": "32", "yellow": "33", "bold": "1"}


def say(message: str) -> None:
    """One ``git-recover: <message>`` line on stderr, flushed at once."""
    _write(sys.stderr, PREFIX + clean(message) + "\n")


def warn(message: str) -> None:
    """``git-recover: warning: <message>`` on stderr: something was not done and
    the user should know, but the command goes on."""
    say("warning: " + message)


def note(message: str) -> None:
    """``git-recover: note: <message>`` on stderr: something was done differently
    from what was asked, and why."""
    say("note: " + message)


def out(line: str = "") -> None:
    """One line of a command's result on stdout (no prefix: it is the output).

    Raises:
        RecoverError: stdout cannot be written (a full disk): the command may
            have done what it was asked, so the message says where to look,
            where the bare error read as if it had failed.
    """
    try:
        _write(sys.stdout, line + "\n")
    except BrokenPipeError:
        raise  # the reader left (`| head -1`): as quiet as before
    except OSError as exc:
        from recovery.base.errors import RecoverError

        raise RecoverError(f"could not write the output ({exc.strerror or exc}); the output is incomplete, "
                           "not necessarily the command's work: `git recover status` and `git recover list` "
                           "show the state now") from None


def _write(stream: TextIO, text: str) -> None:
    # A progress line being shown is erased first and redrawn on its next tick,
    # so the two never share a terminal line.
    bar = _active
    if bar is None:
        stream.write(text)
        stream.flush()
        return
    with bar._lock:
        bar._erase_unlocked()
        stream.write(text)
        stream.flush()


def quote_path(path: str | bytes) -> str:
    """``path`` as git prints it with ``core.quotePath=false``: unchanged when it
    is plain, else in double quotes with C escapes for control characters, ``"``
    and ``\\``, and octal escapes (``\\377``) for bytes that are not UTF-8.

    Args:
        path: a path as git gives it (bytes) or as Python decoded it (``str``,
            with undecodable bytes as surrogate escapes, ``os.fsdecode``'s form).
    """
    raw = path if isinstance(path, bytes) else os.fsencode(path)
    text = raw.decode("utf-8", "surrogateescape")
    pieces: list[str] = []
    quoted = False
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte
            pieces.append(f"\\{code - 0xDC00:03o}")
            quoted = True
        elif code in _C_ESCAPES:
            pieces.append(_C_ESCAPES[code])
            quoted = True
        elif code < 0x20 or code == 0x7F:
            pieces.append(f"\\{code:03o}")
            quoted = True
        elif 0x80 <= code < 0xA0:  # C1 controls: their UTF-8 bytes, as git with quotePath=true
            pieces.extend(f"\\{byte:03o}" for byte in char.encode())
            quoted = True
        else:
            pieces.append(char)
    body = "".join(pieces)
    return f'"{body}"' if quoted else body


def unquote_c_style(text: bytes) -> str:
    """A path git printed, ``"..."``-quoted C-style or bare, back as an
    ``os.fsdecode``-style string (the inverse of git's quoting)."""
    if len(text) >= 2 and text.startswith(b'"') and text.endswith(b'"'):
        import codecs

        text = codecs.escape_decode(text[1:-1])[0]
    return os.fsdecode(text)


def clean(text: str) -> str:
    """``text`` with every control character but none of its printable ones
    escaped (``\\033`` for ESC, ``\\n`` for a newline), so that text taken from a
    repository prints as one line and cannot drive the terminal; a byte that
    is not UTF-8 (a surrogate escape) as ``\\377``, any other character Python
    calls not printable (a lone surrogate, U+202E, U+2028) as ``\\u202e``."""
    if text.isprintable():
        return text
    pieces = []
    for char in text:
        code = ord(char)
        if code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0:
            pieces.append(_C_ESCAPES.get(code, f"\\{code:03o}"))
        elif 0xDC80 <= code <= 0xDCFF:
            pieces.append(f"\\{code - 0xDC00:03o}")
        elif not char.isprintable():
            # A lone surrogate (JSON can carry one, "\\ud800"), which no UTF-8
            # stream can print, or a format or separator character: U+202E
            # reverses how the rest of the line reads on screen.
            pieces.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            pieces.append(char)
    return "".join(pieces)


def colour_enabled(stream: TextIO) -> bool:
    """Whether ``stream`` should get ANSI colour: a terminal, ``NO_COLOR`` unset
    or empty, ``TERM`` not ``dumb``."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def colour(text: str, style: str, stream: TextIO | None = None) -> str:
    """``text`` in ``style`` (``red``, ``green``, ``yellow``, ``bold``) when
    ``stream`` (default stdout) takes colour; else ``text`` unchanged."""
    if not colour_enabled(stream or sys.stdout):
        return text
    return f"\033[{_STYLES[style]}m{text}\033[0m"


def summarize(lines: Sequence[str], limit: int = SUMMARY_LINES) -> list[str]:
    """The first ``limit`` of ``lines``, then ``... and K more`` when there are
    more: a restore of 100,000 files says so in 21 lines, not 100,000."""
    if len(lines) <= limit:
        return list(lines)
    return [*lines[:limit], f"... and {len(lines) - limit} more"]


def seconds(value: float | None) -> str:
    """A duration for people, precise where it is short: ``0.042 s``, ``3.21 s``,
    ``95.0 s``; ``-`` when unknown (a run that never recovered)."""
    if value is None:
        return "-"
    if value < 1:
        return f"{value:.3f} s"
    if value < 10:
        return f"{value:.2f} s"
    return f"{value:.1f} s"


def human_age(value_s: float) -> str:
    """An age for a table column, in its largest whole unit: ``42s``, ``7m``,
    ``3h``, ``2d`` (a checkpoint's age needs no more precision to choose by)."""
    value_s = max(0.0, value_s)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if value_s >= size:
            return f"{int(value_s // size)}{unit}"
    return f"{int(value_s)}s"


class Progress:
    """A progress line on stderr for one step; see :func:`progress`."""

    def __init__(self, label: str, total: int | None, stream: TextIO) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._stream = stream
        self._started = time.monotonic()
        self._shown = False
        # threading only here: the hooks import this module on every commit.
        import threading

        self._stop = threading.Event()
        self._lock = threading.Lock()

    def advance(self, count: int = 1) -> None:
        """Count ``count`` more units of ``total`` as done."""
        self.done += count

    def _line(self) -> str:
        elapsed = time.monotonic() - self._started
        if self.total:
            share = min(1.0, self.done / self.total)
            bar = "#" * int(share * 20)
            return f"{PREFIX}{self.label} [{bar:<20}] {self.done}/{self.total} ({elapsed:.0f} s)"
        return f"{PREFIX}{self.label}... ({elapsed:.0f} s)"

    def _draw(self) -> None:
        with self._lock:
            self._stream.write("\r" + self._line() + "\033[K")
            self._stream.flush()
            self._shown = True

    def _run(self) -> None:
        if self._stop.wait(PROGRESS_AFTER_S):
            return
        while True:
            self._draw()
            if self._stop.wait(0.2):
                return

    def _erase_unlocked(self) -> None:
        if self._shown:
            self._stream.write("\r\033[K")
            self._stream.flush()
            self._shown = False


# The progress line on the terminal now, if any (see _write).
_active: Progress | None = None


@contextmanager
def progress(label: str, total: int | None = None) -> Iterator[Progress]:
    """Show ``label`` (and a bar when ``total`` is known) on stderr while the
    block runs, from its first second on, when stderr is a terminal; the line is
    erased when the block ends, so what follows prints as if it never was there.

    Args:
        label: what is happening (``restoring 4711 files``).
        total: units of work, counted with :meth:`Progress.advance`; ``None``
            shows the elapsed time only.

    Yields:
        The :class:`Progress`, to advance.
    """
    global _active
    bar = Progress(label, total, sys.stderr)
    isatty = getattr(sys.stderr, "isatty", None)
    if _active is not None or not (isatty and isatty()) or os.environ.get("TERM") == "dumb":
        yield bar  # counted, not shown: one line at a time, and only on a terminal
        return
    import threading

    thread = threading.Thread(target=bar._run, name="git-recover-progress", daemon=True)
    _active = bar
    thread.start()
    try:
        yield bar
    finally:
        bar._stop.set()
        thread.join()
        _active = None
        with bar._lock:
            bar._erase_unlocked()
