"""so8t.server: the local web app and HTTP API over the safety agent and its audit trail (`so8t serve`).

    from so8t.server import create_app
    app = create_app(agent=my_agent, reviewer_token="a-long-random-secret")   # any ASGI server runs it

Pages: Ask, Review queue, Audit log, Policy. API under /v1 (OpenAPI schema at /openapi.json).
"""

from so8t.server.app import create_app
from so8t.server.auth import TOKEN_ENV_VAR, ReviewerTokenError, load_reviewer_token
from so8t.server.limits import ServerLimits

__all__ = ["TOKEN_ENV_VAR", "ReviewerTokenError", "ServerLimits", "create_app", "load_reviewer_token"]
