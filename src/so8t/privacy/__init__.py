"""Privacy helpers shared by every input path (OCR summaries, typed prompts, audit records)."""

from so8t.privacy.redact import PLACEHOLDERS, Redaction, redact

__all__ = ["PLACEHOLDERS", "Redaction", "redact"]
