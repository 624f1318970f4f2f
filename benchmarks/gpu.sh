#!/usr/bin/env bash
# Every GPU measurement of benchmarks/throughput.py in one run of at most 8 minutes.
#
#   bash benchmarks/gpu.sh                      # on a CUDA machine, from anywhere in the repository
#   OUT=/some/folder bash benchmarks/gpu.sh     # JSON, Markdown and nvidia-smi output go there
#   DEVICE=cpu SIZES=test COMPILE_SIZE=test BATCH_SIZES="1 2" TRAIN_BATCH=2 \
#       EXTRA_ARGS="--repeats 1 --round-s 0.001" bash benchmarks/gpu.sh   # dry run without a GPU
#
# Two runs, each with its own time budget (work not started within it is skipped and recorded as
# such in the JSON) and a hard `timeout` behind it (SIGTERM makes throughput.py write what it has;
# the JSON is also rewritten after every size):
#   1. eager modes, every size B0-B4: throughput at batch 1/32/128, batch-1 latency, training steps,
#      peak memory (torch.cuda.max_memory_allocated) -> throughput_cuda.json
#   2. CUDA graphs (torch.compile mode="reduce-overhead") and plain torch.compile, inference at batch 1
#      and 32, next to eager bf16+channels_last, for effnet_b2_tf and its timm match efficientnet_b2
#      -> throughput_cuda_compile.json (training is left to run 1, to fit the budget)
# Budget: 180 + 170 s of measurement; hard limits 205 + 195 s, 10 s kill grace each: about 7 minutes
# at worst, start-up and nvidia-smi included.
#
# Environment overrides: OUT, DEVICE (cuda), PYTHON (python), SIZES, BATCH_SIZES, TRAIN_BATCH,
# EAGER_MODES, EAGER_ARGS, COMPILE_MODES, COMPILE_SIZE (b2), COMPILE_BATCH_SIZES, COMPILE_MODELS,
# BUDGET_EAGER (180), BUDGET_COMPILE (170), EXTRA_ARGS (appended to both runs).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

DEVICE="${DEVICE:-cuda}"
PYTHON="${PYTHON:-python}"
OUT_DIR="${OUT:-benchmarks/results/gpu}"
SIZES="${SIZES:-b0 b1 b2 b3 b4}"
BATCH_SIZES="${BATCH_SIZES:-1 32 128}"
TRAIN_BATCH="${TRAIN_BATCH:-32}"
EAGER_MODES="${EAGER_MODES:-fp32 channels_last bf16+channels_last fp16+channels_last}"
# CUDA graphs before plain compile: the Triton kernels compiled for the first are reused by the second
COMPILE_MODES="${COMPILE_MODES:-bf16+channels_last bf16+channels_last+cudagraphs bf16+channels_last+compile}"
COMPILE_SIZE="${COMPILE_SIZE:-b2}"
COMPILE_BATCH_SIZES="${COMPILE_BATCH_SIZES:-1 32}"
if [ "$COMPILE_SIZE" = test ]; then timm_match=test_efficientnet; else timm_match="efficientnet_$COMPILE_SIZE"; fi
COMPILE_MODELS="${COMPILE_MODELS:-effnet_${COMPILE_SIZE}_tf $timm_match}"
BUDGET_EAGER="${BUDGET_EAGER:-180}"
BUDGET_COMPILE="${BUDGET_COMPILE:-170}"
EAGER_ARGS="${EAGER_ARGS:---latency-samples 50 --round-s 0.03}"
EXTRA_ARGS="${EXTRA_ARGS:-}"
GRACE=10

mkdir -p "$OUT_DIR"
START=$(date +%s)

# The package from this checkout, even where it was never pip-installed (no network needed).
if ! "$PYTHON" -c "import brainvit_effnet" 2>/dev/null; then
  export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}"
fi

echo "== gpu.sh: device=$DEVICE out=$OUT_DIR sizes=[$SIZES] batches=[$BATCH_SIZES]"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi | tee "$OUT_DIR/nvidia-smi.txt"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit,mig.mode.current \
    --format=csv | tee -a "$OUT_DIR/nvidia-smi.txt" || true
else
  echo "nvidia-smi not found" | tee "$OUT_DIR/nvidia-smi.txt"
fi
"$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda available:', torch.cuda.is_available())"

status=0
run() {  # run <seconds of hard limit> <args...>
  local limit=$1
  shift
  # shellcheck disable=SC2086  # EXTRA_ARGS is meant to split into words
  timeout --signal=TERM --kill-after="$GRACE" "$limit" \
    "$PYTHON" benchmarks/throughput.py --device "$DEVICE" "$@" $EXTRA_ARGS || {
    local rc=$?
    echo "throughput.py exited with $rc (124: hit the hard limit; the JSON holds what was measured)"
    status=$rc
  }
}

echo "== 1/2 eager modes, sizes $SIZES"
# shellcheck disable=SC2086  # lists split into words on purpose
run $((BUDGET_EAGER + 25)) --sizes $SIZES --modes $EAGER_MODES --batch-sizes $BATCH_SIZES \
  --train-batch-size "$TRAIN_BATCH" --time-budget "$BUDGET_EAGER" --no-onnx $EAGER_ARGS \
  --out "$OUT_DIR/throughput_${DEVICE}.json"

echo "== 2/2 compiled modes, $COMPILE_SIZE: $COMPILE_MODELS"
# shellcheck disable=SC2086
run $((BUDGET_COMPILE + 25)) --sizes "$COMPILE_SIZE" --models $COMPILE_MODELS --modes $COMPILE_MODES \
  --batch-sizes $COMPILE_BATCH_SIZES --no-train \
  --time-budget "$BUDGET_COMPILE" --no-onnx --out "$OUT_DIR/throughput_${DEVICE}_compile.json"

if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.used,memory.total,temperature.gpu,clocks.sm --format=csv \
    | tee -a "$OUT_DIR/nvidia-smi.txt" || true
fi
echo "== gpu.sh done in $(($(date +%s) - START)) s; results in $OUT_DIR:"
ls -l "$OUT_DIR"
exit "$status"
