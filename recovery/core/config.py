"""Per-user settings from git config (``recover.*``).

All ``recover.*`` keys are read with a single ``git config --get-regexp`` call and
cached on the object, so the hook's hot path pays for one git process. Values use
git's own syntax: integers accept ``k``/``m``/``g`` suffixes and booleans the
words git-config(1) documents ("Values" under CONFIGURATION FILE).
"""

from __future__ import annotations


from recovery.base.errors import UsageError
from recovery.core.git import Git

_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_TRUE = {"true", "yes", "on", "1", ""}
_FALSE = {"false", "no", "off", "0"}


_KEYS = (r"^(recover\.|status\.showuntrackedfiles$"
         r"|core\.(sparsecheckout|sparsecheckoutcone|autocrlf|eol|attributesfile|fsmonitor)$"
         r"|filter\.)")


class GitConfig:
    """The ``recover.*`` section of the effective git config, plus the git
    settings capture and restore depend on (``status.showUntrackedFiles``,
    ``core.fsmonitor``...), keys lower-cased.

    A plain class, not a dataclass: every hook reads its config
    (:mod:`recovery.core.model` says what ``dataclasses`` costs there).

    Args:
        values: key (``recover.maxuntrackedsize``) to its last value; none by default.
    """

    __slots__ = ("values",)

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values: dict[str, str] = values if values is not None else {}

    @classmethod
    def load(cls, git: Git) -> GitConfig:
        """Read every ``recover.*`` key and the git settings a capture or restore
        depends on (``status.showUntrackedFiles``, the sparse-checkout switches,
        end-of-line conversion, ``filter.*`` drivers, ``core.fsmonitor``) in
        one git process (exit 1 from git just means "none set")."""
        result = git.run("config", "-z", "--get-regexp", _KEYS, check=False)
        values: dict[str, str] = {}
        for item in result.stdout.split(b"\0"):
            if not item:
                continue
            key, _, value = item.decode("utf-8", "surrogateescape").partition("\n")
            values[key.lower()] = value
        return cls(values)

    def get(self, key: str) -> str | None:
        """The raw value of ``key`` (case-insensitive), or ``None`` when unset."""
        return self.values.get(key.lower())

    def get_int(self, key: str, default: int, minimum: int | None = None) -> int:
        """An integer with git's optional ``k``/``m``/``g`` suffix (powers of 1024),
        at least ``minimum`` when given: a value the command line would refuse
        must not pass in git config (``recover.gc.keep=0`` made ``gc`` drop all
        but the newest checkpoint, hostile testing).

        Raises:
            UsageError: the value is not an integer, or below ``minimum``.
        """
        raw = self.get(key)
        if raw is None:
            return default
        text = raw.strip().lower()
        unit = text[-1:] if text[-1:] in _UNITS else ""
        number = text[: len(text) - len(unit)]
        try:
            value = int(number) * _UNITS[unit]
        except ValueError:
            raise UsageError(f"bad integer in git config {key}={raw!r}") from None
        if minimum is not None and value < minimum:
            raise UsageError(f"git config {key}={raw!r}: at least {minimum}")
        return value

    def get_bool(self, key: str, default: bool) -> bool:
        """A boolean in git's spelling (true/yes/on/1, false/no/off/0).

        Raises:
            UsageError: the value is not a boolean.
        """
        raw = self.get(key)
        if raw is None:
            return default
        text = raw.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise UsageError(f"bad boolean in git config {key}={raw!r}")
