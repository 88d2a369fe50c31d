"""The chat endpoint the AI SDK's chat transport speaks (what `useChat` uses).

`POST /chat` takes `{id, messages, trigger}`: the chat id is the Podium session (created on
first use for the agent named by `?agent=` or the body's `agent`), the last user message is
the new input, and the answer is the run's UI message stream. A resubmission whose last
assistant message carries approval responses (`addToolApprovalResponse`) or client tool
outputs (`addToolResult`) hands them to the waiting run and streams the rest of it.
`GET /chat/{id}/stream` resumes the active run's stream (204 when nothing is running).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from podium.api import idempotency
from podium.api.auth import Principal
from podium.api.context import ApiContext, api, principal
from podium.api.routing import lazy_router
from podium.api.sse import follow, streaming_response
from podium.errors import ConflictError, InputError, NotFoundError

router = lazy_router(tags=["chat"])
Ctx = Annotated[ApiContext, Depends(api)]
Who = Annotated[Principal, Depends(principal)]


class ChatRequest(BaseModel):
    """What `DefaultChatTransport.sendMessages` posts (extra fields from `body` allowed)."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=128)
    messages: list[dict[str, Any]] = Field(min_length=1)
    trigger: str = "submit-message"
    agent: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)


@router.post("/chat", summary="AI SDK chat transport: answers with the UI message stream",
             responses={200: {"content": {"text/event-stream": {}}}})  # fmt: skip
async def chat(
    body: ChatRequest, request: Request, ctx: Ctx, who: Who, agent: str | None = None
) -> Any:
    who.require("runs")
    session = await asyncio.to_thread(_session, ctx, who, body, agent or body.agent)
    last = body.messages[-1]
    if last.get("role") == "assistant":
        run_id, after = await asyncio.to_thread(_answer_waits, ctx, who, session, last)
        return streaming_response(follow(ctx, who.tenant, session, run_id=run_id, after=after))
    text = _user_text(last) if body.trigger != "regenerate-message" else _last_user(body)
    key = idempotency.request_key(request)

    def start() -> dict[str, Any]:
        return {"run_id": ctx.service.start_run(who.tenant, session, text).run.run_id}

    made, replayed = await asyncio.to_thread(
        idempotency.once, ctx, who.tenant, key,
        idempotency.fingerprint(request, body.model_dump_json()), start,
    )  # fmt: skip
    run_id = str(made["run_id"])
    headers = {idempotency.REPLAYED: "true"} if replayed else {}
    stream = follow(ctx, who.tenant, session, run_id=run_id)  # a replay: from its start
    return streaming_response(stream, **{"X-Podium-Run": run_id, **headers})


@router.get("/chat/{chat_id}/stream", summary="Resume the active run's stream (204: none)",
            responses={200: {"content": {"text/event-stream": {}}}, 204: {}})  # fmt: skip
async def resume(chat_id: str, ctx: Ctx, who: Who) -> Any:
    try:
        session = await asyncio.to_thread(ctx.runtime.store.get_session, who.tenant, chat_id)
    except NotFoundError:
        return Response(status_code=204)
    run_id = session.lease_holder(ctx.runtime.clock())
    if run_id is None:
        return Response(status_code=204)
    return streaming_response(follow(ctx, who.tenant, chat_id, run_id=run_id))


def _session(ctx: ApiContext, who: Principal, body: ChatRequest, agent: str | None) -> str:
    try:
        return ctx.runtime.store.get_session(who.tenant, body.id).session_id
    except NotFoundError:
        if not agent:
            raise InputError(
                "a new chat needs its agent: `?agent=<name>` or `agent` in the body"
            ) from None
        return ctx.service.create_session(
            who.tenant, agent, variables=body.variables, session_id=body.id
        ).session_id


def _user_text(message: dict[str, Any]) -> str:
    if message.get("role") != "user":
        raise InputError(
            "the last message must be the user's (or an assistant message "
            "answering approvals or client tools)"
        )
    parts = message.get("parts") or []
    text = "".join(str(p.get("text", "")) for p in parts if p.get("type") == "text")
    if not text.strip() and isinstance(message.get("content"), str):
        text = message["content"]
    if not text.strip():
        raise InputError("the user message has no text part")
    return text


def _last_user(body: ChatRequest) -> str:
    for message in reversed(body.messages):
        if message.get("role") == "user":
            return _user_text(message)
    raise InputError("there is no user message to regenerate from")


def _answer_waits(
    ctx: ApiContext, who: Principal, session_id: str, message: dict[str, Any]
) -> tuple[str, str | None]:
    """Hand approval responses and client tool outputs to the waiting run."""
    store = ctx.runtime.store
    session = store.get_session(who.tenant, session_id)
    run_id = session.lease_holder(ctx.runtime.clock())
    if run_id is None:
        raise ConflictError("no run is waiting on this chat")
    run = store.get_run(who.tenant, session_id, run_id)
    events = store.list_events(who.tenant, session_id, run_id=run_id, limit=1000)
    after = events[-1].event_id if events else None
    answered = 0
    for part in message.get("parts") or []:
        call_id = part.get("toolCallId")
        pending = run.pending_approvals.get(str(call_id)) if call_id else None
        if pending is None:
            continue
        approval = part.get("approval") or {}
        if pending.kind == "approval" and part.get("state") == "approval-responded":
            ctx.service.decide(
                who.tenant,
                session_id,
                run_id,
                pending.call_id,
                approved=bool(approval.get("approved")),
                reason=approval.get("reason"),
            )
            answered += 1
        elif pending.kind == "client" and part.get("state") in {"output-available", "output-error"}:
            error = part.get("errorText") if part.get("state") == "output-error" else None
            ctx.service.submit_tool_result(
                who.tenant,
                session_id,
                run_id,
                pending.call_id,
                output=part.get("output"),
                error=error,
            )
            answered += 1
    if not answered:
        raise ConflictError("the message answers nothing the run is waiting for")
    return run_id, after
