#!/usr/bin/env bash
# tools/bench/device_tiers.sh: issue 11 on the device host (run as root): models bigger than the GPU budget,
# their RAM-tier weights computed on the CPU or uploaded through device staging, as the plan says.
#   - Llama-3-8B-shape Q4_K_M: fully on the GPU (the baseline), then --gpu-mem 2.5G (acceptance 2: prompt of 512
#     at >= 5,000 tok/s; decode against llama.cpp's -ngl 16);
#   - Mixtral-8x7B-shape Q4_K_M: fully on the GPU (decode steps routed and recorded on the device), then
#     --gpu-mem 22G and 14G (acceptance 1: >= 52 and >= 20 tok/s), uniform and with --router-skew 1.2, each with
#     the GPU expert cache (the default) and with --static-experts (the plan's whole-tensor placement).
# Each bench prints the plan, predicted against achieved, the uploads and what ran on the host though the plan
# said GPU; its JSON record goes to $OUT. PARTS="8b mixtral" (default); "skew" adds the skewed Mixtral (another
# 26 GiB file: on the 64 GiB disk, remove the uniform one first, SKEW_ONLY=1 does).
set -uo pipefail
OUT=${OUT:-/tmp/strata-out}; MODELS=${MODELS:-/root/models}; B=${B:-/root/strata-build}; S="$B/strata"
T=$(nproc); PROFILE="$OUT/profile.json"; mkdir -p "$OUT" "$MODELS"
PARTS=${PARTS:-8b mixtral}
[ -x "$S" ] || { cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_TESTS=OFF -DSTRATA_BENCH=OFF \
  -DSTRATA_CUDA_ARCHS=90 >/dev/null && ninja -C "$B" -j"$T" strata >/dev/null; } || exit 1
[ -f "$PROFILE" ] || $S profile --json --dir "$MODELS" > "$PROFILE"
show='^prompt |^decode  |^plan:|^achieved|^GPU uploads|^ran on the host|^decode CPU|^decode hand-offs|^expert cache|^GPU expert cache|^with the GPU|^GPU memory|replayed'
bench() {  # name, model, args...
  local name="$1" model="$2"; shift 2
  echo "== $name"
  $S bench "$model" -r 3 --threads "$T" --profile "$PROFILE" --out "$OUT/$name.json" "$@" | grep -E "$show"
}
if [[ " $PARTS " == *" 8b "* ]]; then
  M8="$MODELS/llama3-8b-q4km.gguf"
  # The same file tools/bench/device_parallel.sh makes (one model file, shared).
  [ -f "$M8" ] || $S synth "$M8" --layers 32 --dim 4096 --ff 14336 --heads 32 --kv-heads 8 --vocab 128256 --ctx 8192 \
    --type Q4_K_M -q
  bench tiers_8b_full "$M8" -p 512 -n 128
  bench tiers_8b_2g5 "$M8" -p 512 -n 64 --gpu-mem 2.5G
fi
if [[ " $PARTS " == *" mixtral "* ]]; then
  MX="$MODELS/mixtral-q4km.gguf"
  [ -f "$MX" ] || $S synth "$MX" --preset mixtral-8x7b --type Q4_K_M -q
  bench tiers_mixtral_full "$MX" -p 128 -n 64
  for g in 22G 14G; do
    bench "tiers_mixtral_$g" "$MX" -p 128 -n 64 --gpu-mem "$g"  # with the GPU expert cache
    bench "tiers_mixtral_${g}_static" "$MX" -p 128 -n 64 --gpu-mem "$g" --static-experts
  done
fi
if [[ " $PARTS " == *" skew "* ]]; then
  MX="$MODELS/mixtral-q4km.gguf"; MXS="$MODELS/mixtral-q4km-skew.gguf"
  [[ "${SKEW_ONLY:-0}" == 1 ]] && rm -f "$MX"
  [ -f "$MXS" ] || $S synth "$MXS" --preset mixtral-8x7b --type Q4_K_M --router-skew 1.2 -q || exit 1
  for g in 22G 14G; do
    bench "tiers_mixtral_skew_$g" "$MXS" -p 128 -n 64 --gpu-mem "$g"
    bench "tiers_mixtral_skew_${g}_static" "$MXS" -p 128 -n 64 --gpu-mem "$g" --static-experts
  done
fi
