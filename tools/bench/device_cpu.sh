#!/usr/bin/env bash
# tools/bench/device_cpu.sh: the CPU figures of docs/performance.md on a large machine (run on the device host):
# build, profile, kernel bandwidth, and a synthetic Llama-3-8B-shape Q4_K_M decoded fully resident.
# REF_BENCH (optional): a reference engine's benchmark binary, run on the same file in the same script.
set -uo pipefail
OUT=${OUT:-/tmp/strata-out}; MODELS=${MODELS:-/root/models}; B=${B:-/root/strata-build}
mkdir -p "$OUT" "$MODELS"
T=$(nproc)
echo "== machine"; lscpu | grep -E "Model name|^CPU\(s\)|Thread|NUMA node\(s\)"; free -g | head -2; df -h "$MODELS" | tail -1
echo "== build"; cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_TESTS=OFF -DSTRATA_BENCH=ON >/dev/null &&
  ninja -C "$B" -j"$T" strata strata_kernel_bench > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
S="$B/strata"
echo "== profile"; $S profile --json --refresh --dir "$MODELS" > "$OUT/profile.json" && $S profile --dir "$MODELS" | head -40
echo "== kernels"; "$B/strata_kernel_bench" --benchmark_min_time=0.3 2>&1 | tee "$OUT/kernels.txt" | tail -45
M="$MODELS/llama3-8b-q4km.gguf"
[ -f "$M" ] || $S synth "$M" --layers 32 --dim 4096 --ff 14336 --heads 32 --kv-heads 8 --vocab 128256 --ctx 8192 --type Q4_K_M
echo "== strata bench (resident, $T threads)"
$S bench "$M" -p 64 -n 32 -r 3 --threads "$T" --profile "$OUT/profile.json" --out "$OUT/strata_8b.json" | tail -12
if [ -n "${REF_BENCH:-}" ]; then
  echo "== reference bench, same file, same threads"
  "$REF_BENCH" -m "$M" -p 64 -n 32 -r 3 -t "$T" -ngl 0 -o md 2>&1 | tee "$OUT/ref_8b.md" | tail -6
fi
