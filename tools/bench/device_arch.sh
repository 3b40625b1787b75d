#!/usr/bin/env bash
# tools/bench/device_arch.sh: the new families' figures of docs/performance.md (issue 12, acceptance 4; run as
# root on the device host): the qwen3-30b-a3b preset in Q4_K_M decoded on the CPU, side by side with a
# reference engine's benchmark on the same file; the gpt-oss-120b preset in MXFP4 streamed in a 24 GiB cgroup.
#   REF_BENCH (optional): a reference engine's benchmark binary (llama-bench interface), same file, same threads.
#   STRATA_DEBS (optional): .deb files of the build dependencies, for a machine without a registry.
#   PARTS="qwen gptoss" (default both): which part to run. The 120b file is 59 GiB: the qwen file is deleted first.
set -uo pipefail
OUT=${OUT:-/tmp/strata-out}; MODELS=${MODELS:-/root/models}; B=${B:-/root/strata-build}; S="$B/strata"
T=$(nproc); PROFILE="$OUT/profile.json"; mkdir -p "$OUT" "$MODELS"
PARTS=${PARTS:-qwen gptoss}
pre=()
if [ -n "${STRATA_DEBS:-}" ]; then  # .deb files of the build dependencies, unpacked as a private prefix
  deps=$(mktemp -d); for d in "$STRATA_DEBS"/*.deb; do dpkg-deb -x "$d" "$deps"; done
  export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
  pre=(-DCMAKE_PREFIX_PATH="$deps/usr" -DCMAKE_LIBRARY_ARCHITECTURE=x86_64-linux-gnu)
fi
[ -x "$S" ] || { cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_TESTS=OFF -DSTRATA_BENCH=OFF \
  -DSTRATA_CUDA=OFF "${pre[@]}" > "$OUT/configure.log" 2>&1 &&
  ninja -C "$B" -j"$T" strata > "$OUT/build.log" 2>&1; } || { tail -20 "$OUT/build.log"; exit 1; }
[ -f "$PROFILE" ] || $S profile --json --dir "$MODELS" > "$PROFILE"
source "$(dirname "${BASH_SOURCE[0]}")/cgroup.sh"  # in_cgroup, drop

if [[ " $PARTS " == *" qwen "* ]]; then
  Q="$MODELS/qwen3-30b-a3b-q4km.gguf"
  [ -f "$Q" ] || { t0=$(date +%s); $S synth "$Q" --preset qwen3-30b-a3b --type Q4_K_M -q; echo "   synth $(( $(date +%s) - t0 )) s"; }
  echo "== qwen3-30b-a3b Q4_K_M, CPU decode, $T threads (resident, --gpu-mem 0)"
  $S bench "$Q" -p 16 -n 32 -r 3 --threads "$T" --gpu-mem 0 --ctx 1024 --profile "$PROFILE" --out "$OUT/qwen3moe_cpu.json" | tail -14
  if [ -n "${REF_BENCH:-}" ]; then
    echo "== reference engine, same file, same threads, CPU only"
    "$REF_BENCH" -m "$Q" -p 16 -n 32 -r 3 -t "$T" -ngl 0 -o md 2>&1 | tee "$OUT/qwen3moe_ref.md" | tail -6
  fi
  [[ " $PARTS " == *" gptoss "* ]] && rm -f "$Q"
fi

if [[ " $PARTS " == *" gptoss "* ]]; then
  G="$MODELS/gpt-oss-120b-mxfp4.gguf"
  [ -f "$G" ] || { t0=$(date +%s); $S synth "$G" --preset gpt-oss-120b --type MXFP4_MOE -q; echo "   synth $(( $(date +%s) - t0 )) s"; }
  ls -la "$G"; df -h "$MODELS" | tail -1
  echo "== gpt-oss-120b MXFP4 in a 24 GiB cgroup, --ram 22G, CPU"
  $S inspect "$G" --plan --profile "$PROFILE" --ram 22G --gpu-mem 0 --ctx 1024 | sed -n 1,16p
  drop; in_cgroup strata24g 24G $S bench "$G" -p 4 -n 16 -r 2 --warmup 1 --threads "$T" --gpu-mem 0 --ram 22G --ctx 1024 \
    --profile "$PROFILE" --out "$OUT/gptoss120b_24g.json"
  grep -o '"[a-z_]*hit[a-z_]*": *[0-9.e+-]*' "$OUT/gptoss120b_24g.json" | head
fi
