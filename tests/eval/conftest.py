"""Fixtures for so8t.eval tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_helpers import SqliteAuditStore


@pytest.fixture
def audit_store_factory(tmp_path: Path):
    return lambda: SqliteAuditStore(tmp_path / "audit.db")
