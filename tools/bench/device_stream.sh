#!/usr/bin/env bash
# tools/bench/device_stream.sh: models bigger than the memory allowed, in cgroups (run as root on the device host):
# Llama-3-8B-shape Q4_K_M in 3 GiB, Mixtral-8x7B-shape Q4_K_M in 12 GiB; page cache dropped before each run.
# REF_BENCH (optional): a reference engine's benchmark binary, run with mmap in the same 3 GiB cgroup.
set -uo pipefail
OUT=${OUT:-/tmp/strata-out}; MODELS=${MODELS:-/root/models}; B=${B:-/root/strata-build}; S="$B/strata"
T=$(nproc); PROFILE="$OUT/profile.json"; mkdir -p "$OUT" "$MODELS"
[ -x "$S" ] || { cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_TESTS=OFF -DSTRATA_BENCH=OFF >/dev/null &&
  ninja -C "$B" -j"$T" strata >/dev/null; } || exit 1
[ -f "$PROFILE" ] || $S profile --json --dir "$MODELS" > "$PROFILE"
source "$(dirname "${BASH_SOURCE[0]}")/cgroup.sh"  # in_cgroup, drop
M8="$MODELS/llama3-8b-q4km.gguf"
[ -f "$M8" ] || $S synth "$M8" --layers 32 --dim 4096 --ff 14336 --heads 32 --kv-heads 8 --vocab 128256 --ctx 8192 --type Q4_K_M
echo "== 8B Q4_K_M in a 3 GiB cgroup, --ram 2600M"
$S inspect "$M8" --plan --profile "$PROFILE" --ram 2600M --ctx 1024 | sed -n 1,12p
drop; in_cgroup strata3g 3G $S bench "$M8" -p 8 -n 8 -r 2 --warmup 0 --threads "$T" --profile "$PROFILE" --ram 2600M --ctx 1024 --out "$OUT/stream_8b.json"
if [ -n "${REF_BENCH:-}" ]; then
  echo "== reference engine (mmap) in the same 3 GiB cgroup, 8 tokens, 150 s limit"
  drop; in_cgroup ref3g 3G timeout 150 "$REF_BENCH" -m "$M8" -p 0 -n 8 -r 1 -t "$T" -ngl 0 -o md
fi
MX="$MODELS/mixtral-8x7b-q4km.gguf"
[ -f "$MX" ] || $S synth "$MX" --layers 32 --dim 4096 --ff 14336 --heads 32 --kv-heads 8 --vocab 32000 --ctx 8192 \
  --experts 8 --experts-used 2 --type Q4_K_M
ls -la "$MX"
echo "== Mixtral-8x7B-shape Q4_K_M in a 12 GiB cgroup, --ram 11G"
$S inspect "$MX" --plan --profile "$PROFILE" --ram 11G --ctx 1024 | sed -n 1,14p
drop; in_cgroup strata12g 12G $S bench "$MX" -p 4 -n 8 -r 2 --warmup 0 --threads "$T" --profile "$PROFILE" --ram 11G --ctx 1024 --out "$OUT/stream_mixtral.json"
