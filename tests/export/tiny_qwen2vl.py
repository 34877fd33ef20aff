"""A tiny random Qwen2-VL with a Qwen2-style byte-level BPE tokenizer, built offline for export tests."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast, Qwen2VLConfig, Qwen2VLForConditionalGeneration

from so8t.export.tokenizer import QWEN2_SPLIT_PATTERN

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# ChatML with a built-in default system prompt, the shape of Qwen2-VL's text chat template.
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a careful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
CORPUS = [
    "The screen shows a login form asking for a password and a one-time code.",
    "Invoice 2024-0917: 3 items at $12.50 each, total $37.50 (tax 8.25%).",
    "def area(radius):\n    return 3.14159 * radius ** 2\n",
    "Der Zug fährt um 7 Uhr ab. Привет, мир! 東京は晴れです。",
    "Safety first: never share passwords, PINs or recovery phrases with anyone.",
    "   Indented line\n\n\ttab\tseparated\tvalues\n",
] * 20
EMBEDDING_ROWS = 640  # more rows than tokens, as in real Qwen2 checkpoints: the exporter must pad the vocab


def build_tokenizer() -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=500, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   chat_template=CHAT_TEMPLATE)


def build_tiny_qwen2vl(out_dir: Path) -> Path:
    """Save a random 2-layer Qwen2-VL (vision tower included) with its tokenizer to out_dir."""
    tokenizer = build_tokenizer()
    assert len(tokenizer) < EMBEDDING_ROWS
    special = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    text_config = dict(
        vocab_size=EMBEDDING_ROWS, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, rms_norm_eps=1e-6,
        rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 10000.0},
        bos_token_id=special["<|endoftext|>"], eos_token_id=special["<|im_end|>"],
        pad_token_id=special["<|endoftext|>"], initializer_range=0.2,
    )
    vision_config = dict(depth=1, embed_dim=32, hidden_size=64, num_heads=2, patch_size=14,
                         spatial_merge_size=2, temporal_patch_size=2)
    # Large random weights give decisive next-token choices, so top-1 agreement measures the export, not noise.
    config = Qwen2VLConfig(text_config=text_config, vision_config=vision_config,
                           image_token_id=EMBEDDING_ROWS - 1, video_token_id=EMBEDDING_ROWS - 2,
                           vision_start_token_id=EMBEDDING_ROWS - 3, vision_end_token_id=EMBEDDING_ROWS - 4,
                           tie_word_embeddings=False)
    torch.manual_seed(0)
    model = Qwen2VLForConditionalGeneration(config).eval()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
