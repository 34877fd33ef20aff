"""The HTTP API's request and response shapes: they are the OpenAPI schema that clients and the fuzz test read."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.dataclasses import dataclass as pydantic_dataclass

from so8t.audit import BadRow, Decision, Policy
from so8t.audit.records import DecisionValue

MAX_NOTE_CHARS = 4000
MAX_REVIEWER_CHARS = 200


class Problem(BaseModel):
    """Every error answer: `detail` says what was wrong and, where it can, what to do."""

    detail: str | list[dict[str, Any]]


ISO_TIME = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"


class StrictQuery(BaseModel):
    """Unknown query parameters are refused: a misspelt filter must not silently return everything."""

    model_config = ConfigDict(extra="forbid")


class DecisionQuery(StrictQuery):
    decision: Literal["ALLOW", "ESCALATE", "DENY"] | None = None
    since: str | None = Field(None, pattern=ISO_TIME, description="Inclusive, ISO-8601 date or time; no zone means UTC.")
    until: str | None = Field(None, pattern=ISO_TIME, description="Exclusive, ISO-8601 date or time.")
    search: str | None = Field(None, max_length=200, description="Text in the prompt, OCR summary, answer or reasons.")
    review_status: Literal["pending", "approved", "rejected"] | None = None
    limit: int = Field(100, ge=1, le=500)
    offset: int = Field(0, ge=0, le=10**9)


class QueueQuery(StrictQuery):
    limit: int = Field(100, ge=1, le=500)


class PolicyQuery(StrictQuery):
    name: str | None = Field(None, max_length=100, description="Default: the policy the agent applied last.")


class ImageSummary(BaseModel):
    """The redacted OCR summary of one image; the image itself is never stored."""

    model_config = ConfigDict(extra="allow")
    sha256: str
    lang: str
    summary: str


class AskResponse(BaseModel):
    """The agent's verdict on one request (SafetyAgent's AskResult)."""

    model_config = ConfigDict(extra="allow")
    request_id: str
    decision: DecisionValue
    confidence: float
    reasons: list[str]
    scores: dict[str, float]
    summaries: list[ImageSummary]
    answer: str | None
    withheld: bool
    latency_ms: float
    error: str | None


@pydantic_dataclass(frozen=True)
class DecisionRecord(Decision):
    """One row of the decision log (so8t.audit.Decision) with its derived fields; content fields are null once
    retention purged them (their hashes stay)."""

    purged: bool = False
    review_status: Literal["pending", "approved", "rejected"] | None = None


class DecisionList(BaseModel):
    decisions: list[DecisionRecord]
    limit: int
    offset: int


class ReviewRequest(BaseModel):
    """A reviewer's verdict on an ESCALATE decision; `reviewer` and `note` go on the record."""

    model_config = ConfigDict(extra="forbid")
    request_id: str = Field(min_length=1, max_length=200)
    approve: bool
    reviewer: str = Field(min_length=1, max_length=MAX_REVIEWER_CHARS, pattern=r"\S")
    note: str = Field(default="", max_length=MAX_NOTE_CHARS)


class VerifyResponse(BaseModel):
    """Outcome of verifying the audit trail: file integrity plus the recomputed hash chain."""

    ok: bool
    problems: list[str]
    integrity: list[str]
    rows_checked: int
    head_seq: int
    head_hash: str
    first_bad: BadRow | None


class PolicyHistory(BaseModel):
    name: str
    current: Policy
    history: list[Policy]


class PolicyUpdate(BaseModel):
    """A new policy for the running agent; the store records it with a checksum and a JSON Patch from the last."""

    model_config = ConfigDict(extra="forbid")
    content: dict[str, Any]
    reviewer: str = Field(min_length=1, max_length=MAX_REVIEWER_CHARS, pattern=r"\S", description="Who applies it (recorded).")


class Health(BaseModel):
    status: Literal["ok"]
    version: str


# ---------------------------------------------------------------- OpenAI-style chat completions


class ChatTextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatImageURL(BaseModel):
    url: str = Field(description="A data: URL (data:image/png;base64,...); so8t never fetches remote URLs.")
    detail: str | None = None


class ChatImagePart(BaseModel):
    type: Literal["image_url"]
    image_url: ChatImageURL


ChatContentPart = Annotated[ChatTextPart | ChatImagePart, Field(discriminator="type")]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ChatContentPart] | None = None


class ChatCompletionRequest(BaseModel):
    """The OpenAI request shape; only the last user message is judged and answered (the agent is single-turn)."""

    model_config = ConfigDict(extra="allow")
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = Field(default=False, json_schema_extra={"const": False}, description="Streaming is not supported.")


class ChatAnswer(BaseModel):
    role: Literal["assistant"]
    content: str
    refusal: str | None


class ChatChoice(BaseModel):
    index: int
    message: ChatAnswer
    finish_reason: Literal["stop", "content_filter"]


class ChatCompletion(BaseModel):
    """The OpenAI response shape plus `so8t`: the full decision (request id, decision, reasons, scores)."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatChoice]
    so8t: AskResponse
