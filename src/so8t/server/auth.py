"""Reviewer authentication and CSRF protection.

One shared reviewer token (from a file or $SO8T_REVIEWER_TOKEN) unlocks review, audit and policy actions.
API clients send it as `Authorization: Bearer <token>`; the browser pages exchange it once at /login for a
signed session cookie (SameSite=Strict) that also carries a per-session CSRF token echoed by every form.
API routes never accept the cookie, so a cross-site page cannot ride on a reviewer's browser session.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from starlette.requests import Request

TOKEN_ENV_VAR = "SO8T_REVIEWER_TOKEN"
MIN_TOKEN_CHARS = 16
SESSION_REVIEWER = "reviewer"
SESSION_CSRF = "csrf"


class ReviewerTokenError(ValueError):
    """A reviewer token that cannot be used (missing file, too short, whitespace inside)."""


def check_token(token: str, source: str) -> str:
    """Refuse tokens that are easy to guess or that a copy-paste has mangled."""
    if len(token) < MIN_TOKEN_CHARS:
        raise ReviewerTokenError(f"the reviewer token from {source} has {len(token)} characters; use at least {MIN_TOKEN_CHARS}")
    if any(character.isspace() for character in token):
        raise ReviewerTokenError(f"the reviewer token from {source} contains whitespace")
    return token


def load_reviewer_token(token_file: Path | None = None) -> str | None:
    """The token from `token_file` (surrounding whitespace ignored), else from $SO8T_REVIEWER_TOKEN, else None."""
    if token_file is not None:
        try:
            text = Path(token_file).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise ReviewerTokenError(f"cannot read the reviewer token file {token_file}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise ReviewerTokenError(f"the reviewer token file {token_file} is not UTF-8 text") from exc
        return check_token(text.strip(), str(token_file))
    from_env = os.environ.get(TOKEN_ENV_VAR)
    if from_env:
        return check_token(from_env.strip(), f"${TOKEN_ENV_VAR}")
    return None


class TokenCheck:
    """Compares presented tokens with the configured one in constant time; keeps only its digest."""

    def __init__(self, token: str | None) -> None:
        self._digest = None if token is None else _digest(check_token(token, "create_app(reviewer_token=...)"))

    @property
    def configured(self) -> bool:
        return self._digest is not None

    def matches(self, presented: str | None) -> bool:
        if self._digest is None or not presented:
            return False
        return hmac.compare_digest(_digest(presented), self._digest)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def session_reviewer(request: Request) -> str | None:
    """The reviewer name of a logged-in browser session."""
    reviewer = request.session.get(SESSION_REVIEWER)
    return reviewer if isinstance(reviewer, str) and reviewer else None


def csrf_token(request: Request) -> str:
    """This session's CSRF token, created on first use; every form carries it back."""
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return token


def csrf_valid(request: Request, submitted: object) -> bool:
    expected = request.session.get(SESSION_CSRF)
    return (
        isinstance(expected, str)
        and isinstance(submitted, str)
        and bool(submitted)
        and hmac.compare_digest(submitted.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))
    )
