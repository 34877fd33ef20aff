"""so8t: a local, privacy-first safety agent and fine-tuning toolkit with SO(8) rotation gates."""

import os
import sys

# OpenMP threads that find nothing to do sleep instead of spinning. torch, Tesseract and llama.cpp share one
# libgomp, which reads this once, when it loads (so: before torch is imported). Spinning, llama.cpp's two threads
# on a 2-core machine decode 15 ms per token idle but 54 / 104 ms beside one / two busy processes (sleeping: 20, 30,
# 37 ms; bench/agent/omp_wait_policy.py), and once 2.1 s per token beside a training job. Set
# OMP_WAIT_POLICY yourself to override.
#
# True when libgomp was loaded before so8t (torch imported first) with no policy of the user's: too late to set.
OPENMP_POLICY_TOO_LATE = ("OMP_WAIT_POLICY" not in os.environ and sys.platform == "linux"
                          and "libgomp" in open("/proc/self/maps", encoding="utf-8").read())
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
