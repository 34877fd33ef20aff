"""The SO(8) rotation gate: block rotations on attention outputs, trained, saved, and baked into o_proj."""

from so8t.rotation.bake import BakeReport, bake_gates
from so8t.rotation.bank import SO8GateBank
from so8t.rotation.inject import (
    GateError, SO8Gates, find_targets, gates_of, in_vision_tower, inject_gates, remove_gates, unwrap,
)
from so8t.rotation.io import inspect_gate_file, load_gates, model_fingerprint, save_gates

__all__ = [
    "BakeReport",
    "GateError",
    "SO8GateBank",
    "SO8Gates",
    "bake_gates",
    "find_targets",
    "gates_of",
    "in_vision_tower",
    "inject_gates",
    "inspect_gate_file",
    "load_gates",
    "model_fingerprint",
    "remove_gates",
    "save_gates",
    "unwrap",
]
