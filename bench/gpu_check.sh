#!/usr/bin/env bash
# GPU check of `textshards train`: the gpt2 preset (124M) with bf16 autocast and torch.compile on
# small real shards, for a fixed number of steps; prints tokens/s and MFU.
#
# Made for the lent GPU machine (one H100 or H200; its python3 has torch, numpy, pyarrow, pyyaml,
# tokenizers, matplotlib, but no apache-beam, hence verify=size). It builds nothing there and
# needs no network: make the shards here first (`make demo` writes demo_output/shards), then
#
#     run(command="bash bench/gpu_check.sh demo_output/shards", carry=["demo_output/shards"], timeout_s=420)
#
# It finishes in under 5 minutes with start-up: about 20 s of imports, 1-2 minutes of compiling,
# then STEPS steps. Tokens/s and MFU are the medians of the log windows after the first (which
# holds the compile). MFU counts 6N + 12 L H Q T FLOPs per token (PaLM appendix B) against the
# dense bf16 peak of the card (H100/H200 SXM: 989 TFLOP/s); the target on an H100 is >= 40%.
#
# On a machine without a GPU it runs the same way on the CPU, e.g. the tiny preset without compile:
#     PRESET=tiny STEPS=20 BATCH=12 COMPILE=0 bash bench/gpu_check.sh demo_output/shards
set -euo pipefail

SHARDS=${1:-demo_output/shards}
PRESET=${PRESET:-gpt2}
STEPS=${STEPS:-200}
BATCH=${BATCH:-32}          # windows of 1024 tokens per step: 32k tokens
COMPILE=${COMPILE:-1}
LIMIT_S=${LIMIT_S:-270}     # the training command's own time limit
PYTHON=${PYTHON:-python3}
RUN=${RUN:-$(mktemp -d)/run}

cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name() if torch.cuda.is_available() else "")'
test -f "$SHARDS/manifest.json" || { echo "gpu_check: $SHARDS/manifest.json not found: carry the shards" >&2; exit 2; }

flags=(--shards "$SHARDS" --output "$RUN" --preset "$PRESET" --max-steps "$STEPS" --fresh
       --set verify=size --set batch_size="$BATCH" --set log_interval=10 --set eval_interval="$STEPS"
       --set eval_windows=64 --set warmup_steps=20)
[ "$COMPILE" = 1 ] && flags+=(--compile)
started=$(date +%s)
timeout "$LIMIT_S" "$PYTHON" -m pipeline.cli train "${flags[@]}"
echo "gpu_check: train finished in $(( $(date +%s) - started )) s"

"$PYTHON" - "$RUN/metrics.jsonl" <<'EOF'
import json, statistics, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
steady = [m for m in lines if m["kind"] == "train"][1:]  # the first window holds compiling
if not steady:
    sys.exit("gpu_check: too few steps for a steady window; raise STEPS")
tps = statistics.median(m["tokens_per_s"] for m in steady)
mfu = [m["mfu"] for m in steady if m["mfu"] is not None]
print(f"gpu_check: steady {tps:,.0f} tokens/s over {len(steady)} windows of 10 steps"
      + (f", MFU {100 * statistics.median(mfu):.1f}% (target >= 40% on an H100)" if mfu else ", no MFU (no GPU)"))
EOF
