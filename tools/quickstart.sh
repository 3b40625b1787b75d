#!/usr/bin/env bash
# tools/quickstart.sh: the README's first command: install, build, and run a model bigger than the RAM budget
# it sets, streaming from disk; then a real (tiny) trained model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_TESTS=OFF -DSTRATA_BENCH=OFF >/dev/null
cmake --build build --target strata -j"$(nproc)"
mkdir -p models
MODEL=models/demo-moe-random.gguf
if [ ! -f "$MODEL" ]; then
  echo "== synthesizing $MODEL: a llama-shaped mixture of experts with RANDOM weights (gibberish by design), ~590 MiB"
  ./build/strata synth "$MODEL" --layers 8 --dim 1024 --heads 16 --kv-heads 4 --vocab 8000 --experts 8 --experts-used 2 \
    --type Q8_0
fi
echo "== measuring this machine once (CPU, RAM, the disk under models/; cached in ~/.cache/strata)"
./build/strata profile --dir models | tail -n 8
echo "== the plan under a 192 MiB RAM budget (the model is ~590 MiB): what stays resident, what streams"
./build/strata inspect "$MODEL" --plan --ram 192M --ctx 512 | head -n 14
echo "== running it under that budget: text on stdout, streaming figures on stderr"
./build/strata run "$MODEL" -p "Once upon a time" -n 24 --seed 1 --ram 192M --ctx 512
if [ -f ../shared/models/stories260K.gguf ]; then
  echo "== and a real (tiny) trained model, fully resident:"
  ./build/strata run ../shared/models/stories260K.gguf -p "Once upon a time" -n 48 --temp 0
fi
