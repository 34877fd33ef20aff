"""Export a (baked) HF decoder to GGUF for llama.cpp / Ollama, verified numerically against its source."""

from so8t.export.architecture import UnsupportedModelError
from so8t.export.gguf_export import GGUF_TYPES, ExportResult, export_gguf, write_gguf
from so8t.export.ollama import UnsupportedChatTemplateError, export_ollama
from so8t.export.tokenizer import UnsupportedTokenizerError
from so8t.export.verify import ExportVerificationError, VerificationReport, verify_gguf

__all__ = [
    "GGUF_TYPES",
    "ExportResult",
    "ExportVerificationError",
    "UnsupportedChatTemplateError",
    "UnsupportedModelError",
    "UnsupportedTokenizerError",
    "VerificationReport",
    "export_gguf",
    "export_ollama",
    "verify_gguf",
    "write_gguf",
]
