#!/usr/bin/env bash
# Install locviz and everything it needs on a fresh Debian machine (run from anywhere, as root or with sudo).
#   - Debian's Chromium + fonts: static figure export (kaleido) and the browser test drive it;
#   - Debian's diamond-aligner: the homology search against the reference set (locviz predict --neighbours);
#   - torch==2.13.0 first: a plain "torch" requirement would pull gigabytes of CUDA wheels;
#     on a GPU machine with CUDA-enabled torch already installed, set LOCVIZ_KEEP_TORCH=1;
#   - then the project itself (editable, so weights/ next to the package are found) with test tools.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=""
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing="$missing chromium fonts-liberation"
command -v diamond >/dev/null 2>&1 || missing="$missing diamond-aligner"  # the homology search (locviz/homology.py)
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
PY=${PYTHON:-python3}
if [ -z "${LOCVIZ_KEEP_TORCH:-}" ]; then
  "$PY" -m pip install -q torch==2.13.0
fi
"$PY" -m pip install -q -e ".[test]"
echo "locviz installed: $("$PY" -c 'import locviz, torch; print(locviz.__version__, "torch", torch.__version__)')"
