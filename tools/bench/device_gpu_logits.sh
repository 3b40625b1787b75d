#!/usr/bin/env bash
# tools/bench/device_gpu_logits.sh: whole-model logits on the GPU against the CPU backend, on synthetic models of
# several weight types (dense and MoE), every position of a 48-token sequence; prints the worst-position and the
# 80th-percentile normalised MSE, sum((gpu - cpu)^2) / sum(cpu^2) per position, and whether greedy tokens agree.
#   usage: OUT=dir [STRATA_DEBS=dir] [B=build dir with strata built] [CONFIGS="Q8_0,Q4_K_M moe"] bash tools/bench/device_gpu_logits.sh
set -uo pipefail
OUT=${OUT:-/tmp/strata-out}; B=${B:-/root/strata-build}; D=${D:-/root/models/logits}
mkdir -p "$OUT" "$D"
if [ -n "${STRATA_DEBS:-}" ]; then
  deps=$(mktemp -d); for d in "$STRATA_DEBS"/*.deb; do dpkg-deb -x "$d" "$deps"; done
  export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
  pre=(-DCMAKE_PREFIX_PATH="$deps/usr" -DCMAKE_LIBRARY_ARCHITECTURE=x86_64-linux-gnu)
fi
if [ ! -x "$B/strata" ]; then
  cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_TESTS=OFF -DSTRATA_BENCH=OFF -DSTRATA_CUDA_ARCHS=90 \
    "${pre[@]}" > "$OUT/configure.log" 2>&1 && ninja -C "$B" strata > "$OUT/build.log" 2>&1 || { tail -20 "$OUT/build.log"; exit 1; }
fi
S="$B/strata"
$S profile --json --dir "$D" -q > "$OUT/profile.json"
TOK=$(python3 -c "import random; r=random.Random(7); print(' '.join(str(r.randrange(3, 32000)) for _ in range(48)))")
shape=(--layers 4 --dim 1024 --ff 2816 --heads 16 --kv-heads 4 --vocab 32000 -q)
# The other architecture rows (biases, QK norms, scaled RoPE, frequency factors, sinks, windows, clamped SwiGLU).
declare -A arch_flags=(
  [llama3]="--arch llama --rope-freqs --rope-base 500000"
  [qwen2]="--arch qwen2 --rope-base 1000000 --rope-scaling yarn --rope-scaling-factor 4 --rope-orig-ctx 32"
  [qwen3]="--arch qwen3 --head-dim 128"
  [qwen3moe]="--arch qwen3moe --head-dim 128 --experts 16 --experts-used 4 --ff-expert 512"
  [gpt-oss]="--arch gpt-oss --head-dim 64 --experts 8 --experts-used 2 --ff-expert 1024 --window 16 --rope-scaling yarn --rope-scaling-factor 32 --rope-orig-ctx 4096"
)
IFS=, read -ra cfgs <<< "${CONFIGS:-F16,BF16,Q8_0,Q4_K_M,Q6_K,Q4_0,IQ4_XS,Q4_K_M moe,Q8_0 llama3,Q8_0 qwen2,Q8_0 qwen3,Q8_0 qwen3moe,Q8_0 gpt-oss,MXFP4_MOE moe,MXFP4_MOE gpt-oss}"
for cfg in "${cfgs[@]}"; do
  set -- $cfg; t=$1; extra=(); name=$t; [ "${2:-}" = moe ] && { extra=(--experts 8 --experts-used 2); name="$t-moe"; }
  if [ -n "${2:-}" ] && [ "$2" != moe ]; then read -ra extra <<< "${arch_flags[$2]}"; name="$t-$2"; fi
  [ -f "$D/$name.gguf" ] || $S synth "$D/$name.gguf" "${shape[@]}" --type "$t" "${extra[@]}" > /dev/null
  $S logits "$D/$name.gguf" --tokens "$TOK" --full --gen 8 --gpu-mem 0 --profile "$OUT/profile.json" -q > "$D/$name.cpu.json"
  $S logits "$D/$name.gguf" --tokens "$TOK" --full --gen 8 --profile "$OUT/profile.json" -q > "$D/$name.gpu.json" 2> "$D/$name.gpu.err"
  python3 - "$name" "$D/$name.cpu.json" "$D/$name.gpu.json" <<'PY'
import json, sys
import numpy as np
name, a, b = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
nm = []
for pa, pb in zip(a["positions"], b["positions"]):
    x, y = np.array(pa["logits"], np.float64), np.array(pb["logits"], np.float64)
    nm.append(((y - x) ** 2).sum() / (x ** 2).sum())
nm = np.array(nm)
print(f"{name:12s} positions {len(nm)}  worst NMSE {nm.max():.2e}  p80 {np.percentile(nm, 80):.2e}  "
      f"greedy equal {a['greedy'] == b['greedy']}")
PY
done
