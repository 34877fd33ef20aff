#!/usr/bin/env bash
# Issue 9's GPU benchmark in one command, from the repository root of a copy on the lent GPU machine:
#   run tool: command "bash bench/gpu/run.sh", carry [".whl"], timeout_s 600
# Installs the carried wheels (.whl/*.whl, see bench/gpu/README.md) into /tmp/site, prints the GPU's state,
# then runs every row under a global time guard. Results land in $OUT (or out/gpu-bench): gpu_bench.md,
# gpu_bench.json, gpu_bench_profile.txt and this run's log gpu_bench.log. Extra arguments go to bench.py.
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${OUT:-out/gpu-bench}"
mkdir -p "$out"
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "installing the carried wheels failed" >&2; exit 1; }
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
{
    nvidia-smi || echo "nvidia-smi not available"
    # SIGINT first: bench.py writes its tables after every row and once more on interrupt.
    timeout --signal=INT --kill-after=20 565 python3 bench/gpu/bench.py --out "$out" "$@"
} 2>&1 | tee "$out/gpu_bench.log"
