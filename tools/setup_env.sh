#!/usr/bin/env bash
# Creates ./.venv with everything mmsolo needs on a CPU machine (Python 3.11):
# torch 2.13.0, mmcv 2.1.0 built with its ops, mmengine, mmdet, mmsolo.
# Re-running it reuses what is installed; it ends by touching $VENV/.mmsolo-installed
# (the Makefile's stamp).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
STAMP="$VENV/.mmsolo-installed"
PY=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
$PIP install --upgrade "pip>=23"
# torch 2.13.0 as the package index serves it (pin the CPU wheel first, e.g.
# from download.pytorch.org/whl/cpu, to avoid a CUDA build where the index
# has one).
$PIP install "torch==2.13.0"
$PIP install -r requirements/build.txt
# mmcv 2.1.0 has no wheel for torch 2.13: build it with its C++ ops (6-15 min on 2 cores,
# pip caches the built wheel so later environments take seconds).
if ! "$VENV/bin/python" -c "import mmcv.ops" 2>/dev/null; then
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} $PIP install --no-build-isolation "mmcv==2.1.0"
fi
$PIP install "mmengine==0.10.7" "mmdet==3.3.0" -r requirements/runtime.txt -r requirements/tests.txt
# ONNX export and the ONNX Runtime / OpenVINO backends (tests/test_deploy).
$PIP install -r requirements/deploy.txt
$PIP install -r requirements/docs.txt  # `make docs` (Sphinx, MyST)
$PIP install --no-build-isolation --no-deps -e .
"$VENV/bin/python" -c "import mmsolo, mmcv.ops; print('mmsolo', mmsolo.__version__, 'ready')"
touch "$STAMP"
