# Shared by scripts/demo and scripts/test: make .venv with Python 3.11+ and install into it.
# Usage: . scripts/_venv.sh; ensure_venv [pip requirement spec]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${KIZUNA_VENV:-$ROOT/.venv}"

ensure_venv() {
  local python="${PYTHON:-python3}"
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Kizuna needs Python 3.11 or newer ($python is $("$python" --version 2>&1))." >&2
    exit 1
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    "$python" -m venv "$VENV"
  fi
  # -qq: errors only (a machine's pip configuration may warn about every package).
  "$VENV/bin/python" -m pip install -qq --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install -qq --disable-pip-version-check -e "$ROOT$1"
}
