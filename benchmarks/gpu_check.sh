#!/usr/bin/env bash
# GPU check for a machine with CUDA and no internet: the test suite on cuda, then ViT-B/16 throughput
# (vitdemo vs transformers eager, fp32/bf16/fp16, batch 1/32/128, with attention maps), into one file.
#
#   benchmarks/gpu_check.sh [--out gpu_results.md] [--wheels DIR]
#   benchmarks/gpu_check.sh --device cpu --quick --tests tests/test_model.py   # checks this script, no GPU
#
# Nothing is downloaded. It expects torch with CUDA and requirements-dev.txt already installed, or a folder
# of wheels (--wheels DIR, e.g. made elsewhere with `pip download -r requirements-dev.txt -d DIR`) to install
# from with `pip --no-index`. The hub is off (HF_HUB_OFFLINE=1): tests and benchmark use local weights only.
# Time limits keep the whole run under 10 minutes: tests 300 s, benchmark 270 s (families, explorer, faithfulness,
# torchrun training, then throughput: see benchmarks/gpu_bench.py).
set -uo pipefail
cd "$(dirname "$0")/.."

OUT=gpu_results.md
WHEELS=""
DEVICE=cuda
QUICK=""
TESTS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --wheels) WHEELS="$2"; shift 2 ;;
    --device) DEVICE="$2"; shift 2 ;;
    --quick) QUICK=--quick; shift ;;
    --tests) TESTS="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False PIP_NO_INDEX=1 \
       PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 VITDEMO_DEVICE="$DEVICE"
START=$SECONDS
rm -f "$OUT"

if [ -n "$WHEELS" ]; then
  echo "== installing from $WHEELS (no index)"
  python -m pip install -q --no-index --find-links "$WHEELS" -r requirements-dev.txt || exit 1
fi

if [[ "$DEVICE" == cuda* ]]; then
  echo "== CUDA"
  if ! python -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "torch sees no CUDA device (torch $(python -c 'import torch; print(torch.__version__)')): stopping" >&2
    exit 1
  fi
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
fi

echo "== test suite on $DEVICE (VITDEMO_DEVICE=$DEVICE)"
TEST_LOG=$(mktemp)
# shellcheck disable=SC2086  # TESTS is a list of pytest arguments
timeout 300 python -m pytest -q -p no:cacheprovider $TESTS 2>&1 | tee "$TEST_LOG"
TESTS_RC=${PIPESTATUS[0]}

echo "== GPU check: families, explorer, training, ViT-B/16 throughput"
timeout 270 python benchmarks/gpu_bench.py --device "$DEVICE" $QUICK --out "$OUT"
BENCH_RC=$?
[ -f "$OUT" ] || echo "# GPU check: the benchmark did not finish (exit $BENCH_RC)" > "$OUT"

{
  echo
  echo "## Test suite with VITDEMO_DEVICE=$DEVICE"
  echo
  echo "\`HF_HUB_OFFLINE=1 VITDEMO_DEVICE=$DEVICE python -m pytest -q $TESTS\`: exit $TESTS_RC$([ "$TESTS_RC" = 124 ] && echo ' (timed out after 300 s)')"
  echo
  echo '```'
  grep -E '^(FAILED|ERROR) ' "$TEST_LOG" | head -n 30
  tail -n 1 "$TEST_LOG"
  echo '```'
  echo
  echo "Whole check: $((SECONDS - START)) s (\`benchmarks/gpu_check.sh\`)."
} >> "$OUT"
rm -f "$TEST_LOG"
echo "== wrote $OUT in $((SECONDS - START)) s"
[ "$TESTS_RC" = 0 ] && [ "$BENCH_RC" = 0 ]
