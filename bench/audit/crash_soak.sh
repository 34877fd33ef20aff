#!/usr/bin/env bash
# A longer crash soak than the test suite's 60 cycles: SIGKILL an appending child process N times (default 500)
# at random moments; after every kill all reported ids must be stored, integrity_check ok and the chain valid.
# Usage: bench/audit/crash_soak.sh [CYCLES]
set -euo pipefail
cd "$(dirname "$0")/../.."
SO8T_AUDIT_CRASH_CYCLES="${1:-500}" nice python3 -m pytest -q -p no:cacheprovider \
  tests/audit/test_crash_and_concurrency.py -k sigkill --durations=1
