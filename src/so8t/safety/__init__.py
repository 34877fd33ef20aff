"""The safety judge: a versioned policy, a wheel-carried sentence encoder with a small trained classifier, and a
documented rule that fuses them (plus optional signals such as the SO8T head) into ALLOW / ESCALATE / DENY."""

from so8t.safety.judge import Judge, Verdict
from so8t.safety.policy import Policy, PolicyError, load_policy

__all__ = ["Judge", "Verdict", "Policy", "PolicyError", "load_policy"]
