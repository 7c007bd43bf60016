#!/usr/bin/env bash
# Create .venv and install eventsnn with a pinned, CPU-only dependency set.
# Usage: bash scripts/setup.sh [--dev]     (--dev adds pytest, ruff, nbclient, nir, neurobench)
# Works on a fresh machine with Python 3.11; safe to run again (it only adds what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
"${PIP[@]}" -r requirements.txt
# tonic and spikingjelly without their dependency pins (see docs/cli.md, "Installation notes")
"${PIP[@]}" --no-deps tonic==1.7.0 spikingjelly==2.0.0
"${PIP[@]}" --no-deps -e .
if [ "${1:-}" = "--dev" ]; then
  # requirements-dev.txt: what follows its "# --no-deps:" line goes in without dependencies
  "${PIP[@]}" -r <(sed '/^# --no-deps:/,$d' requirements-dev.txt)
  "${PIP[@]}" --no-deps -r <(sed -n '/^# --no-deps:/,$p' requirements-dev.txt)
fi
.venv/bin/python -c "import eventsnn, tonic, spikingjelly.activation_based; print('eventsnn', eventsnn.__version__, 'ready in .venv')"
