#!/usr/bin/env bash
# tools/gpu_test.sh: the one command for the GPU machine: builds the CUDA backend for sm_90 only (all cores),
# runs the GPU tests, compute-sanitizer memcheck and racecheck on the kernel tests, and the kernel
# microbenchmark (mat-vec GB/s against the measured copy bandwidth, GEMM TFLOP/s). Ends with a summary line.
#   STRATA_DEBS=dir      .deb files to unpack as a private prefix when the machine lacks the build
#                        dependencies and cannot reach a registry (fmt, nlohmann-json, gtest).
#   STRATA_GPU_LOGS=dir  where each step's full log goes (default: a temporary directory).
#   STRATA_GPU_QUICK=1   skip the sanitizers and the GEMM part of the benchmark.
#   STRATA_GPU_BUILD_ONLY=1  configure and build, then stop (a second run finds the build done).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
logs="${STRATA_GPU_LOGS:-$(mktemp -d)}"
mkdir -p "$logs"
build="${STRATA_GPU_BUILD:-build-gpu}"
prefix_args=()

if [[ -n "${STRATA_DEBS:-}" ]]; then
  [[ "$build" == /* ]] && deps="$build/deps-prefix" || deps="$root/$build/deps-prefix"  # one path every run:
  if [[ ! -f "$deps/.unpacked" ]]; then  # a new path would change the cache and rebuild everything
    mkdir -p "$deps"
    for d in "$STRATA_DEBS"/*.deb; do
      if command -v dpkg-deb >/dev/null; then dpkg-deb -x "$d" "$deps"
      else (cd "$deps" && ar p "$d" "$(ar t "$d" | grep '^data.tar')" | tar xJ 2>/dev/null || ar p "$d" "$(ar t "$d" | grep '^data.tar')" | tar x)
      fi || { echo "gpu_test: cannot unpack $d" >&2; exit 1; }
    done
    touch "$deps/.unpacked"
  fi
  prefix_args=(-DCMAKE_PREFIX_PATH="$deps/usr" -DCMAKE_LIBRARY_ARCHITECTURE=x86_64-linux-gnu)
  export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
elif command -v apt-get >/dev/null 2>&1; then
  bash tools/install-deps.sh || echo "gpu_test: install-deps.sh failed; trying with what is installed" >&2
fi

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
echo "== configure $build (Release, sm_90 only)"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_TESTS=ON -DSTRATA_BENCH=ON \
  -DSTRATA_CUDA_ARCHS=90 "${prefix_args[@]}" >"$logs/configure.log" 2>&1 ||
  { tail -30 "$logs/configure.log"; echo "gpu_test: configure failed" >&2; exit 1; }
grep -q "CUDA backend on" "$logs/configure.log" || { echo "gpu_test: no CUDA compiler found" >&2; exit 1; }

tests=(decode_host_test matmul_cuda_test ops_cuda_test gpu_memory_test step_graph_test device_staging_test device_moe_test)
[[ -f tests/kernels/backend_ops_test.cc ]] && tests+=(backend_ops_test)
echo "== build ${tests[*]} cuda_kernel_bench"
start=$(date +%s)
cmake --build "$build" -j "$(nproc)" --target "${tests[@]}" cuda_kernel_bench >"$logs/build.log" 2>&1 ||
  { grep -E "error|FAILED" -A5 "$logs/build.log" | head -60; echo "gpu_test: build failed" >&2; exit 1; }
echo "   built in $(( $(date +%s) - start )) s"
[[ "${STRATA_GPU_BUILD_ONLY:-0}" == 1 ]] && exit 0
# Registers, stack and local memory per kernel (local memory or a stack frame means spilled arrays).
if command -v cuobjdump >/dev/null; then
  for o in "$build"/src/kernels/cuda/CMakeFiles/strata_kernels_cuda.dir/*.cu.o; do
    cuobjdump --dump-resource-usage "$o" 2>/dev/null | grep -E "Function|REG" | paste - - |
      sed -E 's/.*Function ([^:]*):.*REG:([0-9]+) STACK:([0-9]+) SHARED:([0-9]+) LOCAL:([0-9]+).*/\2 regs, stack \3, shared \4, local \5: \1/'
  done >"$logs/resource_usage.log"
  echo "   kernels with stack or local memory: $(grep -cvE 'stack 0, shared [0-9]+, local 0' "$logs/resource_usage.log")"
fi

passed=0
failed=0
run_step() {  # name, command...
  local name="$1"; shift
  if "$@" >"$logs/$name.log" 2>&1; then
    passed=$((passed + 1)); echo "PASS $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"; tail -40 "$logs/$name.log"
  fi
}
for t in "${tests[@]}"; do run_step "$t" "$build/$t"; done
grep -h "rel error" "$logs"/matmul_cuda_test.log | sort -u | head -40
grep -h "backend  \]" "$logs"/backend_ops_test.log 2>/dev/null

if [[ "${STRATA_GPU_QUICK:-0}" != 1 ]] && command -v compute-sanitizer >/dev/null; then
  for tool in memcheck racecheck; do
    for t in ops_cuda_test matmul_cuda_test; do
      filter=()
      [[ $t == matmul_cuda_test ]] && filter=(--gtest_filter='*Expert*:*GetRows*:*PicksThePath*')
      run_step "${tool}_$t" compute-sanitizer --tool "$tool" --error-exitcode 9 "$build/$t" "${filter[@]}"
    done
  done
  [[ -x "$build/backend_ops_test" ]] && run_step memcheck_backend_ops_test compute-sanitizer --tool memcheck \
    --error-exitcode 9 "$build/backend_ops_test" --gtest_filter='BackendOps.Cuda'
fi

echo "== kernel microbenchmark"
bench_args=()
[[ "${STRATA_GPU_QUICK:-0}" == 1 ]] && bench_args=(--quick)
"$build/cuda_kernel_bench" "${bench_args[@]}" 2>&1 | tee "$logs/bench.log"

echo
echo "gpu_test: $passed passed, $failed failed (logs in $logs)"
[[ $failed -eq 0 ]]
