"""Write an HF decoder folder (safetensors) as one GGUF file that llama.cpp and Ollama load directly.

Tensors are streamed: the header is written from the safetensors shapes, then each tensor is read, converted
and written on its own, so a 2B model exports in a few hundred MB of memory. Written with gguf-py's
GGUFWriter and its reference quantizers (q8_0, bf16), the same code llama.cpp's own converter uses.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import gguf
import numpy as np
from rich.console import Console
from safetensors import safe_open

from so8t.export.architecture import TextArchitecture, detect
from so8t.export.tokenizer import load_vocab
from so8t.models import resolve

if TYPE_CHECKING:
    from so8t.export.verify import VerificationReport

Q = gguf.GGMLQuantizationType

# Per export type: the GGUF file type and the storage type of matrices; 1-D tensors (norms, biases) stay f32,
# as in llama.cpp's own converter, because they are tiny and sensitive.
GGUF_TYPES: dict[str, tuple[gguf.LlamaFileType, Q]] = {
    "f32": (gguf.LlamaFileType.ALL_F32, Q.F32),
    "f16": (gguf.LlamaFileType.MOSTLY_F16, Q.F16),
    "bf16": (gguf.LlamaFileType.MOSTLY_BF16, Q.BF16),
    "q8_0": (gguf.LlamaFileType.MOSTLY_Q8_0, Q.Q8_0),
}


@dataclass(frozen=True)
class PlannedTensor:
    """One tensor of the output: where it comes from and how it is stored."""

    hf_name: str
    gguf_name: str
    shape: tuple[int, ...]
    storage: Q


@dataclass(frozen=True)
class ExportResult:
    """The written GGUF and, when verified, the verification report."""

    path: Path
    report: VerificationReport | None


def safetensors_files(model_dir: Path) -> dict[str, Path]:
    """HF tensor name -> the safetensors file holding it (single file or sharded with an index)."""
    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        return {name: model_dir / file for name, file in weight_map.items()}
    single = model_dir / "model.safetensors"
    if not single.is_file():
        raise FileNotFoundError(f"{model_dir} holds no model.safetensors (or sharded index) to export")
    with safe_open(single, framework="pt") as handle:
        return {name: single for name in handle.keys()}


def storage_type(shape: tuple[int, ...], matrix_type: Q) -> Q:
    """How one tensor is stored: vectors in f32; matrices in the requested type, f16 when rows do not fit q8_0."""
    if len(shape) < 2:
        return Q.F32
    block_size, _ = gguf.GGML_QUANT_SIZES[matrix_type]
    if shape[-1] % block_size != 0:
        return Q.F16
    return matrix_type


def plan_tensors(model_dir: Path, arch: TextArchitecture, matrix_type: Q) -> list[PlannedTensor]:
    """The GGUF tensors, in file order, derived from safetensors headers without loading any weights."""
    files = safetensors_files(model_dir)
    planned: list[PlannedTensor] = []
    for hf_name in sorted(files):
        gguf_name = arch.gguf_tensor_name(hf_name)
        if gguf_name is None:
            continue
        with safe_open(files[hf_name], framework="pt") as handle:
            shape = tuple(handle.get_slice(hf_name).get_shape())
        planned.append(PlannedTensor(hf_name, gguf_name, shape, storage_type(shape, matrix_type)))
    names = {tensor.gguf_name for tensor in planned}
    expected_output = "output.weight" if not arch.tie_word_embeddings else None
    for required in ("token_embd.weight", "output_norm.weight", expected_output):
        if required is not None and required not in names:
            raise ValueError(f"{model_dir}: no tensor maps to {required}; the folder is not a complete decoder")
    return planned


def _converted(data: np.ndarray, storage: Q) -> np.ndarray:
    if storage == Q.F32:
        return data.astype(np.float32, copy=False)
    return gguf.quants.quantize(data.astype(np.float32, copy=False), storage)


def _stored_nbytes(shape: tuple[int, ...], storage: Q) -> tuple[tuple[int, ...], np.dtype, int]:
    if storage in (Q.F32, Q.F16):
        dtype = np.dtype(np.float32 if storage == Q.F32 else np.float16)
        return shape, dtype, int(np.prod(shape)) * dtype.itemsize
    byte_shape = gguf.quants.quant_shape_to_byte_shape(shape, storage)
    return byte_shape, np.dtype(np.uint8), int(np.prod(byte_shape))


def write_gguf(model_dir: str | os.PathLike[str], out_file: str | os.PathLike[str], type: str = "f16") -> Path:
    """Convert a model (HF folder or registered name) to a GGUF file of the given type; no verification."""
    if type not in GGUF_TYPES:
        raise ValueError(f"unknown GGUF type {type!r}; choose one of {', '.join(GGUF_TYPES)}")
    model_dir, out_file = resolve(model_dir).folder, Path(out_file)
    file_type, matrix_type = GGUF_TYPES[type]
    arch = detect(model_dir)
    vocab = load_vocab(model_dir, arch.vocab_size)
    planned = plan_tensors(model_dir, arch, matrix_type)
    files = safetensors_files(model_dir)

    out_file.parent.mkdir(parents=True, exist_ok=True)
    partial = out_file.with_name(out_file.name + ".partial")
    writer = gguf.GGUFWriter(partial, arch.arch_name)
    try:
        writer.add_type(gguf.GGUFType.MODEL)
        writer.add_name(model_dir.name)
        writer.add_file_type(file_type)
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
        arch.add_hparams(writer)
        vocab.add_to(writer)
        for tensor in planned:
            stored_shape, dtype, nbytes = _stored_nbytes(tensor.shape, tensor.storage)
            writer.add_tensor_info(tensor.gguf_name, stored_shape, dtype, nbytes, raw_dtype=tensor.storage)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for tensor in planned:
            with safe_open(files[tensor.hf_name], framework="pt") as handle:
                data = handle.get_tensor(tensor.hf_name).float().numpy()
            writer.write_tensor_data(_converted(arch.transform(tensor.gguf_name, data), tensor.storage))
        writer.close()
    except BaseException:
        writer.close()
        partial.unlink(missing_ok=True)
        raise
    # Rename only once complete, so a failure never leaves a truncated file under the requested name.
    partial.replace(out_file)
    return out_file


def export_gguf(
    model_dir: str | os.PathLike[str],
    out_file: str | os.PathLike[str],
    type: str = "f16",
    *,
    verify: bool = True,
    llama_cpp: bool = True,
    transformers_loader: bool = True,
    console: Console | None = None,
) -> ExportResult:
    """Export the HF folder to GGUF and, unless verify=False, prove it numerically (see so8t.export.verify).

    Raises ExportVerificationError (after printing the table) when the GGUF is out of tolerance; the file is
    kept so it can be inspected. `llama_cpp=False` skips the llama.cpp runtime check (when its binding is not
    installed) and `transformers_loader=False` the transformers read-back; the gguf-reader check always runs.
    """
    from so8t.export.verify import print_report, verify_gguf

    path = write_gguf(model_dir, out_file, type)
    if not verify:
        return ExportResult(path, None)
    report = verify_gguf(model_dir, path, type, llama_cpp=llama_cpp, transformers_loader=transformers_loader)
    print_report(report, console)
    report.raise_for_failure()
    return ExportResult(path, report)
