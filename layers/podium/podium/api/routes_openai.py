"""An OpenAI-compatible `POST /v1/chat/completions`, so OpenAI clients and chat UIs can talk to
an agent: `model` is `agent/<name>`.

Stateless by default — the request's earlier messages seed a new session and the last user
message is the input; with `X-Podium-Session: <id>` the request continues that session (only
its last user message is used). The agent's tools run on the server; agents whose tools need
an approval or the client answer 400 here, since this protocol cannot carry those waits.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from podium.api.auth import Principal
from podium.api.context import ApiContext, api, principal
from podium.api.routing import lazy_router
from podium.api.sse import follow, streaming_response
from podium.errors import InputError, ModelError
from podium.store.models import Message

router = lazy_router(tags=["openai"])
Ctx = Annotated[ApiContext, Depends(api)]
Who = Annotated[Principal, Depends(principal)]
SESSION_HEADER = "X-Podium-Session"


class CompletionRequest(BaseModel):
    """OpenAI's request; generation settings are the agent's, so others are accepted and
    ignored."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[dict[str, Any]] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None


@router.post("/v1/chat/completions", summary="OpenAI-compatible chat completions for agents")
async def completions(
    body: CompletionRequest, ctx: Ctx, who: Who,
    x_podium_session: Annotated[str | None, Header()] = None,
) -> Any:  # fmt: skip
    who.require("runs")
    session_id, run_id = await asyncio.to_thread(_start, ctx, who, body, x_podium_session)
    created = int(time.time())
    if body.stream:
        include_usage = bool((body.stream_options or {}).get("include_usage"))
        chunks = _chunks(
            ctx,
            who,
            session_id,
            run_id,
            model=body.model,
            created=created,
            include_usage=include_usage,
        )
        return streaming_response(chunks, **{SESSION_HEADER: session_id})
    text, finish = "", "stop"
    async for line in follow(ctx, who.tenant, session_id, run_id=run_id):
        part = _part(line)
        if part.get("type") == "text-delta":
            text += str(part.get("delta", ""))
        elif part.get("type") == "data-discard":
            text = ""
        elif part.get("type") == "error":
            raise ModelError(str(part.get("errorText")), run_id=run_id)
    run = await asyncio.to_thread(ctx.runtime.store.get_run, who.tenant, session_id, run_id)
    if run.status != "succeeded":
        raise ModelError(f"the run ended {run.status}", run_id=run_id, error=run.error)
    if isinstance(run.output, dict) and isinstance(run.output.get("text"), str):
        text = run.output["text"]
    completion = {
        "id": f"chatcmpl-{run_id}", "object": "chat.completion", "created": created,
        "model": body.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": finish}],
        "usage": _usage(run.usage),
    }  # fmt: skip
    return JSONResponse(completion, headers={SESSION_HEADER: session_id})


def _start(
    ctx: ApiContext, who: Principal, body: CompletionRequest, session_id: str | None
) -> tuple[str, str]:
    name = body.model.removeprefix("agent/")
    if not body.model.startswith("agent/") or not name:
        raise InputError(f"model must be `agent/<name>`, got {body.model!r}")
    pinned = ctx.runtime.agents.current(name)
    waits = [t.name for t in pinned.agent.tools if t.approval_policy or t.kind == "client"]
    if waits:
        raise InputError(
            f"agent {name!r} has tools that wait for an approval or the client "
            f"({', '.join(waits)}): use the chat or runs API instead"
        )
    *history, last = body.messages
    if last.get("role") != "user":
        raise InputError("the last message must be the user's")
    text = _content(last)
    store = ctx.runtime.store
    if session_id:
        session = store.get_session(who.tenant, session_id)
        if session.agent != name:
            raise InputError(f"session {session_id} belongs to agent {session.agent!r}")
    else:
        session_id = ctx.service.create_session(who.tenant, name).session_id
        for message in history:
            role = message.get("role")
            if role not in {"user", "assistant", "system"}:
                raise InputError(f"seed messages may be user, assistant or system, not {role}")
            store.append_message(
                who.tenant, session_id, Message(role=role, content=_content(message))
            )
    started = ctx.service.start_run(who.tenant, session_id, text)
    return session_id, started.run.run_id


def _content(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if p.get("type") == "text")
    raise InputError("message content must be text or text parts")


def _part(line: str) -> dict[str, Any]:
    for row in line.splitlines():
        if row.startswith("data: ") and row != "data: [DONE]":
            value = json.loads(row[6:])
            return value if isinstance(value, dict) else {}
    return {}


async def _chunks(
    ctx: ApiContext, who: Principal, session_id: str, run_id: str, *, model: str, created: int,
    include_usage: bool,
) -> AsyncIterator[str]:  # fmt: skip
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {
            "id": f"chatcmpl-{run_id}",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(body, separators=(',', ':'))}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    finish = "stop"
    async for line in follow(ctx, who.tenant, session_id, run_id=run_id):
        part = _part(line)
        kind = part.get("type")
        if kind == "text-delta":
            yield chunk({"content": part.get("delta", "")})
        elif kind == "error":
            finish = "error"
    yield chunk({}, finish)
    if include_usage:
        run = await asyncio.to_thread(ctx.runtime.store.get_run, who.tenant, session_id, run_id)
        usage_chunk = {"id": f"chatcmpl-{run_id}", "object": "chat.completion.chunk",
                       "created": created, "model": model, "choices": [],
                       "usage": _usage(run.usage)}  # fmt: skip
        yield f"data: {json.dumps(usage_chunk, separators=(',', ':'))}\n\n"
    yield "data: [DONE]\n\n"


def _usage(usage: Any) -> dict[str, int]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }
