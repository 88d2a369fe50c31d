"""Typed views of what the API returns."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict


class _View(BaseModel):
    model_config = ConfigDict(extra="allow")


class SessionInfo(_View):
    session_id: str
    agent: str
    active_run: str | None = None
    variables: dict[str, Any] = {}
    metadata: dict[str, Any] = {}


class RunInfo(_View):
    run_id: str
    session_id: str
    status: str
    output: Any = None
    error: dict[str, Any] | None = None
    pending: list[dict[str, Any]] = []
    events_url: str = ""


class Event(_View):
    """One SSE event: its id (for resuming) and its UI message stream part."""

    id: str | None
    type: str
    data: dict[str, Any]

    @classmethod
    def parse(cls, event_id: str | None, payload: str) -> Event:
        part = json.loads(payload)
        return cls(id=event_id, type=str(part.get("type", "")), data=part)
