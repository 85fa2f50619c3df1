"""Reading a file once, safely: size limit before reading, no blocking on FIFOs
or devices, and a verdict (text, or why not) instead of an exception."""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass

# Problems, in the words of the finding codes they become.
UNREADABLE = "unreadable-target"
CORRUPTED = "corrupted-target"
EMPTY = "empty-target"
TOO_LARGE = "too-large"


@dataclass(frozen=True)
class Content:
    """What reading one file gave.

    Attributes:
        text: the decoded text (newlines normalised to ``\\n``, BOM removed), or
            ``None`` when it cannot be used.
        problem: ``None``, or one of the finding codes above.
        detail: a few words for the message ("permission denied", "byte 0xff on
            line 3 is not valid UTF-8").
        size_bytes: the file's size.
    """

    text: str | None
    problem: str | None = None
    detail: str = ""
    size_bytes: int = 0


def os_reason(exc: OSError) -> str:
    """A few words for an OS error (``symlink loop``, ``permission denied``)."""
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return (exc.strerror or type(exc).__name__).lower()


def read_content(path: str, max_bytes: int, decode: bool = True,
                 lenient: bool = False) -> Content:
    """Read ``path`` (already known to exist) and judge it.

    Args:
        max_bytes: larger files are not read (``too-large``).
        decode: ``False`` only opens the file to prove it is readable (framework
            profile, non-Markdown targets).
        lenient: decode as the Claude Code client does (see :func:`judge`).
    """
    try:
        # O_NONBLOCK: a FIFO that slipped past the caller's stat cannot hang us.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        return Content(None, UNREADABLE, os_reason(exc))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return Content(None, UNREADABLE, "not a regular file")
        size = st.st_size
        if not decode:
            return Content("", None, "", size)
        if size > max_bytes:
            return Content(None, TOO_LARGE, f"{size / 1048576:.1f} MB", size)
        chunks = []
        remaining = max_bytes + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        return Content(None, UNREADABLE, os_reason(exc))
    finally:
        os.close(fd)
    return judge(data, lenient)


def judge(data: bytes, lenient: bool = False) -> Content:
    """Decide whether ``data`` is usable text. ``lenient``: as the Claude Code client,
    which decodes invalid UTF-8 with replacement characters and keeps NUL bytes, so
    such a file still loads: the verdict is ``corrupted-target`` *with* the text."""
    size = len(data)
    if not data.strip():
        return Content(None, EMPTY, "empty" if not data else "only whitespace", size)
    problem: str | None = None
    detail = ""
    nul = data.find(b"\0")
    if nul != -1:
        line = data.count(b"\n", 0, nul) + 1
        problem, detail = CORRUPTED, f"binary (NUL byte on line {line})"
        if not lenient:
            return Content(None, problem, detail, size)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problem = CORRUPTED
        detail = f"not valid UTF-8 (byte 0x{data[exc.start]:02x} on line {line})"
        if not lenient:
            return Content(None, problem, detail, size)
        text = data.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return Content(text, problem, detail, size)
