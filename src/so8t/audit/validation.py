"""Checks on everything a caller hands to the store, before any write: errors name the field and the problem."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from so8t.audit.chain import canonical_json
from so8t.audit.errors import InvalidRecordError
from so8t.audit.records import DECISIONS

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_EVENT_TYPE = re.compile(r"[A-Za-z0-9_.:-]{1,100}")


def decision_value(value: object) -> str:
    if not isinstance(value, str) or value not in DECISIONS:
        raise InvalidRecordError(f"decision must be one of {', '.join(DECISIONS)}; got {value!r}")
    return value


def text(name: str, value: object, *, optional: bool = False, non_empty: bool = False) -> str | None:
    """A Python str that SQLite can store as UTF-8 (no lone surrogates)."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidRecordError(f"{name} must be a string; got {type(value).__name__}")
    if non_empty and not value.strip():
        raise InvalidRecordError(f"{name} must not be empty")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidRecordError(f"{name} is not valid Unicode text: {exc.reason} at index {exc.start}") from exc
    return value


def json_object(name: str, value: Mapping[str, Any] | str | None) -> str:
    """Canonical JSON text of an object given as a mapping or as JSON text."""
    if value is None:
        value = {}
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidRecordError(f"{name} is not valid JSON: {exc}") from exc
    if not isinstance(value, Mapping):
        raise InvalidRecordError(f"{name} must be a JSON object; got {type(value).__name__}")
    return _canonical(name, dict(value))


def string_list(name: str, values: Sequence[str]) -> str:
    """Canonical JSON array of strings; a bare string is refused (it would become a list of characters)."""
    return _canonical(name, _strings(name, values))


def sha256_list(name: str, values: Sequence[str]) -> str:
    digests = _strings(name, values)
    for i, digest in enumerate(digests):
        if not _SHA256_HEX.fullmatch(digest):
            raise InvalidRecordError(f"{name}[{i}] is not a lowercase hex SHA-256 digest: {digest!r}")
    return _canonical(name, digests)


def _strings(name: str, values: Sequence[str]) -> list[str]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise InvalidRecordError(f"{name} must be a list of strings; got {type(values).__name__}")
    return [text(f"{name}[{i}]", v) for i, v in enumerate(values)]  # type: ignore[misc]


def event_type(value: object) -> str:
    if not isinstance(value, str) or not _EVENT_TYPE.fullmatch(value):
        raise InvalidRecordError(f"event_type must be 1-100 characters of letters, digits and _.:-; got {value!r}")
    return value


def non_negative_number(name: str, value: object, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise InvalidRecordError(f"{name} must be a finite number >= 0; got {value!r}")
    return float(value)


def positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRecordError(f"{name} must be an integer >= 1; got {value!r}")
    return value


def _canonical(name: str, value: Any) -> str:
    try:
        encoded = canonical_json(value)
    except (ValueError, TypeError) as exc:  # NaN/Infinity, circular references, non-JSON types
        raise InvalidRecordError(f"{name} cannot be stored as JSON: {exc}") from exc
    return text(name, encoded)
