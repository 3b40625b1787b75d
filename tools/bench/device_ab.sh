#!/usr/bin/env bash
# tools/bench/device_ab.sh: this tree against an older strata source tree, side by side on one machine's CPU
# (all cores): a synthetic Llama-3-8B-shape Q4_K_M, fully resident, prompt of 64 then 32 decoded tokens,
# in interleaved rounds (new, old, new, old, ...), so drift of the machine falls on both builds alike.
# Then, when the new build has a GPU to use, the same model fully on the GPU (prompt 512, 128 decoded tokens).
#   usage: OUT=dir OLD_SRC=dir [ROUNDS=3] [STRATA_DEBS=dir] bash tools/bench/device_ab.sh
# STRATA_DEBS: .deb files of the build dependencies, unpacked as a private prefix (a machine without them).
set -uo pipefail
OUT=${OUT:-/tmp/strata-out}; MODELS=${MODELS:-/root/models}; B=${B:-/root/strata-build}; ROUNDS=${ROUNDS:-3}
T=$(nproc); M="$MODELS/llama3-8b-q4km.gguf"
: "${OLD_SRC:?OLD_SRC must name the older source tree}"
mkdir -p "$OUT" "$MODELS"
prefix=()
if [ -n "${STRATA_DEBS:-}" ]; then
  deps=$(mktemp -d); for d in "$STRATA_DEBS"/*.deb; do dpkg-deb -x "$d" "$deps"; done
  prefix=(-DCMAKE_PREFIX_PATH="$deps/usr" -DCMAKE_LIBRARY_ARCHITECTURE=x86_64-linux-gnu)
  export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
fi
build() {  # build SRC DIR [cmake args]
  local src="$1" dir="$2"; shift 2
  cmake -S "$src" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_TESTS=OFF -DSTRATA_BENCH=OFF "${prefix[@]}" "$@" \
    > "$OUT/configure-$(basename "$dir").log" 2>&1 &&
    ninja -C "$dir" -j"$T" strata > "$OUT/build-$(basename "$dir").log" 2>&1 ||
    { tail -20 "$OUT/configure-$(basename "$dir").log" "$OUT/build-$(basename "$dir").log"; exit 1; }
}
echo "== build"; build . "$B" -DSTRATA_CUDA_ARCHS=90 & build "$OLD_SRC" "$B-old" -DSTRATA_CUDA=OFF & wait
[ -x "$B/strata" ] && [ -x "$B-old/strata" ] || { echo "a build failed"; exit 1; }
[ -f "$M" ] || "$B/strata" synth "$M" --layers 32 --dim 4096 --ff 14336 --heads 32 --kv-heads 8 --vocab 128256 \
  --ctx 8192 --type Q4_K_M | tail -1
echo "== machine"; lscpu | grep -E "Model name|^CPU\(s\)"; date -u
"$B/strata" profile --json --dir "$MODELS" > "$OUT/profile.json"
# --gpu-mem 0 keeps the new build on the CPU even where it could use the GPU (the old build has no GPU path).
for r in $(seq 1 "$ROUNDS"); do
  for which in new old; do
    bin="$B/strata"; extra=(--gpu-mem 0); [ "$which" = old ] && { bin="$B-old/strata"; extra=(); }
    echo "== round $r, $which"
    "$bin" bench "$M" -p 64 -n 32 -r 1 --threads "$T" --profile "$OUT/profile.json" "${extra[@]}" \
      --out "$OUT/${which}_$r.json" | grep -E "^prompt|^decode"
  done
done
if command -v nvidia-smi >/dev/null; then
  echo "== new build, fully on the GPU: prompt 512, 128 decoded tokens"
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
  "$B/strata" bench "$M" -p 512 -n 128 -r 3 --threads "$T" --profile "$OUT/profile.json" \
    --out "$OUT/gpu.json" 2>&1 | tail -20
fi
