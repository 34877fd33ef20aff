"""The JSON API under /v1, plus /healthz. Reviewer routes take `Authorization: Bearer <reviewer token>`."""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import asdict
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

import so8t
from so8t.audit import Policy, Review
from so8t.server.schemas import (
    AskResponse,
    ChatAnswer,
    ChatChoice,
    ChatCompletion,
    ChatCompletionRequest,
    ChatImagePart,
    DecisionQuery,
    DecisionList,
    DecisionRecord,
    Health,
    PolicyHistory,
    PolicyQuery,
    PolicyUpdate,
    Problem,
    QueueQuery,
    ReviewRequest,
    VerifyResponse,
)
from so8t.server.state import AskOutcome, PolicyChangingAgent, ServerState, server_state
from so8t.server.uploads import check_ask, read_ask_form

bearer = HTTPBearer(auto_error=False, description="The reviewer token that `so8t serve` reads or prints at start.")


def single_valued_query(request: Request) -> None:
    """422 for a query parameter given twice (?decision=DENY&decision=ALLOW): which one was meant is unknowable."""
    repeated = sorted({key for key in request.query_params if len(request.query_params.getlist(key)) > 1})
    if repeated:
        raise HTTPException(422, f"query parameter(s) given more than once: {', '.join(repeated)}")


router = APIRouter(dependencies=[Depends(single_valued_query)])

UNAUTHORIZED = {401: {"model": Problem, "description": "No valid reviewer token"}}
INVALID = {
    400: {"model": Problem, "description": "The body could not be parsed"},
    422: {"model": Problem, "description": "The request is not valid; `detail` says why"},
}
TOO_LARGE = {413: {"model": Problem, "description": "The body is over the upload limit"}}


def require_reviewer(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
    """401 unless the request carries the reviewer token; a wrong token (not a missing one) is recorded."""
    state = server_state(request)
    presented = credentials.credentials if credentials else None
    if state.tokens.matches(presented):
        return
    if presented:
        state.log_event("web.auth_failed", request, method=request.method)
    reason = "this server has no reviewer token configured" if not state.tokens.configured else "a valid reviewer token is required"
    raise HTTPException(
        401, f"{reason}: send 'Authorization: Bearer <token>'", headers={"WWW-Authenticate": 'Bearer realm="so8t reviewer"'}
    )


@router.get("/healthz", response_model=Health, tags=["status"])
def healthz() -> dict[str, str]:
    """Liveness: the server answers. (It does not load the model.)"""
    return {"status": "ok", "version": so8t.__version__}


@router.post(
    "/v1/ask",
    response_model=AskResponse,
    tags=["agent"],
    responses={415: {"model": Problem}, **TOO_LARGE, **INVALID},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "prompt": {"type": "string", "description": "The request text."},
                            "images": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                                "description": "Images to read (OCR); held in memory only, never stored.",
                            },
                        },
                        "required": ["prompt"],
                    }
                }
            },
        }
    },
)
async def ask(request: Request) -> dict[str, Any]:
    """Judge a prompt (and images): ALLOW answers locally, ESCALATE holds it for review, DENY refuses.

    Every request that reaches the agent leaves a decision in the audit trail, failures included; requests
    refused here first (too large, no prompt, not multipart) reach neither the agent nor the trail.
    """
    state = server_state(request)
    form = await read_ask_form(request, state.limits)
    result = await run_in_threadpool(state.ask, form.prompt, form.images)
    return result.to_dict()


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    tags=["agent"],
    responses={**TOO_LARGE, **INVALID},
)
async def chat_completions(body: ChatCompletionRequest, request: Request) -> dict[str, Any]:
    """OpenAI-style: the last user message goes through the same gate as /v1/ask.

    ALLOW returns the local model's answer; ESCALATE and DENY return a hold or refusal message with
    finish_reason `content_filter`. The full decision is in the `so8t` field.
    """
    state = server_state(request)
    if body.stream:
        raise HTTPException(400, "stream=true is not supported; ask without streaming")
    prompt, images = _last_user_turn(body)
    check_ask(prompt, len(images), state.limits)
    result = await run_in_threadpool(state.ask, prompt, images)
    content, refusal, finish_reason = _reply(result)
    return {
        "id": f"chatcmpl-{result.request_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "so8t",
        "choices": [
            {"index": 0, "message": ChatAnswer(role="assistant", content=content, refusal=refusal), "finish_reason": finish_reason}
        ],
        "so8t": result.to_dict(),
    }


def _last_user_turn(body: ChatCompletionRequest) -> tuple[str, list[bytes]]:
    """Text and images of the last user message; earlier turns and system prompts never reach the gate."""
    user_messages = [message for message in body.messages if message.role == "user"]
    if not user_messages:
        raise HTTPException(422, "no message with role 'user' to answer")
    content = user_messages[-1].content
    if content is None or isinstance(content, str):
        return content or "", []
    texts = [part.text for part in content if not isinstance(part, ChatImagePart)]
    images = [_data_url_bytes(part.image_url.url, number) for number, part in enumerate(
        (part for part in content if isinstance(part, ChatImagePart)), start=1
    )]
    return "\n".join(texts), images


def _data_url_bytes(url: str, number: int) -> bytes:
    if not url.startswith("data:"):
        raise HTTPException(422, f"image {number}: so8t never fetches remote images; send it as a data: URL (data:image/png;base64,...)")
    header, comma, payload = url.partition(",")
    if not comma or not header.endswith(";base64"):
        raise HTTPException(422, f"image {number}: only base64 data: URLs are accepted (data:image/png;base64,...)")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise HTTPException(422, f"image {number}: the data: URL is not valid base64 ({exc})") from exc
    if not data:
        raise HTTPException(422, f"image {number}: the data: URL holds no bytes")
    return data


