#!/usr/bin/env bash
# Creates the Python venv ($VENV_DIR) and installs model/requirements.txt.
# Idempotent: reinstalls only when the requirements file changed (its sha256 is
# kept inside the venv).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

req="$REPO_ROOT/model/requirements.txt"
stamp="$VENV_DIR/.requirements.sha256"

if [ ! -x "$VENV_DIR/bin/python" ]; then
  echo "setup-python: creating venv at $VENV_DIR"
  mkdir -p "$(dirname "$VENV_DIR")"
  python3 -m venv "$VENV_DIR"
fi

want="$(sha256sum "$req" | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
  echo "setup-python: installing $req"
  "$VENV_DIR/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
  echo "$want" >"$stamp"
fi
