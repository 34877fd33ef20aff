"""so8t: a local, privacy-first safety agent and fine-tuning toolkit with SO(8) rotation gates."""

import os
import sys

# OpenMP threads that find nothing to do sleep instead of spinning. torch (the judge's e5) and llama.cpp builds
# with OpenMP share one libgomp, which reads this once, when it loads (so: before torch is imported). Spinning, an
# OpenMP llama.cpp's two threads on a 2-core machine decoded 15 ms per token idle but 54 / 104 ms beside one / two
# busy processes (sleeping: 20, 30, 37 ms), and once 2.1 s per token beside a training job. (scripts/setup.sh builds
# llama.cpp without OpenMP; its runtime fits its threads to the free cores instead: so8t/export/cpu_share.py.)
# Set OMP_WAIT_POLICY yourself to override.
#
# True when libgomp was loaded before so8t (torch imported first) with no policy of the user's: too late to set.
OPENMP_POLICY_TOO_LATE = ("OMP_WAIT_POLICY" not in os.environ and sys.platform == "linux"
                          and "libgomp" in open("/proc/self/maps", encoding="utf-8").read())
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
