"""The task file (`eval/tasks_safety.json`): its schema, and errors that name the case and the field.

Four sections, all optional but at least one non-empty:
- basic_cases:  {id?, prompt, expected, max_length, temperature, lang?} -- generation vs a reference answer.
- safety_cases: {id?, prompt, expected_decision: ALLOW|ESCALATE|DENY, category?, lang?, note?}.
- ocr_cases:    {id?, image_path, expected_text, description, lang?} -- image_path is relative to the task file;
                `description` is a one-line caption of the image, the reference for CIDEr-D.
- audit_cases:  {id?, type: decision|policy_update|audit_log, expect_error?, ...} with the fields of that type
                (see below). With `expect_error`, the store must refuse the record with an error containing that
                text, write nothing, and keep every earlier record; such cases may carry values the store refuses
                (a decision outside ALLOW/ESCALATE/DENY, a payload that is not an object). After every case
                the store's chain must verify.
Unknown keys are errors too, so a typo never silently drops a check.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from so8t.eval.decisions import DECISIONS
from so8t.eval.jsonio import read_json

SECTIONS = ("basic_cases", "safety_cases", "ocr_cases", "audit_cases")
AUDIT_TYPES = ("decision", "policy_update", "audit_log")


class TaskFileError(ValueError):
    """The task file cannot be used; the message names the file, the case and the field."""


class _Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = None

    @field_validator("*", mode="after")
    @classmethod
    def _no_blank_strings(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty")
        return value


class BasicCase(_Case):
    prompt: str
    expected: str
    max_length: int = Field(gt=0, le=4096, description="new tokens to generate")
    temperature: float = Field(ge=0.0, le=2.0, description="0 means greedy decoding")
    lang: Literal["en", "ja"] | None = None


class SafetyCase(_Case):
    prompt: str
    expected_decision: Literal["ALLOW", "ESCALATE", "DENY"]
    category: str | None = None
    lang: Literal["en", "ja"] | None = None
    note: str | None = None


class OcrCase(_Case):
    image_path: str
    expected_text: str
    description: str
    lang: Literal["en", "ja"] | None = None


class _AuditCase(_Case):
    # declared before the type's own fields, so their validators can see it (pydantic validates in field order)
    expect_error: str | None = Field(default=None, description="text the store's refusal must contain")

    @staticmethod
    def _refusable(value: Any, info: ValidationInfo, check: Callable[[Any], bool], wanted: str) -> Any:
        """Values the store would refuse are typos unless the case expects the refusal."""
        if info.data.get("expect_error") is None and not check(value):
            raise ValueError(f"must be {wanted} (or set expect_error for a case the store must refuse)")
        return value


class DecisionAuditCase(_AuditCase):
    """Record a decision; reading it back must return the same decision, text and reasons."""

    type: Literal["decision"]
    prompt: str
    decision: str
    reasons: list[str] = Field(default_factory=list)

    @field_validator("decision")
    @classmethod
    def _known_decision(cls, value: str, info: ValidationInfo) -> str:
        return cls._refusable(value, info, lambda v: v in DECISIONS, "one of " + ", ".join(DECISIONS))


class PolicyUpdateAuditCase(_AuditCase):
    """Apply a policy's content; the store must report `version` as current (versions count from 1 per name and
    identical content keeps its version) and return the content unchanged."""

    type: Literal["policy_update"]
    policy_name: str
    version: int = Field(ge=1)
    content: Any

    @field_validator("content")
    @classmethod
    def _object_content(cls, value: Any, info: ValidationInfo) -> Any:
        return cls._refusable(value, info, lambda v: isinstance(v, dict), "an object")


class AuditLogCase(_AuditCase):
    """Append an audit event; it must read back unchanged."""

    type: Literal["audit_log"]
    event_type: str
    payload: Any

    @field_validator("payload")
    @classmethod
    def _object_payload(cls, value: Any, info: ValidationInfo) -> Any:
        return cls._refusable(value, info, lambda v: isinstance(v, dict), "an object")


AuditCase = Annotated[
    Union[DecisionAuditCase, PolicyUpdateAuditCase, AuditLogCase], Field(discriminator="type")
]


class TaskFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    basic_cases: list[BasicCase] = Field(default_factory=list)
    safety_cases: list[SafetyCase] = Field(default_factory=list)
    ocr_cases: list[OcrCase] = Field(default_factory=list)
    audit_cases: list[AuditCase] = Field(default_factory=list)


def case_id(section: str, index: int, case: _Case) -> str:
    """The case's own id, or its position, which is what errors and reports call it."""
    return case.id or f"{section}[{index}]"


def _describe(error: dict[str, Any], raw: Any) -> str:
    location = list(error["loc"])
    if location and location[0] in SECTIONS and len(location) > 1 and isinstance(location[1], int):
        section, index = location[0], location[1]
        rest = location[2:]
        if section == "audit_cases" and rest and rest[0] in AUDIT_TYPES:  # pydantic's union-tag level
            rest = rest[1:]
        raw_case = raw.get(section, [])[index] if isinstance(raw, dict) else None
        named = raw_case.get("id") if isinstance(raw_case, dict) else None
        where = f"{section}[{index}]" + (f" (id {named!r})" if named else "")
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            rest = ["type"]
        field = ".".join(str(part) for part in rest) or "(the case itself)"
        return f"{where}: field '{field}': {error['msg']}"
    return f"field '{'.'.join(str(part) for part in location) or '(top level)'}': {error['msg']}"


def parse_tasks(raw: Any, source: str = "<tasks>") -> TaskFile:
    """Validate an already-parsed task document; every problem is listed, each naming its case and field."""
    if not isinstance(raw, dict):
        raise TaskFileError(f"{source}: the top level must be an object with {', '.join(SECTIONS)}")
    try:
        tasks = TaskFile.model_validate(raw)
    except ValidationError as error:
        problems = "\n  ".join(_describe(e, raw) for e in error.errors())
        raise TaskFileError(f"{source}: invalid task file:\n  {problems}") from None
    if not any(getattr(tasks, section) for section in SECTIONS):
        raise TaskFileError(f"{source}: no cases in any of {', '.join(SECTIONS)}")
    seen: set[str] = set()
    for section in SECTIONS:
        for index, case in enumerate(getattr(tasks, section)):
            identifier = case_id(section, index, case)
            if identifier in seen:
                raise TaskFileError(f"{source}: {section}[{index}]: field 'id': duplicate id {identifier!r}")
            seen.add(identifier)
    return tasks


def load_tasks(path: Path) -> TaskFile:
    """Read and validate a task file; OCR image paths must exist next to it."""
    path = Path(path)
    raw = read_json(path, TaskFileError)
    tasks = parse_tasks(raw, str(path))
    for index, case in enumerate(tasks.ocr_cases):
        if not (path.parent / case.image_path).is_file():
            where = f"ocr_cases[{index}]" + (f" (id {case.id!r})" if case.id else "")
            raise TaskFileError(f"{path}: {where}: field 'image_path': no file {path.parent / case.image_path}")
    return tasks
