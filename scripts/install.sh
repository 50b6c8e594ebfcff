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
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-liberation >/dev/null
fi
if ! command -v diamond >/dev/null 2>&1; then  # DIAMOND: the homology search (locviz/homology.py)
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq diamond-aligner >/dev/null
fi
PY=${PYTHON:-python3}
if [ -z "${LOCVIZ_KEEP_TORCH:-}" ]; then
  "$PY" -m pip install -q torch==2.13.0
fi
"$PY" -m pip install -q -e ".[test]"
echo "locviz installed: $("$PY" -c 'import locviz, torch; print(locviz.__version__, "torch", torch.__version__)')"
