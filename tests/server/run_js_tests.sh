#!/usr/bin/env bash
# tests/server/run_js_tests.sh: drives `strata serve` with the real npm clients (ollama, openai, the Anthropic SDK,
# LangChain, the AI SDK).
# Starts build/strata serve on a free loopback port with ../shared/models/stories260K.gguf, runs every
# tests/server/js/*.test.mjs with node's test runner (npm ci first if node_modules is missing), stops the
# server (which must exit 0 on SIGTERM), and exits non-zero on any failure.
#   usage: tests/server/run_js_tests.sh [build-dir]      (default: build)
# Environment: STRATA_BIN, STRATA_MODEL override the binary and the model.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${1:-build}"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
BIN="${STRATA_BIN:-$BUILD/strata}"
MODEL="${STRATA_MODEL:-$ROOT/../shared/models/stories260K.gguf}"
JS="$ROOT/tests/server/js"

fail() { echo "run_js_tests: $*" >&2; exit 1; }
[ -x "$BIN" ] || fail "no strata binary at $BIN (build it first)"
[ -f "$MODEL" ] || fail "test model missing: $MODEL (expected ../shared/models beside the checkout)"
command -v node >/dev/null || fail "node is not installed (tools/install-deps.sh installs it)"
for pkg in ollama openai playwright-core @anthropic-ai/sdk @langchain/openai @langchain/ollama ai @ai-sdk/openai-compatible \
           ollama-ai-provider-v2; do
  if [ ! -d "$JS/node_modules/$pkg" ]; then
    (cd "$JS" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed in $JS"
    break
  fi
done

TMP="$(mktemp -d "${TMPDIR:-/tmp}/strata-js.XXXXXX")"
PID=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# --port 0: the kernel picks a free port (no race with other test runs); the server prints its address.
"$BIN" serve "$MODEL" --host 127.0.0.1 --port 0 --threads 1 --store "$TMP/store" --no-ollama 2>"$TMP/server.log" &
PID=$!
URL=""
for _ in $(seq 1 100); do
  URL="$(grep -o 'serving on http://[^ ]*' "$TMP/server.log" | head -1 | sed 's/serving on //' || true)"
  [ -n "$URL" ] && break
  kill -0 "$PID" 2>/dev/null || { cat "$TMP/server.log" >&2; fail "the server exited at start"; }
  sleep 0.1
done
[ -n "$URL" ] || { cat "$TMP/server.log" >&2; fail "the server did not report its address"; }

rc=0
(cd "$JS" && STRATA_URL="$URL" STRATA_BIN="$BIN" STRATA_MODEL="$MODEL" \
   node --test --test-concurrency=1 --test-reporter=spec ./*.test.mjs) || rc=$?

kill -0 "$PID" 2>/dev/null || { cat "$TMP/server.log" >&2; fail "the server died during the tests"; }
kill -TERM "$PID"
server_rc=0
wait "$PID" || server_rc=$?
PID=""
if [ "$server_rc" -ne 0 ]; then
  cat "$TMP/server.log" >&2
  fail "the server exited with status $server_rc on SIGTERM"
fi
[ "$rc" -eq 0 ] || fail "client tests failed"
echo "run_js_tests: all client tests passed"
