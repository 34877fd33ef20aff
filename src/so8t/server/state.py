"""What every route needs: the agent, its audit store, the reviewer token check and the limits."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.requests import Request

from so8t.audit import AuditStore, Policy
from so8t.server.auth import TokenCheck
from so8t.server.limits import ServerLimits


class AskOutcome(Protocol):
    """What `Agent.ask` returns (so8t.agent.AskResult); the server reads only these."""

    request_id: str
    decision: str
    answer: str | None
    withheld: bool
    error: str | None

    def to_dict(self) -> dict[str, Any]: ...


class Agent(Protocol):
    """The agent contract the server is built against (so8t.agent.SafetyAgent)."""

    audit: AuditStore

    def ask(self, prompt: str, images: Sequence[bytes] = ()) -> AskOutcome: ...

    def review(self, request_id: str, approve: bool, reviewer: str, note: str = "") -> Any: ...


class PolicyChangingAgent(Agent, Protocol):
    """An agent that can switch its policy while running: it validates the content (ValueError naming the
    problem), applies it to its audit store and judges with it from then on; returns the stored version."""

    def apply_policy(self, content: dict[str, Any]) -> Policy: ...


@dataclass
class ServerState:
    agent: Agent
    audit: AuditStore
    tokens: TokenCheck
    limits: ServerLimits
    # One request at a time through the model: on a few CPU cores parallel generation only adds memory, and the
    # agent's model is not documented as thread-safe. Pages and the other API routes stay responsive meanwhile.
    _ask_lock: threading.Lock = field(default_factory=threading.Lock)

    def ask(self, prompt: str, images: Sequence[bytes]) -> AskOutcome:
        with self._ask_lock:
            return self.agent.ask(prompt, images)

    @property
    def can_change_policy(self) -> bool:
        """Only an agent that judges with what it applies may offer policy changes; recording a version that the
        running agent ignores would make the audit trail lie about which policy decided."""
        return callable(getattr(self.agent, "apply_policy", None))

    def current_policy(self) -> Policy | None:
        """The policy version applied last: the agent applies its own at start, so this is the one it judges with."""
        latest = next(self.audit.entries(["policy_state"], newest_first=True, limit=1), None)
        return None if latest is None else Policy.from_row(latest)

    def log_event(self, event_type: str, request: Request, **payload: Any) -> None:
        """Record a web action (never user text: event payloads are exempt from retention)."""
        client = request.client.host if request.client else None
        self.audit.log_event(event_type, {**payload, "client": client, "path": request.url.path})


def server_state(request: Request) -> ServerState:
    return request.app.state.so8t
