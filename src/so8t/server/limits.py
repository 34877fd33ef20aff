"""Input limits in one place, so the parser, the OpenAPI schema and the error messages agree."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class ServerLimits:
    """What one request may carry. Uploads are held in memory only, so these bound the server's memory too."""

    max_request_bytes: int = 16 * MIB
    max_images: int = 4
    max_prompt_chars: int = 16_000

    def __post_init__(self) -> None:
        for name in ("max_request_bytes", "max_images", "max_prompt_chars"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {value!r}")

    def describe_request_limit(self) -> str:
        size = self.max_request_bytes
        return f"{size / MIB:g} MiB" if size >= MIB else f"{size} bytes"
