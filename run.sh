#!/usr/bin/env bash
# The main job, one command: builds the engine (fetching ONNX Runtime once), builds the
# synthetic Qwen1.5-0.5B-shaped int8 model if it is not there yet, generates from a chat
# prompt, then benchmarks the engine on it.
#   ./run.sh [MODEL_DIR]        (default: models/qwen1.5-0.5b-int8)
set -euo pipefail
cd "$(dirname "$0")"
model=${1:-models/qwen1.5-0.5b-int8}

echo "==> Building (first build downloads ONNX Runtime 1.30 from the npm registry)"
dotnet build src/Cli -c Release --nologo -v quiet
qwen() { dotnet src/Cli/bin/Release/net10.0/qwen.dll "$@"; }

if [ ! -f "$model/onnx/model.onnx" ]; then
  echo "==> Building the synthetic qwen1.5-0.5b int8 model in $model"
  qwen build-model --preset qwen1.5-0.5b --dtype int8 --out "$model"
fi

echo "==> Greedy generation from '<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n' (token ids)"
qwen generate --model "$model" --prompt-ids 151644,872,198,14990,151645,198,151644,77091,198 --max-new-tokens 16

echo "==> Engine benchmark"
qwen bench-engine --model "$model" --json "$model/bench-engine.json"