def _reply(result: AskOutcome) -> tuple[str, str | None, Literal["stop", "content_filter"]]:
    """The assistant message for a decision: the answer when allowed, otherwise why there is none."""
    if result.decision == "ALLOW" and not result.withheld and result.answer is not None:
        return result.answer, None, "stop"
    if result.withheld:
        refusal = f"The answer was withheld: the output check judged it unsafe (request {result.request_id})."
    elif result.decision == "ESCALATE":
        refusal = f"This request is held for human review (request {result.request_id}); nothing was answered."
    elif result.decision == "DENY":
        refusal = f"I can't help with that request (request {result.request_id})."
    else:
        refusal = f"No answer was produced (request {result.request_id}): {result.error or 'unknown error'}"
    return refusal, refusal, "content_filter"


@router.get(
    "/v1/decisions",
    response_model=DecisionList,
    tags=["audit"],
    dependencies=[Depends(require_reviewer)],
    responses={**UNAUTHORIZED, **INVALID},
)
def decisions(request: Request, query: Annotated[DecisionQuery, Query()]) -> dict[str, Any]:
    """The decision log, newest first."""
    found = server_state(request).audit.decisions(**query.model_dump())
    return {"decisions": [d.to_dict() for d in found], "limit": query.limit, "offset": query.offset}


@router.get(
    "/v1/decisions/{request_id}",
    response_model=DecisionRecord,
    tags=["audit"],
    dependencies=[Depends(require_reviewer)],
    responses={**UNAUTHORIZED, 404: {"model": Problem}},
)
def decision(request_id: str, request: Request) -> dict[str, Any]:
    return server_state(request).audit.decision(request_id).to_dict()


@router.get(
    "/v1/review",
    response_model=DecisionList,
    tags=["review"],
    dependencies=[Depends(require_reviewer)],
    responses={**UNAUTHORIZED, **INVALID},
)
def review_queue(request: Request, query: Annotated[QueueQuery, Query()]) -> dict[str, Any]:
    """ESCALATE decisions waiting for a human, oldest first."""
    pending = server_state(request).audit.pending_reviews(limit=query.limit)
    return {"decisions": [d.to_dict() for d in pending], "limit": query.limit, "offset": 0}


@router.post(
    "/v1/review",
    response_model=Review,
    tags=["review"],
    dependencies=[Depends(require_reviewer)],
    responses={**UNAUTHORIZED, 404: {"model": Problem}, 409: {"model": Problem}, **INVALID},
)
def review(body: ReviewRequest, request: Request) -> dict[str, Any]:
    """Approve or reject an ESCALATE decision; the verdict, reviewer and note go on the record (once per request)."""
    state = server_state(request)
    state.agent.review(body.request_id, body.approve, body.reviewer, body.note)
    return asdict(state.audit.decision(body.request_id).review)


@router.get("/v1/audit/verify", response_model=VerifyResponse, tags=["audit"])
def verify(request: Request) -> dict[str, Any]:
    """Check the database file and recompute the whole hash chain; `ok` is false with the first problem named."""
    report = server_state(request).audit.verify()
    return {
        "ok": report.ok,
        "problems": report.problems(),
        "integrity": report.integrity,
        "rows_checked": report.rows_checked,
        "head_seq": report.head_seq,
        "head_hash": report.head_hash,
        "first_bad": None if report.first_bad is None else asdict(report.first_bad),
    }


@router.get("/v1/policy", response_model=PolicyHistory, tags=["policy"], responses={404: {"model": Problem}, **INVALID})
def policy(request: Request, query: Annotated[PolicyQuery, Query()]) -> dict[str, Any]:
    """The current version of a policy and every version before it (oldest first), each with its JSON Patch diff."""
    state = server_state(request)
    chosen = query.name or policy_name(state)
    return {
        "name": chosen,
        "current": asdict(state.audit.policy(chosen)),
        "history": [asdict(version) for version in state.audit.policy_history(chosen)],
    }


def policy_name(state: ServerState) -> str:
    current = state.current_policy()
    if current is None:
        raise HTTPException(404, "no policy has been applied to this audit store")
    return current.name


policy_writes = APIRouter(dependencies=[Depends(single_valued_query)])  # included only for agents that can change their policy while running


@policy_writes.post(
    "/v1/policy",
    response_model=Policy,
    tags=["policy"],
    dependencies=[Depends(require_reviewer)],
    responses={**UNAUTHORIZED, **INVALID},
)
def apply_policy(body: PolicyUpdate, request: Request) -> dict[str, Any]:
    """Give the running agent a new policy; unchanged content keeps its version. Who applied it is recorded."""
    state = server_state(request)
    return asdict(apply_policy_version(state, request, body.content, body.reviewer))


def apply_policy_version(state: ServerState, request: Request, content: dict[str, Any], reviewer: str) -> Policy:
    """Apply through the agent (which validates and records it) and log who did it; shared with the Policy page."""
    before = state.current_policy()
    try:
        applied = cast(PolicyChangingAgent, state.agent).apply_policy(content)  # offered only if can_change_policy
    except ValueError as exc:
        raise HTTPException(422, f"policy refused: {exc}") from exc
    changed = before is None or before.seq != applied.seq
    state.log_event("web.policy_apply", request, reviewer=reviewer, name=applied.name, version=applied.version, changed=changed)
    return applied
