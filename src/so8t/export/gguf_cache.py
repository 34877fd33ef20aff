"""A base model, optionally with a training run, baked and exported to GGUF once, then reused from the cache.

The agent answers through llama.cpp: it decodes SmolLM2-135M on two CPU cores about six times faster than
transformers in fp32. Building the file (bake the run, write the GGUF, prove it numerically against the HF
model in llama.cpp) takes tens of seconds, so it happens once per content: the cache key covers the base model's
weight files and the run's adapter and gates, and a sidecar keeps the GGUF's own hash, checked at every load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from so8t.models.cache import cache_dir
from so8t.models.pull import sha256_file

log = logging.getLogger("so8t.export.gguf_cache")

# Bump when the export itself changes (tensor layout, metadata), so older cached files are rebuilt.
EXPORT_REVISION = 1


class GgufCacheError(RuntimeError):
    """A cached GGUF no longer matches the hash recorded when it was built."""


@dataclass(frozen=True)
class CachedGguf:
    """A GGUF ready for llama.cpp, and what it was built from (for the agent's identity contract)."""

    path: Path
    sha256: str
    type: str
    sources: dict[str, str | None]


def cached_gguf(base_folder: Path, run_dir: Path | None, type: str = "q8_0") -> CachedGguf:
    """The GGUF of base_folder (baked with run_dir's adapter and gates when given), built on first use."""
    sources = _sources(base_folder, run_dir)
    key = hashlib.sha256(json.dumps({**sources, "type": type, "revision": EXPORT_REVISION},
                                    sort_keys=True).encode()).hexdigest()[:24]
    folder = cache_dir() / "gguf"
    folder.mkdir(parents=True, exist_ok=True)
    path, sidecar = folder / f"{key}-{type}.gguf", folder / f"{key}-{type}.json"
    if not (path.is_file() and sidecar.is_file()):
        _build(base_folder, run_dir, type, path, sidecar, sources)
    recorded = json.loads(sidecar.read_text(encoding="utf-8"))["sha256"]
    actual = sha256_file(path)
    if actual != recorded:
        raise GgufCacheError(f"{path} changed after it was built (sha256 {actual[:12]}, recorded {recorded[:12]}); "
                             "delete it and its .json to rebuild")
    return CachedGguf(path, actual, type, sources)


def _sources(base_folder: Path, run_dir: Path | None) -> dict[str, str | None]:
    """Cheap, content-bound identities: file hashes for the small run files; for the large base weights their
    names, sizes and modification times (hashing 0.5-5 GB at every start would cost more than answering)."""
    weights = sorted(p for p in base_folder.iterdir() if p.suffix == ".safetensors")
    if not weights:
        raise FileNotFoundError(f"{base_folder} holds no .safetensors weights to export")
    stamp = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in weights]
    sources: dict[str, str | None] = {
        "base_folder": str(base_folder.resolve()),
        "base_weights": hashlib.sha256(json.dumps(stamp).encode()).hexdigest(),
        "adapter": None, "gates": None,
    }
    if run_dir is not None:
        adapter, gates = run_dir / "adapter" / "adapter_model.safetensors", run_dir / "gates.safetensors"
        sources["adapter"] = sha256_file(adapter)
        sources["gates"] = sha256_file(gates) if gates.is_file() else None
    return sources


def _build(base_folder: Path, run_dir: Path | None, type: str, path: Path, sidecar: Path,
           sources: dict[str, str | None]) -> None:
    """Bake (if a run is given), export and verify in a scratch folder; publish by rename, so a failed or
    concurrent build never leaves a half-written file under the cached name."""
    from so8t.export.bake import bake_run
    from so8t.export.gguf_export import export_gguf

    log.warning("building the llama.cpp answer model %s once (bake, export, verify; about a minute)", path.name)
    with tempfile.TemporaryDirectory(prefix="so8t-gguf-", dir=path.parent) as scratch:
        model_dir = base_folder
        if run_dir is not None:
            model_dir = Path(scratch) / "baked"
            bake_run(run_dir, model_dir)
        partial = Path(scratch) / path.name
        # The transformers read-back is skipped: llama.cpp's own logits against the HF model are the proof that
        # matters for a file only llama.cpp will run.
        # Its verification table goes to stderr: stdout may be a caller's JSON (`so8t ask --json`).
        export_gguf(model_dir, partial, type, verify=True, llama_cpp=True, transformers_loader=False,
                    console=Console(stderr=True))
        record = {"sha256": sha256_file(partial), "sources": sources, "type": type}
        partial_sidecar = Path(scratch) / sidecar.name
        partial_sidecar.write_text(json.dumps(record, indent=2), encoding="utf-8")
        os.replace(partial, path)
        os.replace(partial_sidecar, sidecar)


__all__ = ["CachedGguf", "GgufCacheError", "cached_gguf"]
