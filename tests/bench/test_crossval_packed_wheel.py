"""bench/judge/crossval.py pack-wheel: the slimmed e5 file the GPU machine trains on gives the same bottom-layer
states as the real wheel for every text it was packed for, so out-of-fold scores computed there hold here."""

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench" / "judge"))

import crossval  # noqa: E402

from so8t.safety.dataset import SafetyRow  # noqa: E402
from so8t.safety.e5_classifier import E5HarmClassifier  # noqa: E402
from so8t.safety.e5_wheel import E5Wheel  # noqa: E402


def _row(text: str) -> SafetyRow:
    return SafetyRow(id=text, text=text, label="benign", decision="ALLOW", lang="en", category="general", source="test",
                     group=text, split="train")


def test_packed_wheel_keeps_the_states_of_its_texts_and_drops_other_tokens(tmp_path):
    kept = ["How do I kill a zombie process on Linux?", "図書館は何時に開きますか"]
    crossval.pack_wheel([_row(text) for text in kept], tmp_path / "packed.bin")
    real, packed = E5Wheel(), E5Wheel(tmp_path / "packed.bin")
    table = np.ascontiguousarray(packed.word_blocks)
    assert 0 < np.count_nonzero(table.view(np.uint8).reshape(len(table), -1).any(axis=1)) < 40
    meta = {"train_config": {"max_tokens": 128}}
    for text in kept:
        (a,), (b,) = (E5HarmClassifier(w, 4, meta).bottom_states([text]) for w in (real, packed))
        assert np.array_equal(a, b), text
    other = "Quantum chromodynamics lectures"
    (a,), (b,) = (E5HarmClassifier(w, 4, meta).bottom_states([other]) for w in (real, packed))
    assert not np.allclose(a, b)
