#!/usr/bin/env bash
# Sets everything up (with test extras) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
python3 -m pytest -q "$@"
