#!/usr/bin/env bash
# Data-parallel scaling of so8t training on one machine: 1 GPU, then 2, 4, 8 ... up to every GPU.
# Qwen2-VL-2B-size model with random weights, LoRA r64 + SO(8) gates + PET (configs/train.qlora.json), the
# same per-GPU work in every run; prints tokens/s, scaling efficiency and peak memory per GPU and writes
# bench/results/multi_gpu.{md,json}.
#
#   bash bench/gpu/multi_gpu.sh            # 1 and every power of two up to all visible GPUs (and all of them)
#   bash bench/gpu/multi_gpu.sh 1 2        # chosen process counts (1 is always the baseline)
#
# Settings (environment): SEQ=2048 STEPS=13 WARMUP=3 QUANT=none|4bit|8bit GRAD_CKPT=0|1 WORK=scratch dir
# SIZE=tiny runs the whole script on a CPU with a toy model, to check it before a GPU machine is lent.
set -euo pipefail
cd "$(dirname "$0")/../.."

# NVLink multicast stays off: on shared hosts a program using it can take every GPU out of service.
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
SEQ=${SEQ:-2048} STEPS=${STEPS:-13} WARMUP=${WARMUP:-3} QUANT=${QUANT:-none} SIZE=${SIZE:-2b}
WORK=${WORK:-$(mktemp -d /tmp/so8t-multigpu.XXXXXX)}
TRAIN_FLAGS=(--steps "$STEPS" --quantization "$QUANT")
[[ ${GRAD_CKPT:-0} == 1 ]] && TRAIN_FLAGS+=(--gradient-checkpointing)

GPUS=$(python3 -c 'import torch; print(torch.cuda.device_count())')
if (($# > 0)); then
  COUNTS=("$@")
elif [[ $SIZE == tiny ]]; then
  COUNTS=(1 2)
else
  COUNTS=(1)
  for n in 2 4 8 16; do ((n <= GPUS)) && COUNTS+=("$n"); done
  ((GPUS > 1 && COUNTS[-1] != GPUS)) && COUNTS+=("$GPUS")
fi
if [[ $SIZE != tiny ]]; then
  for n in "${COUNTS[@]}"; do
    ((n <= GPUS)) || { echo "asked for $n processes but only $GPUS GPU(s) are visible" >&2; exit 2; }
  done
  ((${#COUNTS[@]} > 1)) || { echo "needs at least 2 GPUs to compare against 1; found $GPUS" >&2; exit 2; }
fi

echo "== prepare ($SIZE, seq $SEQ) in $WORK"
python3 bench/gpu/multi_gpu.py prepare "$WORK" --size "$SIZE" --seq "$SEQ"
RUNS=()
for n in "${COUNTS[@]}"; do
  run="$WORK/run-$n"
  rm -rf "$run"
  echo "== $n process(es)"
  if ((n == 1)); then  # the baseline is how a one-GPU user runs it: a plain process, no DDP wrapper
    CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0} python3 bench/gpu/multi_gpu.py train "$WORK" "$run" "${TRAIN_FLAGS[@]}"
  else
    python3 -m accelerate.commands.launch --config_file configs/accelerate/ddp.yaml --num_processes "$n" \
      bench/gpu/multi_gpu.py train "$WORK" "$run" "${TRAIN_FLAGS[@]}"
  fi
  RUNS+=("$run")
done
RESULTS=bench/results
[[ $SIZE == tiny ]] && RESULTS="$WORK/results"  # a smoke test never overwrites the committed table
python3 bench/gpu/multi_gpu.py report "${RUNS[@]}" --warmup "$WARMUP" --results "$RESULTS"
