"""Request and response bodies. Unknown fields in a request are an error (400)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from podium.observe.usage import UsageView
from podium.store.models import Run, Session


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class CreateSession(Request):
    agent: str = Field(min_length=1, max_length=64)
    """The agent's name."""
    variables: dict[str, Any] = Field(default_factory=dict)
    """Values for the agent's declared variables."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Your own data, kept with the session."""
    session_id: str | None = Field(default=None, min_length=1, max_length=128)
    """Choose the session's id (e.g. your conversation id); generated when omitted."""


class CreateRun(Request):
    input: str | list[dict[str, Any]]
    """The user's message: text, or OpenAI-style content parts."""
    metadata: dict[str, Any] = Field(default_factory=dict)


class Decision(Request):
    approved: bool
    reason: str | None = Field(default=None, max_length=2000)


class ToolResult(Request):
    output: Any = None
    """The tool's result (any JSON)."""
    error: str | None = Field(default=None, max_length=10_000)
    """Set instead of `output` when the tool failed."""


class SessionView(BaseModel):
    model_config = ConfigDict(defer_build=True)  # built on first use

    session_id: str
    agent: str
    agent_hash: str
    variables: dict[str, Any]
    metadata: dict[str, Any]
    created_at: float
    updated_at: float
    expires_at: float | None
    active_run: str | None
    queued_runs: list[str]
    usage: UsageView

    @classmethod
    def of(cls, session: Session, now: float) -> SessionView:
        return cls(
            session_id=session.session_id,
            agent=session.agent,
            agent_hash=session.agent_hash,
            variables=session.input_vars,
            metadata=session.metadata,
            created_at=session.created_at,
            updated_at=session.updated_at,
            expires_at=session.expires_at,
            active_run=session.lease_holder(now),
            queued_runs=[q.run_id for q in session.queue],
            usage=UsageView.of(session.usage),
        )


class PendingView(BaseModel):
    model_config = ConfigDict(defer_build=True)  # built on first use

    call_id: str
    tool: str
    kind: Literal["approval", "client"]
    arguments: dict[str, Any]
    requested_at: float


class RunView(BaseModel):
    model_config = ConfigDict(defer_build=True)  # built on first use

    run_id: str
    session_id: str
    agent: str
    agent_hash: str
    status: str
    step: int
    input: Any
    output: Any
    error: dict[str, Any] | None
    created_at: float
    updated_at: float
    usage: UsageView
    pending: list[PendingView]
    events_url: str

    @classmethod
    def of(cls, run: Run) -> RunView:
        return cls(run_id=run.run_id, session_id=run.session_id, agent=run.agent,
                   agent_hash=run.agent_hash, status=run.status, step=run.step, input=run.input,
                   output=run.output, error=run.error, created_at=run.created_at,
                   updated_at=run.updated_at, usage=UsageView.of(run.usage),
                   pending=[PendingView(call_id=p.call_id, tool=p.tool, kind=p.kind,
                                        arguments=p.arguments, requested_at=p.requested_at)
                            for p in run.pending_approvals.values()],
                   events_url=events_url(run.session_id, run.run_id))  # fmt: skip


class RunAccepted(BaseModel):
    model_config = ConfigDict(defer_build=True)  # built on first use

    run_id: str
    session_id: str
    status: str
    disposition: Literal["started", "queued"]
    interrupted: str | None
    events_url: str
    run_url: str


class Page(BaseModel):
    model_config = ConfigDict(defer_build=True)  # built on first use

    items: list[Any]
    cursor: str | None


class EventsToken(BaseModel):
    model_config = ConfigDict(defer_build=True)  # built on first use

    token: str
    expires_in: int
    events_url: str


def events_url(session_id: str, run_id: str | None = None) -> str:
    if run_id is None:
        return f"/sessions/{session_id}/events"
    return f"/sessions/{session_id}/runs/{run_id}/events"
