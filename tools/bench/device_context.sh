#!/usr/bin/env bash
# tools/bench/device_context.sh: prompt and decode speed at a short and a long context on the device host's
# CPU (synthetic Llama-3-8B-shape Q4_K_M, fully resident, all cores), for this tree and, side by side in the
# same run, optionally an older strata source tree (OLD_SRC) and a reference engine's benchmark (REF_BENCH).
#   usage: OUT=dir [OLD_SRC=dir] [REF_BENCH=bin] [LONG=1024] bash tools/bench/device_context.sh [build|bench]
# "build" builds and synthesizes the model (one device call); "bench" measures (the next); no argument: both.
set -uo pipefail
OUT=${OUT:-/tmp/strata-out}; MODELS=${MODELS:-/root/models}; B=${B:-/root/strata-build}; LONG=${LONG:-1024}
T=$(nproc); M="$MODELS/llama3-8b-q4km.gguf"; STEP=${1:-all}
mkdir -p "$OUT" "$MODELS"
build() {  # build SRC DIR
  cmake -S "$1" -B "$2" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_TESTS=OFF -DSTRATA_BENCH=OFF >/dev/null &&
    ninja -C "$2" -j"$T" strata > "$OUT/build-$(basename "$2").log" 2>&1 || { tail -20 "$OUT/build-$(basename "$2").log"; exit 1; }
}
if [ "$STEP" != bench ]; then
  echo "== build"; build . "$B"
  [ -n "${OLD_SRC:-}" ] && build "$OLD_SRC" "$B-old"
  [ -f "$M" ] || "$B/strata" synth "$M" --layers 32 --dim 4096 --ff 14336 --heads 32 --kv-heads 8 --vocab 128256 \
    --ctx 8192 --type Q4_K_M | tail -1
fi
[ "$STEP" = build ] && exit 0
echo "== machine"; lscpu | grep -E "Model name|^CPU\(s\)"; date -u
"$B/strata" profile --json --dir "$MODELS" > "$OUT/profile.json"
for ctx in 64 "$LONG"; do
  echo "== strata (this tree), prompt $ctx then 16 decoded tokens"
  "$B/strata" bench "$M" -p "$ctx" -n 16 -r 2 --warmup 0 --threads "$T" -c $((LONG + 64)) --profile "$OUT/profile.json" \
    --out "$OUT/strata_$ctx.json" | grep -E "^prompt|^decode"
  if [ -n "${OLD_SRC:-}" ]; then
    echo "== strata (OLD_SRC), prompt $ctx then 16 decoded tokens"
    "$B-old/strata" bench "$M" -p "$ctx" -n 16 -r 2 --warmup 0 --threads "$T" -c $((LONG + 64)) --profile "$OUT/profile.json" \
      --out "$OUT/old_$ctx.json" | grep -E "^prompt|^decode"
  fi
  if [ -n "${REF_BENCH:-}" ]; then
    # pp: the prompt alone; pg: the prompt then 16 tokens. Decode at depth = 16 / (t_pg - t_pp).
    echo "== reference engine, prompt $ctx (pp) and prompt + 16 tokens (pg)"
    "$REF_BENCH" -m "$M" -p "$ctx" -n 0 -pg "$ctx,16" -r 2 -t "$T" -ngl 0 -o json > "$OUT/ref_$ctx.json" 2> "$OUT/ref_$ctx.err"
    grep -E '"n_prompt"|"n_gen"|"avg_ns"|"avg_ts"' "$OUT/ref_$ctx.json" | tr -d ' \n'; echo
  fi
done
