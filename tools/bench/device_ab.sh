#!/usr/bin/env bash
# tools/bench/device_ab.sh: this tree against an older strata source tree, side by side on one machine's CPU
# (all cores): a synthetic Llama-3-8B-shape Q4_K_M, fully resident, prompt of 64 then 32 decoded tokens,
# in interleaved rounds (new, old, new, old, ...), so drift of the machine falls on both builds alike.
#   usage: OUT=dir OLD_SRC=dir [ROUNDS=3] [GPU_MEM=0] bash tools/bench/device_ab.sh
set -uo pipefail
OUT=${OUT:-/tmp/strata-out}; MODELS=${MODELS:-/root/models}; B=${B:-/root/strata-build}; ROUNDS=${ROUNDS:-3}
T=$(nproc); M="$MODELS/llama3-8b-q4km.gguf"
: "${OLD_SRC:?OLD_SRC must name the older source tree}"
mkdir -p "$OUT" "$MODELS"
build() {  # build SRC DIR
  cmake -S "$1" -B "$2" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_TESTS=OFF -DSTRATA_BENCH=OFF >/dev/null &&
    ninja -C "$2" -j"$T" strata > "$OUT/build-$(basename "$2").log" 2>&1 || { tail -20 "$OUT/build-$(basename "$2").log"; exit 1; }
}
echo "== build"; build . "$B" & build "$OLD_SRC" "$B-old" & wait
[ -x "$B/strata" ] && [ -x "$B-old/strata" ] || { echo "a build failed"; exit 1; }
[ -f "$M" ] || "$B/strata" synth "$M" --layers 32 --dim 4096 --ff 14336 --heads 32 --kv-heads 8 --vocab 128256 \
  --ctx 8192 --type Q4_K_M | tail -1
echo "== machine"; lscpu | grep -E "Model name|^CPU\(s\)"; date -u
"$B/strata" profile --json --dir "$MODELS" > "$OUT/profile.json"
# --gpu-mem 0 keeps the new build on the CPU even where it could use the GPU (the old build has no GPU path).
for r in $(seq 1 "$ROUNDS"); do
  for which in new old; do
    bin="$B/strata"; extra=(--gpu-mem 0); [ "$which" = old ] && { bin="$B-old/strata"; extra=(--gpu-mem 0); }
    echo "== round $r, $which"
    "$bin" bench "$M" -p 64 -n 32 -r 1 --threads "$T" --profile "$OUT/profile.json" "${extra[@]}" \
      --out "$OUT/${which}_$r.json" | grep -E "^prompt|^decode"
  done
done
