#!/usr/bin/env bash
# tools/quickstart.sh: the README's first command: install, build, make a demo model and run it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_TESTS=OFF -DSTRATA_BENCH=OFF >/dev/null
cmake --build build --target strata -j"$(nproc)"
mkdir -p models
MODEL=models/demo-random.gguf
if [ ! -f "$MODEL" ]; then
  echo "strata: synthesizing $MODEL (a llama-shaped MoE with RANDOM weights: it produces gibberish by design)"
  ./build/strata synth "$MODEL" --layers 4 --dim 256 --heads 8 --kv-heads 2 --vocab 2000 --experts 8 --experts-used 2
fi
./build/strata inspect "$MODEL" | tail -n 4
./build/strata run "$MODEL" -p "Once upon a time" -n 32 --seed 1
if [ -f ../shared/models/stories260K.gguf ]; then
  echo "strata: and a real (tiny) trained model:"
  ./build/strata run ../shared/models/stories260K.gguf -p "Once upon a time" -n 48 --temp 0
fi
