#!/usr/bin/env bash
# Bake a trained run into a plain HF model, export it to GGUF (verified against the baked model) and write an
# Ollama Modelfile next to it.
# Usage: scripts/bake_and_convert.sh RUN_DIR OUT_DIR [f16|f32|bf16|q8_0] [extra `so8t export gguf` options]
# Example: scripts/bake_and_convert.sh runs/demo out/demo q8_0 --no-llama-cpp
set -euo pipefail
if [ "$#" -lt 2 ]; then
  sed -n '2,5p' "$0" >&2
  exit 2
fi
run_dir="$1"; out_dir="$2"; gguf_type="${3:-f16}"
shift "$(( $# < 3 ? $# : 3 ))"

so8t bake --adapter "$run_dir" --out "$out_dir/hf"
so8t export gguf --model "$out_dir/hf" --out "$out_dir/model-$gguf_type.gguf" --type "$gguf_type" "$@"
so8t export ollama --gguf "$out_dir/model-$gguf_type.gguf" --out "$out_dir"
echo "Ollama: ollama create so8t -f $out_dir/Modelfile"
