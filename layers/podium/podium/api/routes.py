"""Agents, sessions, runs, approvals, client tool results, traces and event streams."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from podium.api import idempotency
from podium.api.auth import EVENT_TOKEN_TTL_S, Principal
from podium.api.context import ApiContext, api, principal
from podium.api.routing import lazy_router
from podium.api.schemas import (
    CreateRun,
    CreateSession,
    Decision,
    EventsToken,
    Page,
    RunAccepted,
    RunView,
    SessionView,
    ToolResult,
    events_url,
)
from podium.api.sse import follow, streaming_response
from podium.errors import RateLimitError
from podium.observe.usage import GroupBy, UsageReport, rollup

router = lazy_router()
Ctx = Annotated[ApiContext, Depends(api)]
Who = Annotated[Principal, Depends(principal)]


@router.get("/health", tags=["meta"], summary="Liveness (no auth)")
async def health() -> dict[str, str]:
    return {"status": "ok"}


# ----------------------------------------------------------------------------- agents


@router.get("/agents", tags=["agents"], summary="List the agents")
async def list_agents(ctx: Ctx, who: Who) -> dict[str, Any]:
    names = ctx.runtime.agents.names()
    return {"items": [await asyncio.to_thread(_agent_summary, ctx, name) for name in names]}


@router.get("/agents/{name}", tags=["agents"], summary="An agent's definition summary")
async def get_agent(name: str, ctx: Ctx, who: Who) -> dict[str, Any]:
    return await asyncio.to_thread(_agent_summary, ctx, name, full=True)


def _agent_summary(ctx: ApiContext, name: str, *, full: bool = False) -> dict[str, Any]:
    pinned = ctx.runtime.agents.current(name)
    agent = pinned.agent
    summary: dict[str, Any] = {
        "name": agent.name, "description": agent.description, "version": agent.version,
        "content_hash": pinned.content_hash, "model": agent.model,
        "variables": {k: v.model_dump(exclude_none=True) for k, v in agent.variables.items()},
        "tools": [{"name": t.name, "description": t.description, "kind": t.kind,
                   "approval": t.approval_policy is not None} for t in agent.tools],
    }  # fmt: skip
    if full:
        summary |= {"models": {k: v.model for k, v in agent.models.items()},
                    "fallbacks": agent.fallbacks, "on_conflict": agent.on_conflict,
                    "limits": agent.limits.model_dump(),
                    "tool_parameters": {t.name: t.parameters for t in agent.tools},
                    "output": agent.output}  # fmt: skip
    return summary


# ----------------------------------------------------------------------------- sessions


@router.post("/sessions", status_code=201, tags=["sessions"], summary="Create a session")
async def create_session(
    body: CreateSession, request: Request, response: Response, ctx: Ctx, who: Who
) -> SessionView:
    who.require("runs")
    key = idempotency.request_key(request)

    def create() -> dict[str, Any]:
        return {"session_id": ctx.service.create_session(
            who.tenant, body.agent, variables=body.variables, metadata=body.metadata,
            session_id=body.session_id).session_id}  # fmt: skip

    made, replayed = await asyncio.to_thread(
        idempotency.once, ctx, who.tenant, key,
        idempotency.fingerprint(request, body.model_dump_json()), create,
    )  # fmt: skip
    if replayed:
        response.headers[idempotency.REPLAYED] = "true"
    session = await asyncio.to_thread(ctx.runtime.store.get_session, who.tenant,
                                      made["session_id"])  # fmt: skip
    return SessionView.of(session, ctx.runtime.clock())


@router.get("/sessions", tags=["sessions"], summary="List sessions, newest first")
async def list_sessions(
    ctx: Ctx, who: Who, agent: str | None = None, cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50, updated_after: float | None = None,
    updated_before: float | None = None,
) -> Page:  # fmt: skip
    page = await asyncio.to_thread(
        ctx.runtime.store.list_sessions, who.tenant, agent=agent, cursor=cursor, limit=limit,
        updated_after=updated_after, updated_before=updated_before,
    )  # fmt: skip
    now = ctx.runtime.clock()
    return Page(items=[SessionView.of(s, now) for s in page.items], cursor=page.cursor)


@router.get("/sessions/{session_id}", tags=["sessions"], summary="A session")
async def get_session(session_id: str, ctx: Ctx, who: Who) -> SessionView:
    session = await asyncio.to_thread(ctx.runtime.store.get_session, who.tenant, session_id)
    return SessionView.of(session, ctx.runtime.clock())


@router.delete("/sessions/{session_id}", status_code=204, tags=["sessions"],
               summary="Delete a session and everything in it")  # fmt: skip
async def delete_session(session_id: str, ctx: Ctx, who: Who) -> Response:
    who.require("runs")
    await asyncio.to_thread(ctx.runtime.store.delete_session, who.tenant, session_id)
    return Response(status_code=204)


@router.get("/sessions/{session_id}/messages", tags=["sessions"], summary="The history, paged")
async def list_messages(
    session_id: str, ctx: Ctx, who: Who, cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page:  # fmt: skip
    page = await asyncio.to_thread(
        ctx.runtime.store.list_messages, who.tenant, session_id, cursor=cursor, limit=limit
    )
    items = [m.model_dump(exclude={"schema_version", "expires_at", "content_ref"})
             for m in page.items]  # fmt: skip
    return Page(items=items, cursor=page.cursor)


# ----------------------------------------------------------------------------- runs


@router.post("/sessions/{session_id}/runs", status_code=202, tags=["runs"],
             summary="Send an input: 202 with the run, or its stream with "
                     "`Accept: text/event-stream`",
             responses={200: {"content": {"text/event-stream": {}}}})  # fmt: skip
async def create_run(session_id: str, body: CreateRun, request: Request, ctx: Ctx, who: Who) -> Any:
    who.require("runs")
    key = idempotency.request_key(request)

    def start() -> dict[str, Any]:
        _check_active_runs(ctx, who.tenant)
        started = ctx.service.start_run(who.tenant, session_id, body.input,
                                        metadata=body.metadata)  # fmt: skip
        return {"run_id": started.run.run_id, "disposition": started.disposition,
                "interrupted": started.interrupted}  # fmt: skip

    made, replayed = await asyncio.to_thread(
        idempotency.once, ctx, who.tenant, key,
        idempotency.fingerprint(request, body.model_dump_json()), start,
    )  # fmt: skip
    headers = {idempotency.REPLAYED: "true"} if replayed else {}
    run_id = str(made["run_id"])
    if "text/event-stream" in request.headers.get("accept", ""):
        body_stream = follow(ctx, who.tenant, session_id, run_id=run_id, bounded=_buffered(request))
        return streaming_response(body_stream, **{"X-Podium-Run": run_id, **headers})
    run = await asyncio.to_thread(ctx.runtime.store.get_run, who.tenant, session_id, run_id)
    accepted = RunAccepted(
        run_id=run_id, session_id=session_id, status=run.status,
        disposition=made["disposition"], interrupted=made["interrupted"],
        events_url=events_url(session_id, run_id),
        run_url=f"/sessions/{session_id}/runs/{run_id}",
    )  # fmt: skip
    return JSONResponse(
        accepted.model_dump(), status_code=202,
        headers={"Location": accepted.run_url, **headers},
    )  # fmt: skip


def _check_active_runs(ctx: ApiContext, tenant: str) -> None:
    """The cap on a tenant's active runs: exact locally (the runs are in this process); in
    AWS counted over the tenant's 200 most recently active sessions."""
    cap = ctx.settings.max_active_runs_per_tenant
    if cap <= 0:
        return
    orchestrator = ctx.runtime.orchestrator
    executor = getattr(orchestrator, "executor", None)
    if executor is not None:
        active = executor.active_runs(tenant)
    else:
        now = ctx.runtime.clock()
        page = ctx.runtime.store.list_sessions(tenant, limit=200, updated_after=now - 86_400)
        active = sum(1 for s in page.items if s.lease_holder(now) is not None)
    if active >= cap:
        raise RateLimitError(f"the tenant has {active} active runs (limit {cap})", retry_after=5)


