"""The app factory: wires the agent and its audit store into the API and the pages, with the guards around them.

Guards, outermost first: Host header check (DNS rebinding), security headers (CSP without scripts, no framing,
no caching), body size limit, signed session cookie, and a same-origin check on every state-changing request.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute, APIRouter
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import so8t
from so8t.audit import AuditError, AuditStore, InvalidRecordError, ReviewError, UnknownRecordError
from so8t.server import api, pages
from so8t.server.auth import TokenCheck
from so8t.server.limits import ServerLimits
from so8t.server.state import Agent, ServerState
from so8t.server.uploads import BodySizeLimit

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
SESSION_MAX_AGE_S = 8 * 3600
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; style-src 'self'; img-src 'self' data:; "
     b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),  # "no-referrer" would make browsers send Origin: null
    (b"cache-control", b"no-store"),
]
STATUS_TITLES = {
    400: "Bad request", 401: "Reviewer log-in required", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
    409: "Conflict", 413: "Too large", 415: "Unsupported upload", 422: "Invalid input", 500: "Internal error",
    503: "Audit store unavailable",
}
logger = logging.getLogger(__name__)


def create_app(
    agent: Agent | None = None,
    audit: AuditStore | None = None,
    reviewer_token: str | None = None,
    *,
    limits: ServerLimits | None = None,
    allowed_hosts: Sequence[str] = LOOPBACK_HOSTS,
    session_secret: str | None = None,
) -> FastAPI:
    """Build the web app.

    `agent` defaults to so8t.agent.SafetyAgent on `audit` (default: the user's audit store); give both only if the
    agent writes to that same store. Without `reviewer_token` the review, audit and policy actions are closed
    (401 for everyone). Policy changes are offered only when the agent has `apply_policy` (see state.py).
    `allowed_hosts` are the Host header values served (others get 400): loopback names by default, which stops
    DNS-rebinding pages from talking to a local server.
    """
    if agent is None:
        from so8t.agent import SafetyAgent  # imported here: it pulls in torch and loads the model

        agent = SafetyAgent(audit=audit if audit is not None else AuditStore())
    if audit is None:
        audit = agent.audit
    elif agent.audit is not audit and agent.audit.path.resolve() != audit.path.resolve():
        raise ValueError(f"the agent writes to {agent.audit.path} but the server was given {audit.path}")
    limits = limits or ServerLimits()

    app = FastAPI(
        title="so8t",
        version=so8t.__version__,
        description="Local safety agent: ask (text + images), review escalations, browse and verify the audit trail.",
        docs_url=None,  # Swagger UI and ReDoc load scripts from a CDN; nothing here may reach the network
        redoc_url=None,
        dependencies=[Depends(refuse_cross_site_writes)],
    )
    state = ServerState(agent=agent, audit=audit, tokens=TokenCheck(reviewer_token), limits=limits)
    app.state.so8t = state
    app.state.templates = _templates()
    routers = [api.router, pages.router] + ([api.policy_writes] if state.can_change_policy else [])
    for router in routers:
        app.include_router(router)
    _document_limits(app, limits)
    app.mount("/static", StaticFiles(packages=[("so8t.server", "static")]), name="static")
    _install_error_handlers(app, routers)
    # add_middleware wraps: the last added runs first.
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret or secrets.token_urlsafe(32),
        session_cookie="so8t_session",
        max_age=SESSION_MAX_AGE_S,
        same_site="strict",
    )
    app.add_middleware(BodySizeLimit, limits=limits)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    return app


def _document_limits(app: FastAPI, limits: ServerLimits) -> None:
    """Put this app's limits into the Ask form's OpenAPI schema (the route itself is shared by all apps)."""
    build_schema = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build_schema()
            form = schema["paths"]["/v1/ask"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
            form["properties"]["prompt"].update(maxLength=limits.max_prompt_chars, pattern=r"\S")
            form["properties"]["images"]["maxItems"] = limits.max_images
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _methods_for(routers: Sequence[APIRouter], path: str) -> list[str]:
    methods: set[str] = set()
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.path_regex.match(path):
                methods |= route.methods
    return sorted(methods)


def refuse_cross_site_writes(request: Request) -> None:
    """403 for state-changing requests a browser sent from another site (Origin or Sec-Fetch-Site tells).

    API clients outside a browser send neither header and pass; so do the app's own forms.
    """
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    origin = request.headers.get("origin")
    if request.headers.get("sec-fetch-site") == "cross-site" or (
        origin is not None and urlsplit(origin).netloc != request.headers.get("host")
    ):
        raise HTTPException(403, f"cross-site request refused (Origin {origin or 'unknown'}); use this server's own pages")


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response (pure ASGI, so streaming and errors pass through untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _templates() -> Jinja2Templates:
    environment = Environment(loader=PackageLoader("so8t.server", "templates"), autoescape=select_autoescape(["html"]))
    environment.filters["pretty_json"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    environment.filters["json_text"] = lambda value: json.dumps(value, ensure_ascii=False, sort_keys=True)
    environment.filters["short"] = lambda digest, n=12: (digest[:n] + "…") if digest and len(digest) > n else (digest or "")
    environment.globals["version"] = so8t.__version__
    return Jinja2Templates(env=environment)


def wants_json(request: Request) -> bool:
    """API paths answer errors in JSON; page paths answer with an HTML error page."""
    path = request.url.path
    return path.startswith("/v1/") or path in ("/healthz", "/openapi.json")


def _error(request: Request, status: int, detail: Any, headers: dict[str, str] | None = None) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    message = detail if isinstance(detail, str) else "; ".join(
        f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg')}" for error in detail
    )
    response = pages.render(
        request, "error.html", status_code=status, status=status, title=STATUS_TITLES.get(status, "Error"), message=message,
        pending=None,
    )
    if headers:
        response.headers.update(headers)
    return response


def _install_error_handlers(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    audit_statuses: list[tuple[type[AuditError], int]] = [
        (UnknownRecordError, 404), (ReviewError, 409), (InvalidRecordError, 422), (AuditError, 503)
    ]

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        headers = exc.headers
        if exc.status_code == 405:  # Starlette names only the first matching route's methods
            headers = {**(headers or {}), "Allow": ", ".join(_methods_for(routers, request.url.path))}
        return _error(request, exc.status_code, exc.detail, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if wants_json(request):
            return await request_validation_exception_handler(request, exc)
        return _error(request, 422, [dict(error) for error in exc.errors()])

    @app.exception_handler(AuditError)
    async def audit_error(request: Request, exc: AuditError) -> Response:
        status = next(code for kind, code in audit_statuses if isinstance(exc, kind))
        if status == 503:
            logger.error("audit store error: %s", exc)
        return _error(request, status, str(exc))

    @app.exception_handler(pages.LoginRequired)
    async def login_required(request: Request, exc: pages.LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        message = "Log in with the reviewer token to see this page."
        return pages.render(request, "login.html", status_code=401, next=pages.safe_next(target), message=message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(request, 500, f"internal error ({type(exc).__name__}); the server log has the details")
