#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU, CuPy and PyTorch already installed (no internet,
# no pip install), run brickwork from this source tree on the GPU:
#   1. the environment (nvidia-smi, Python, NumPy, CuPy, PyTorch, pytest),
#   2. the GPU-specific tests (tests/test_device_suite.py, tests/test_cuda.py) on the real GPU,
#   3. the whole test suite with --device cuda (device-independent tests on the GPU, PyTorch oracle
#      on the same GPU when its build has CUDA),
#   4. the GPU benchmarks (benchmarks/gpu_run.py: ratios to PyTorch CUDA, peak memory, pinning).
# Writes to $OUT (or ./gpu-results): gpu_check.log, env.txt, junit-gpu-*.xml, gpu_results.json,
# gpu_results.md (the table for benchmarks/RESULTS.md).
#
#   bash scripts/gpu_check.sh            # all steps        (make gpu-check)
#   bash scripts/gpu_check.sh tests      # steps 1-3 only;  bench: steps 1 and 4 only
#
# Python: $PYTHON if set, else .venv/bin/python when it can import cupy, else python3. Packages the
# tests need and the machine lacks can be shipped as wheels in ./.whl (pip download on a machine with
# internet; see docs/guides/devices.md, "Testing on a GPU"): they are installed into a temporary folder, offline.
# Time limits per step (seconds): SUITE_TIMEOUT (default 330), BENCH_TIMEOUT (default 200).
# Exit codes: 0 all passed; 1 tests or benchmark failed; 2 no GPU here; 3 a required package missing.
set -uo pipefail

cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-$PWD/gpu-results}"
mkdir -p "$OUT_DIR"
LOG="$OUT_DIR/gpu_check.log"
: > "$LOG"
STEP="${1:-all}"

say() { echo "[gpu_check] $*" | tee -a "$LOG"; }
run() { "$@" 2>&1 | tee -a "$LOG"; return "${PIPESTATUS[0]}"; }

# -- 1. environment -----------------------------------------------------------------------------
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    say "no NVIDIA GPU found (nvidia-smi is missing or lists no GPU): this check needs a machine with"
    say "an NVIDIA GPU, its driver, CuPy and PyTorch. Nothing was run. (On a machine without a GPU,"
    say "'make test' runs the suite, with the GPU tests skipped and the GPU code paths simulated.)"
    exit 2
fi

if [ -n "${PYTHON:-}" ]; then
    PY="$PYTHON"
elif [ -x .venv/bin/python ] && .venv/bin/python -c "import cupy" >/dev/null 2>&1; then
    PY=.venv/bin/python
else
    PY=python3
fi

if ls .whl/*.whl >/dev/null 2>&1; then
    say "installing the shipped wheels from .whl/ into /tmp/brickwork-site (offline)"
    run "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/brickwork-site .whl/*.whl || say "WARNING: installing the shipped wheels failed"
    export PYTHONPATH="/tmp/brickwork-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
    echo "python: $PY"
    nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader
    "$PY" - <<'EOF'
import importlib, sys
print("python", sys.version.split()[0])
for name in ("numpy", "cupy", "torch", "pytest", "xdist", "hypothesis", "safetensors", "tqdm", "matplotlib", "mpi4py"):
    try:
        mod = importlib.import_module(name)
        print(name, getattr(mod, "__version__", "?"))
    except Exception as exc:  # noqa: BLE001
        print(name, "MISSING", f"({type(exc).__name__}: {exc})")
try:
    import cupy
    print("cupy devices", cupy.cuda.runtime.getDeviceCount(), "runtime", cupy.cuda.runtime.runtimeGetVersion())
except Exception as exc:  # noqa: BLE001
    print("cupy devices ERROR", exc)
try:
    import torch
    print("torch cuda", torch.cuda.is_available(), torch.version.cuda)
except Exception:  # noqa: BLE001
    pass
import brickwork as bw
print("brickwork sees", bw.cuda.device_count(), "GPU(s):", bw.cuda.get_device_name() if bw.cuda.is_available() else "-")
EOF
} 2>&1 | tee "$OUT_DIR/env.txt" | tee -a "$LOG"

missing=$("$PY" -c "
import importlib.util
need = ['numpy', 'cupy', 'pytest', 'safetensors', 'tqdm', 'hypothesis', 'torch']
print(' '.join(n for n in need if importlib.util.find_spec(n) is None))")
if [ -n "$missing" ]; then
    say "required package(s) missing for $PY: $missing"
    say "ship them as wheels in ./.whl (see docs/guides/devices.md, 'Testing on a GPU') or set PYTHON to an interpreter that has them"
    exit 3
fi
if ! "$PY" -c "import brickwork, sys; sys.exit(0 if brickwork.cuda.is_available() else 1)"; then
    say "brickwork cannot use the GPU (see env.txt: CuPy's error); stopping"
    exit 2
fi

status=0
XDIST=""
if "$PY" -c "import xdist" >/dev/null 2>&1; then
    XDIST="-n ${PYTEST_WORKERS:-8} --dist loadfile"
fi
PYTEST=("$PY" -m pytest -p no:cacheprovider -o addopts="--import-mode=importlib" -q -rfEs --device cuda)

# -- 2 and 3. tests on the GPU ----------------------------------------------------------------------
if [ "$STEP" = all ] || [ "$STEP" = tests ]; then
    say "GPU-specific tests (CPU vs GPU agreement for every op and layer, programs, bw.cuda)"
    run timeout "${SUITE_TIMEOUT:-330}" "${PYTEST[@]}" $XDIST --junitxml="$OUT_DIR/junit-gpu-device.xml" \
        tests/test_device_suite.py tests/test_cuda.py || status=1
    say "the whole suite with --device cuda"
    run timeout "${SUITE_TIMEOUT:-330}" "${PYTEST[@]}" $XDIST --junitxml="$OUT_DIR/junit-gpu-suite.xml" \
        tests --ignore=tests/test_device_suite.py --ignore=tests/test_cuda.py || status=1
fi

# -- 4. benchmarks ------------------------------------------------------------------------------------
if [ "$STEP" = all ] || [ "$STEP" = bench ]; then
    say "GPU benchmarks: brickwork vs PyTorch CUDA"
    run timeout "${BENCH_TIMEOUT:-200}" "$PY" benchmarks/gpu_run.py --pin-memory \
        --json "$OUT_DIR/gpu_results.json" --markdown "$OUT_DIR/gpu_results.md" || status=1
fi

if [ "$status" -eq 0 ]; then say "done: everything passed; results in $OUT_DIR"; else say "done WITH FAILURES; see $LOG"; fi
exit "$status"
