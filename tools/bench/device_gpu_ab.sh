#!/usr/bin/env bash
# tools/bench/device_gpu_ab.sh: this tree against a base source tree, both fully on the GPU, on one machine:
# a synthetic Llama-3-8B-shape model (Q4_K_M, and Q8_0 when TYPES says so), prompt 512 then 128 decoded
# tokens, interleaved (base, new, base, new), then optionally each kernel's time in one decode step (ncu).
#   usage: OUT=dir [BASE_SRC=dir] [TYPES="Q4_K_M Q8_0"] [ROUNDS=2] [NCU=1] [STRATA_DEBS=dir] bash tools/bench/device_gpu_ab.sh
# Without BASE_SRC only this tree runs. B: this tree's build folder (reused when already configured).
set -uo pipefail
OUT=${OUT:-/tmp/strata-out}; MODELS=${MODELS:-/root/models}; B=${B:-/root/strata-build}; ROUNDS=${ROUNDS:-2}
TYPES=${TYPES:-Q4_K_M}; T=$(nproc)
BASE_SRC=${BASE_SRC:-}; builds=(new); [ -n "$BASE_SRC" ] && builds=(base new)
mkdir -p "$OUT" "$MODELS"
prefix=()
if [ -n "${STRATA_DEBS:-}" ]; then
  deps=$(mktemp -d); for d in "$STRATA_DEBS"/*.deb; do dpkg-deb -x "$d" "$deps"; done
  prefix=(-DCMAKE_PREFIX_PATH="$deps/usr" -DCMAKE_LIBRARY_ARCHITECTURE=x86_64-linux-gnu)
  export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
fi
build() {  # build SRC DIR
  [ -f "$2/build.ninja" ] && { ninja -C "$2" -j"$T" strata > "$OUT/build-$(basename "$2").log" 2>&1 || { tail -30 "$OUT/build-$(basename "$2").log"; exit 1; }; return; }
  cmake -S "$1" -B "$2" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_TESTS=OFF -DSTRATA_BENCH=OFF \
    -DSTRATA_CUDA_ARCHS=90 "${prefix[@]}" > "$OUT/configure-$(basename "$2").log" 2>&1 &&
    ninja -C "$2" -j"$T" strata > "$OUT/build-$(basename "$2").log" 2>&1 ||
    { tail -30 "$OUT/build-$(basename "$2").log"; exit 1; }
}
start=$(date +%s)
echo "== build"; build . "$B" & { [ -n "$BASE_SRC" ] && build "$BASE_SRC" "$B-base"; } & wait
[ -x "$B/strata" ] && { [ -z "$BASE_SRC" ] || [ -x "$B-base/strata" ]; } || { echo "a build failed"; exit 1; }
echo "   built in $(( $(date +%s) - start )) s"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; date -u
"$B/strata" profile --json --dir "$MODELS" -q > "$OUT/profile.json"
for t in $TYPES; do
  M="$MODELS/llama3-8b-$t.gguf"
  [ -f "$M" ] || "$B/strata" synth "$M" --layers 32 --dim 4096 --ff 14336 --heads 32 --kv-heads 8 --vocab 128256 \
    --ctx 8192 --type "$t" -q > /dev/null
  for r in $(seq 1 "$ROUNDS"); do
    for which in "${builds[@]}"; do
      bin="$B/strata"; [ "$which" = base ] && bin="$B-base/strata"
      printf "%-7s %-5s round %s: " "$t" "$which" "$r"
      "$bin" bench "$M" -p 512 -n 128 -r 3 --profile "$OUT/profile.json" --json --out "$OUT/${t}_${which}_$r.json" |
        python3 -c "import json,sys; d=json.load(sys.stdin); print('pp512 %.0f  tg128 %.1f tok/s' % (d['prompt_tokens_per_s']['median'], d['decode_tokens_per_s']['median']))"
    done
  done
done
NCU_BIN=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
if [ "${NCU:-0}" = 1 ] && [ -n "$NCU_BIN" ]; then
  # Kernels of decode steps 2 and 3 of a 1-token prompt (each step launches the same kernels).
  M="$MODELS/llama3-8b-Q4_K_M.gguf"
  for which in "${builds[@]}"; do
    bin="$B/strata"; [ "$which" = base ] && bin="$B-base/strata"
    timeout "${NCU_TIMEOUT:-200}" "$NCU_BIN" --clock-control none --metrics gpu__time_duration.sum --csv --launch-skip 1200 --launch-count 1200 \
      "$bin" bench "$M" -p 1 -n 6 -r 1 --warmup 0 --profile "$OUT/profile.json" --json > "$OUT/ncu_$which.csv" 2> "$OUT/ncu_$which.err"
    python3 - "$OUT/ncu_$which.csv" "$which" <<'PY'
import csv, sys, collections
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
h = rows[0]; ki = h.index("Kernel Name"); vi = h.index("Metric Value"); ui = h.index("Metric Unit")
tot = collections.Counter(); cnt = collections.Counter()
for r in rows[1:]:
    v = float(r[vi].replace(",", "")) * {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1, "us": 1, "msecond": 1e3, "ms": 1e3}.get(r[ui], 1)  # us
    name = r[ki].split("(")[0].replace("strata::cuda::", "").replace("void ", "")[-48:]
    tot[name] += v; cnt[name] += 1
n = len(rows) - 1; s = sum(tot.values())
steps = sum(c for k, c in cnt.items() if "rms_norm" in k) / 65  # 2 per layer + the output norm per step
print("units seen:", sorted({r[ui] for r in rows[1:]}))
print(f"{sys.argv[2]}: {n} kernels, {s:.0f} us of kernel time over {steps:.2f} steps: {s / max(steps, 1e-9):.0f} us a step")
for k, v in tot.most_common(14): print(f"  {k:48s} {cnt[k]:5d} x {v / cnt[k]:7.1f} us = {v / max(steps, 1e-9):7.0f} us/step")
PY
  done
fi
echo "== done in $(( $(date +%s) - start )) s"
