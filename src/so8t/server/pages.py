"""The browser pages: Ask, Review queue, Audit log, Policy, and reviewer log-in. Server-rendered, no scripts.

Every form posts back a per-session CSRF token; review, audit and policy-changing pages need a reviewer
session (log-in with the reviewer token), and without one answer 401 with the log-in form.
"""

from __future__ import annotations

import json
import secrets
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from so8t.audit import DECISIONS
from so8t.server.api import apply_policy_version, policy_name
from so8t.server.auth import SESSION_CSRF, SESSION_REVIEWER, csrf_token, csrf_valid, session_reviewer
from so8t.server.schemas import MAX_NOTE_CHARS, MAX_REVIEWER_CHARS
from so8t.server.state import server_state
from so8t.server.uploads import read_ask_form

router = APIRouter(include_in_schema=False)
AUDIT_PAGE_SIZE = 50
REVIEW_STATUSES = ("pending", "approved", "rejected")


class LoginRequired(Exception):
    """Raised by reviewer-only pages; answered with 401 and the log-in form (see app.py)."""


def render(request: Request, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page with what every page shows: who is logged in, the CSRF token, a flash message, the queue size."""
    state = server_state(request)
    reviewer = session_reviewer(request)
    context = {
        "reviewer": reviewer,
        "csrf_token": csrf_token(request),
        "flash": request.session.pop("flash", None),
        "limits": state.limits,
        "token_configured": state.tokens.configured,
        **context,
    }
    if "pending" not in context:  # error pages pass None: the store may be what failed
        context["pending"] = state.audit.stats().pending_reviews if reviewer else None
    return request.app.state.templates.TemplateResponse(request, template, context, status_code=status_code)


def require_page_reviewer(request: Request) -> str:
    reviewer = session_reviewer(request)
    if reviewer is None:
        raise LoginRequired()
    return reviewer


async def posted_form(request: Request) -> FormData:
    """A urlencoded form with a valid CSRF token (file uploads are refused: they would be spooled to disk)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("application/x-www-form-urlencoded"):
        raise HTTPException(415, "this form must be sent as application/x-www-form-urlencoded")
    form = await request.form()
    check_csrf(request, form.get("csrf_token"))
    return form


def check_csrf(request: Request, submitted: object) -> None:
    if not csrf_valid(request, submitted):
        raise HTTPException(403, "the form's security token is missing or out of date: reload the page and submit it again")


def text_field(form: FormData, name: str, *, limit: int, required: bool = False) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise HTTPException(422, f"{name} must be text")
    if required and not value.strip():
        raise HTTPException(422, f"{name} must not be empty")
    if len(value) > limit:
        raise HTTPException(422, f"{name} has {len(value)} characters; the limit is {limit}")
    return value


def flash_and_redirect(request: Request, message: str, to: str) -> RedirectResponse:
    request.session["flash"] = message
    return RedirectResponse(to, status_code=303)


def safe_next(target: object) -> str:
    """Only same-site paths: a log-in link must not redirect to another site."""
    if isinstance(target, str) and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


# ---------------------------------------------------------------- Ask


@router.get("/", response_class=HTMLResponse)
def ask_page(request: Request) -> HTMLResponse:
    return render(request, "ask.html", active="ask")


@router.post("/ask", response_class=HTMLResponse)
async def ask_submit(request: Request) -> HTMLResponse:
    state = server_state(request)
    form = await read_ask_form(request, state.limits)
    check_csrf(request, form.fields.get("csrf_token"))
    result = await run_in_threadpool(state.ask, form.prompt, form.images)
    return render(request, "ask.html", active="ask", result=result.to_dict(), prompt=form.prompt)


# ---------------------------------------------------------------- Review queue


@router.get("/review", response_class=HTMLResponse)
def review_page(request: Request) -> HTMLResponse:
    require_page_reviewer(request)
    return render(request, "review.html", active="review", queue=server_state(request).audit.pending_reviews(limit=200))


@router.post("/review/{request_id}")
async def review_submit(request_id: str, request: Request) -> RedirectResponse:
    reviewer = require_page_reviewer(request)
    form = await posted_form(request)
    verdict = form.get("verdict")
    if verdict not in ("approve", "reject"):
        raise HTTPException(422, "verdict must be approve or reject")
    note = text_field(form, "note", limit=MAX_NOTE_CHARS)
    state = server_state(request)
    await run_in_threadpool(state.agent.review, request_id, verdict == "approve", reviewer, note)
    done = "Approved" if verdict == "approve" else "Rejected"
    return flash_and_redirect(request, f"{done} request {request_id}.", "/review")


# ---------------------------------------------------------------- Audit log


def _date_filter(name: str, value: str | None, *, end_of_day: bool = False) -> str | None:
    """A date from the filter form; `until` includes its whole day (the store's bound is exclusive)."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, f"{name} must be a date (YYYY-MM-DD); got {value!r}") from None
    return (day + timedelta(days=1) if end_of_day else day).isoformat()


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    search: str = "",
    decision: str = "",
    since: str = "",
    until: str = "",
    review_status: str = "",
    offset: int = 0,
) -> HTMLResponse:
    require_page_reviewer(request)
    if decision and decision not in DECISIONS:
        raise HTTPException(422, f"decision must be one of {', '.join(DECISIONS)}; got {decision!r}")
    if review_status and review_status not in REVIEW_STATUSES:
        raise HTTPException(422, f"review status must be one of {', '.join(REVIEW_STATUSES)}; got {review_status!r}")
    if not 0 <= offset <= 10**9:
        raise HTTPException(422, f"offset must be between 0 and 10^9; got {offset}")
    audit = server_state(request).audit
    rows = audit.decisions(
        decision=decision or None,
        since=_date_filter("since", since),
        until=_date_filter("until", until, end_of_day=True),
        search=search or None,
        review_status=review_status or None,
        limit=AUDIT_PAGE_SIZE + 1,  # one extra row says whether an older page exists
        offset=offset,
    )
    filters = {"search": search, "decision": decision, "since": since, "until": until, "review_status": review_status}
    return render(
        request,
        "audit.html",
        active="audit",
        rows=rows[:AUDIT_PAGE_SIZE],
        filters=filters,
        offset=offset,
        page_size=AUDIT_PAGE_SIZE,
        has_older=len(rows) > AUDIT_PAGE_SIZE,
        report=audit.verify(),
        events=audit.events(limit=20),
        decisions=DECISIONS,
        review_statuses=REVIEW_STATUSES,
    )


@router.get("/audit/{request_id}", response_class=HTMLResponse)
def decision_page(request_id: str, request: Request) -> HTMLResponse:
    require_page_reviewer(request)
    record = server_state(request).audit.decision(request_id)
    return render(request, "decision.html", active="audit", record=record)


# ---------------------------------------------------------------- Policy


def _policy_page(request: Request, name: str, *, status_code: int = 200, draft: str | None = None, error: str | None = None) -> HTMLResponse:
    audit = server_state(request).audit
    current = audit.policy(name)
    return render(
        request,
        "policy.html",
        status_code=status_code,
        active="policy",
        current=current,
        history=list(reversed(audit.policy_history(name))),
        draft=draft if draft is not None else json.dumps(current.content, indent=2, ensure_ascii=False),
        error=error,
        can_change_policy=server_state(request).can_change_policy,
    )


@router.get("/policy", response_class=HTMLResponse)
def policy_page(request: Request, name: str = "") -> HTMLResponse:
    return _policy_page(request, name or policy_name(server_state(request)))


@router.post("/policy", response_class=HTMLResponse, response_model=None)
async def policy_submit(request: Request) -> HTMLResponse | RedirectResponse:
    reviewer = require_page_reviewer(request)
    state = server_state(request)
    if not state.can_change_policy:
        raise HTTPException(405, "this agent's policy is fixed while it runs: edit its policy file and restart `so8t serve`")
    form = await posted_form(request)
    name = policy_name(state)
    draft = text_field(form, "content", limit=200_000, required=True)
    try:
        content = json.loads(draft)
    except json.JSONDecodeError as exc:
        return _policy_page(request, name, status_code=422, draft=draft, error=f"not valid JSON: {exc}")
    if not isinstance(content, dict):
        return _policy_page(request, name, status_code=422, draft=draft, error="a policy must be a JSON object ({...})")
    try:
        applied = apply_policy_version(state, request, content, reviewer)
    except HTTPException as exc:
        return _policy_page(request, name, status_code=exc.status_code, draft=draft, error=str(exc.detail))
    message = f"Policy {applied.name} is now at version {applied.version}."
    return flash_and_redirect(request, message, "/policy?" + urlencode({"name": applied.name}))


# ---------------------------------------------------------------- Log-in


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", next=safe_next(next))


@router.post("/login", response_class=HTMLResponse, response_model=None)
async def login_submit(request: Request) -> HTMLResponse | RedirectResponse:
    form = await posted_form(request)
    state = server_state(request)
    reviewer = text_field(form, "reviewer", limit=MAX_REVIEWER_CHARS, required=True).strip()
    target = safe_next(form.get("next"))
    if not state.tokens.matches(text_field(form, "token", limit=1000)):
        state.log_event("web.login_failed", request, reviewer_claimed=reviewer)
        return render(request, "login.html", status_code=401, next=target, error="That reviewer token is not valid.")
    request.session[SESSION_REVIEWER] = reviewer
    request.session[SESSION_CSRF] = secrets.token_urlsafe(32)  # a fresh token once privileges change
    state.log_event("web.login", request, reviewer=reviewer)
    return flash_and_redirect(request, f"Logged in as {reviewer}.", target)


@router.post("/logout")
async def logout(request: Request) -> RedirectResponse:
    await posted_form(request)
    reviewer = session_reviewer(request)
    if reviewer is not None:
        server_state(request).log_event("web.logout", request, reviewer=reviewer)
    request.session.clear()
    return RedirectResponse("/", status_code=303)
