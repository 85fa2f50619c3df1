#!/usr/bin/env bash
# Installs git-recover from this checkout into ./.venv and links the `git-recover`
# command (which makes `git recover` work) and its man page onto PATH/MANPATH.
#   ./install.sh          the tool
#   ./install.sh --dev    the tool plus the test dependencies (pytest, hypothesis, pre-commit, ...)
# BINDIR and MANDIR override where the links go.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
target="$here"
case "${1:-}" in
  # editable, so the tests exercise the checkout they run from
  --dev) target="-e $here[test]" ;;
  "") ;;
  *) echo "usage: ./install.sh [--dev]" >&2; exit 3 ;;
esac

python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "install.sh: git-recover needs Python 3.11 or newer ($python is older)" >&2; exit 1; }
command -v git >/dev/null || { echo "install.sh: git is not installed" >&2; exit 1; }

# The fsmonitor tests and benchmark run git's own watchman hook against a real
# watchman (Debian's package): installed where this user may, else they skip
# and say so.
if [ "${1:-}" = --dev ] && ! command -v watchman >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq watchman; } >/dev/null \
      || echo "install.sh: could not install watchman; the fsmonitor tests will skip" >&2
  else
    echo "note: watchman is not installed; the fsmonitor tests will skip" >&2
  fi
fi

[ -x "$here/.venv/bin/python" ] || "$python" -m venv "$here/.venv"
# shellcheck disable=SC2086 # $target is "-e DIR[test]" or "DIR", split on purpose
"$here/.venv/bin/python" -m pip install --quiet --disable-pip-version-check $target
# pip compiles an installed copy's bytecode, not an editable checkout's: without
# it, where PYTHONDONTWRITEBYTECODE is set, every hook and command would compile
# each module again at every start (about 45 ms a process on a 2-core machine).
[ "$target" = "$here" ] || "$here/.venv/bin/python" -m compileall -q "$here/recovery" >/dev/null

if [ "$(id -u)" = 0 ]; then prefix=/usr/local; else prefix="$HOME/.local"; fi
bindir=${BINDIR:-$prefix/bin}
mandir=${MANDIR:-$prefix/share/man/man1}
mkdir -p "$bindir" "$mandir"
ln -sf "$here/.venv/bin/git-recover" "$bindir/git-recover"
ln -sf "$here/docs/git-recover.1" "$mandir/git-recover.1"
echo "installed: $bindir/git-recover -> $here/.venv/bin/git-recover"
case ":$PATH:" in
  *":$bindir:"*) ;;
  *) echo "note: $bindir is not on your PATH; add it so that 'git recover' finds git-recover" >&2 ;;
esac
