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

echo "==> Sentiment (synthetic random weights: the label is meaningless, the pipeline is real)"
qwen sentiment --model "$model" "会议推迟了，真扫兴"

echo "==> Chat reply, streamed (synthetic random weights give meaningless text)"
qwen generate --model "$model" --prompt "Hello! What can you do?" --max-new-tokens 24
echo

echo "==> Engine benchmark"
qwen bench-engine --model "$model" --json "$model/bench-engine.json"
