#!/usr/bin/env bash
# tools/bench/device_parallel.sh: issue 16, acceptance 2 (run as root on the device host): sequences decoding
# together, one forward pass a step, beside one alone (`strata bench --parallel N`):
#   - the Llama-3-8B-shape Q4_K_M streamed in a 3 GiB cgroup, 4 sequences: each should decode at >= 0.8x one
#     alone (the disk pass is shared: "decode_bytes_read_per_step" ~ one sequence's bytes per token);
#   - the same file fully on the GPU (CUDA build), 8 sequences: aggregate >= 4x one alone. The one-sequence
#     figure and the batched steps replay CUDA graphs; --no-graphs gives the op-by-op A/B.
#   - the same 8 sequences as requests to `strata serve` (OLLAMA_NUM_PARALLEL=8), each also alone, through
#     tools/bench/serve_parallel.py: rates, aggregate, and whether each response is the text it gets alone.
# Where sequences share passes (--parallel > 1, OLLAMA_NUM_PARALLEL > 1) they are batch-invariant: each should
# decode the tokens it decodes alone ("sequences_identical_to_alone").
# PARTS="stream gpu serve" (default all three).
set -uo pipefail
OUT=${OUT:-/tmp/strata-out}; MODELS=${MODELS:-/root/models}; B=${B:-/root/strata-build}; S="$B/strata"
T=$(nproc); PROFILE="$OUT/profile.json"; mkdir -p "$OUT" "$MODELS"
PARTS=${PARTS:-stream gpu serve}
[ -x "$S" ] || { cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_TESTS=OFF -DSTRATA_BENCH=OFF \
  -DSTRATA_CUDA_ARCHS=90 >/dev/null && ninja -C "$B" -j"$T" strata >/dev/null; } || exit 1
[ -f "$PROFILE" ] || $S profile --json --dir "$MODELS" > "$PROFILE"
source "$(dirname "${BASH_SOURCE[0]}")/cgroup.sh"  # in_cgroup, drop
M8="$MODELS/llama3-8b-q4km.gguf"
[ -f "$M8" ] || $S synth "$M8" --layers 32 --dim 4096 --ff 14336 --heads 32 --kv-heads 8 --vocab 128256 --ctx 8192 --type Q4_K_M
if [[ " $PARTS " == *" stream "* ]]; then
  echo "== 8B Q4_K_M streamed in a 3 GiB cgroup (--ram 2600M, CPU), 4 sequences"
  drop; in_cgroup strata3g 3G $S bench "$M8" -p 8 -n 8 -r 2 --warmup 0 --threads "$T" --profile "$PROFILE" --ram 2600M \
    --gpu-mem 0 --ctx 1024 --parallel 4 --out "$OUT/parallel_stream_8b.json" | grep -E "^decode  |^parallel|^disk"
fi
if [[ " $PARTS " == *" gpu "* ]]; then
  echo "== 8B Q4_K_M on the GPU, 8 sequences (graphs for the single figure, then --no-graphs)"
  $S bench "$M8" -p 32 -n 64 -r 3 --threads "$T" --profile "$PROFILE" --ctx 1024 --parallel 8 \
    --out "$OUT/parallel_gpu_8b.json" | grep -E "^decode  |^parallel|graphs"
  $S bench "$M8" -p 32 -n 64 -r 3 --threads "$T" --profile "$PROFILE" --ctx 1024 --parallel 8 --no-graphs \
    --out "$OUT/parallel_gpu_8b_nographs.json" | grep -E "^decode  |^parallel"
  echo "== the same, ops timed one by one (one sequence's table, then a batched step's)"
  $S bench "$M8" -p 32 -n 16 -r 1 --threads "$T" --profile "$PROFILE" --ctx 1024 --parallel 8 --op-times \
    --out "$OUT/parallel_gpu_8b_ops.json" | sed -n '/^op times, decode/,$p'
fi
if [[ " $PARTS " == *" serve "* ]]; then
  echo "== 8B Q4_K_M served, 8 requests at once beside each alone"
  OLLAMA_NUM_PARALLEL=8 $S serve "$M8" --port 18434 --no-ollama --store "$OUT/store" -q -t "$T" --ctx 1024 \
    --profile "$PROFILE" > "$OUT/serve_parallel.log" 2>&1 &
  pid=$!
  for _ in $(seq 60); do curl -sf localhost:18434/api/version >/dev/null 2>&1 && break; sleep 1; done
  python3 "$(dirname "${BASH_SOURCE[0]}")/serve_parallel.py" --url http://127.0.0.1:18434 --n 8 --tokens 64 \
    --json "$OUT/serve_parallel_8b.json"
  kill "$pid"
fi
