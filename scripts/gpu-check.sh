#!/usr/bin/env bash
# Every eventsnn check that needs a CUDA GPU, in one run of under 5 minutes on one GPU:
#   the CUDA tests (pytest -k cuda; none may skip), MT-LIF and STC on CUDA against the CPU
#   references, one training step and a short training run with --device cuda --amp against the
#   CPU, DDP over NCCL, and throughput figures (training, inference, MT-LIF vs SpikingJelly, STC).
#   See scripts/gpu_check.py for each check.
#
# Usage: bash scripts/gpu-check.sh [OUT_DIR] [gpu_check.py options, e.g. --checks cuda_tests]
#   OUT_DIR (default gpu-check/) receives gpu_check.json, gpu_check.md and logs/.
# Exit status: 0 every check ran and passed; 1 a check failed or could not run; 2 nothing ran
#   (no CUDA device, or torch / eventsnn's dependencies missing).
#
# Fresh machine: needs Python >= 3.11 with torch (CUDA build) and numba; PYTHON picks the
#   interpreter (default: .venv/bin/python when present, else python3). Packages missing there
#   (tonic, spikingjelly and what they import: aedat, loguru, importRosbag, expelliarmus) are
#   installed from the wheels in $EVENTSNN_WHEELS (default .whl/), fetched beforehand with e.g.
#     python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --platform manylinux2014_x86_64 -d .whl tonic==1.7.0 spikingjelly==2.0.0 aedat loguru \
#       importRosbag==1.0.4 expelliarmus==1.1.12
#   (a pure-Python package with no wheel for that platform: add `--platform any`).
#   The recordings are read from $EVENTSNN_DATA (default ../shared/data); without N-MNIST there
#   the STC CUDA tests cannot run and the script exits 1 after the other checks.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-gpu-check}
shift $(( $# > 0 ? 1 : 0 ))
if [ -n "${PYTHON:-}" ]; then PY=$PYTHON
elif [ -x .venv/bin/python ]; then PY=.venv/bin/python
else PY=$(command -v python3 || true)
fi
if [ -z "$PY" ]; then
  echo "gpu-check: no Python found (set PYTHON); nothing was checked" >&2
  exit 2
fi
"$PY" scripts/gpu_check.py probe --out "$OUT" || exit 2

need='import tonic, spikingjelly.activation_based, numba, h5py, matplotlib, tqdm'
if ! "$PY" -c "$need" 2>/dev/null; then
  wheels=${EVENTSNN_WHEELS:-.whl}
  if compgen -G "$wheels/*.whl" >/dev/null; then
    site=$(mktemp -d)
    echo "gpu-check: installing the wheels in $wheels into $site"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" "$wheels"/*.whl \
      || { echo "gpu-check: installing the wheels in $wheels failed; nothing was checked" >&2; exit 2; }
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
  fi
  if ! err=$("$PY" -c "$need" 2>&1); then
    echo "gpu-check: eventsnn's dependencies are missing ($(tail -n 1 <<<"$err")); put their wheels" \
         "in ${EVENTSNN_WHEELS:-.whl}/ (see the head of scripts/gpu-check.sh); nothing was checked" >&2
    exit 2
  fi
fi
exec "$PY" scripts/gpu_check.py run --out "$OUT" "$@"