@router.get("/sessions/{session_id}/runs", tags=["runs"], summary="A session's runs")
async def list_runs(
    session_id: str, ctx: Ctx, who: Who, cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page:  # fmt: skip
    page = await asyncio.to_thread(
        ctx.runtime.store.list_runs, who.tenant, session_id, cursor=cursor, limit=limit
    )
    return Page(items=[RunView.of(r) for r in page.items], cursor=page.cursor)


@router.get("/sessions/{session_id}/runs/{run_id}", tags=["runs"], summary="A run")
async def get_run(session_id: str, run_id: str, ctx: Ctx, who: Who) -> RunView:
    run = await asyncio.to_thread(ctx.runtime.store.get_run, who.tenant, session_id, run_id)
    return RunView.of(run)


@router.post("/sessions/{session_id}/runs/{run_id}/cancel", tags=["runs"], summary="Cancel")
async def cancel_run(session_id: str, run_id: str, ctx: Ctx, who: Who) -> RunView:
    who.require("runs")
    run = await asyncio.to_thread(ctx.service.cancel, who.tenant, session_id, run_id)
    return RunView.of(run)


@router.post("/sessions/{session_id}/runs/{run_id}/approvals/{call_id}", tags=["runs"],
             summary="Approve or deny a pending tool call")  # fmt: skip
async def decide(
    session_id: str, run_id: str, call_id: str, body: Decision, ctx: Ctx, who: Who
) -> dict[str, Any]:
    who.require("runs")
    await asyncio.to_thread(
        ctx.service.decide,
        who.tenant,
        session_id,
        run_id,
        call_id,
        approved=body.approved,
        reason=body.reason,
    )
    return {"call_id": call_id, "approved": body.approved}


@router.post("/sessions/{session_id}/runs/{run_id}/tool-results/{call_id}", tags=["runs"],
             summary="Post a client tool's result")  # fmt: skip
async def tool_result(
    session_id: str, run_id: str, call_id: str, body: ToolResult, ctx: Ctx, who: Who
) -> dict[str, Any]:
    who.require("runs")
    await asyncio.to_thread(
        ctx.service.submit_tool_result,
        who.tenant,
        session_id,
        run_id,
        call_id,
        output=body.output,
        error=body.error,
    )
    return {"call_id": call_id, "accepted": True}


@router.get("/sessions/{session_id}/runs/{run_id}/trace", tags=["runs"],
            summary="The run's spans")  # fmt: skip
async def get_trace(session_id: str, run_id: str, ctx: Ctx, who: Who) -> dict[str, Any]:
    store = ctx.runtime.store
    run = await asyncio.to_thread(store.get_run, who.tenant, session_id, run_id)
    spans = await asyncio.to_thread(store.list_spans, who.tenant, session_id, run_id)
    return {
        "run_id": run.run_id,
        "status": run.status,
        "spans": [s.model_dump(exclude={"schema_version", "expires_at"}) for s in spans],
    }


# ----------------------------------------------------------------------------- usage


@router.get("/usage", tags=["usage"], summary="Usage and cost over a range of days")
async def usage(
    ctx: Ctx, who: Who,
    from_: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD")] = None,
    to: Annotated[str | None, Query(description="YYYY-MM-DD (inclusive)")] = None,
    group_by: GroupBy = "agent",
) -> UsageReport:  # fmt: skip
    return await asyncio.to_thread(
        rollup, ctx.runtime.store, who.tenant, since=from_, until=to, group_by=group_by
    )


# ----------------------------------------------------------------------------- events


@router.post(
    "/sessions/{session_id}/events-token",
    tags=["events"],
    summary="A short-lived token for EventSource (which cannot send headers)",
)
async def events_token(session_id: str, ctx: Ctx, who: Who) -> EventsToken:
    await asyncio.to_thread(ctx.runtime.store.get_session, who.tenant, session_id)
    token = ctx.signer.mint(who.tenant, session_id)
    return EventsToken(token=token, expires_in=EVENT_TOKEN_TTL_S, events_url=events_url(session_id))


def _stream_principal(request: Request, session_id: str, token: str | None) -> Principal:
    if token:
        context: ApiContext = request.app.state.podium
        return context.signer.verify(token, session_id)
    return principal(request)


@router.get("/sessions/{session_id}/runs/{run_id}/events", tags=["events"],
            summary="A run's events (SSE): replays after Last-Event-ID, ends after `finish`",
            responses={200: {"content": {"text/event-stream": {}}}})  # fmt: skip
async def run_events(
    session_id: str, run_id: str, request: Request, ctx: Ctx,
    last_event_id: Annotated[str | None, Header()] = None, token: str | None = None,
    after: str | None = None,
) -> Any:  # fmt: skip
    who = _stream_principal(request, session_id, token)
    await asyncio.to_thread(ctx.runtime.store.get_run, who.tenant, session_id, run_id)
    stream = follow(
        ctx,
        who.tenant,
        session_id,
        run_id=run_id,
        after=last_event_id or after,
        bounded=_buffered(request),
    )
    return streaming_response(stream)


@router.get("/sessions/{session_id}/events", tags=["events"],
            summary="Every event of the session (SSE), replaying after Last-Event-ID",
            responses={200: {"content": {"text/event-stream": {}}}})  # fmt: skip
async def session_events(
    session_id: str, request: Request, ctx: Ctx,
    last_event_id: Annotated[str | None, Header()] = None, token: str | None = None,
    after: str | None = None,
) -> Any:  # fmt: skip
    who = _stream_principal(request, session_id, token)
    await asyncio.to_thread(ctx.runtime.store.get_session, who.tenant, session_id)
    stream = follow(
        ctx, who.tenant, session_id, after=last_event_id or after, bounded=_buffered(request)
    )
    return streaming_response(stream)


def _buffered(request: Request) -> bool:
    """Behind Mangum the whole response is buffered: answer within a bounded wait."""
    return "aws.event" in request.scope
