"""The lean call path: OpenAI's wire format over a shared httpx client, and the demo model
in-process.

Used for `openai/…` models (OpenAI itself, or any OpenAI-compatible server given as
`api_base`) that need none of litellm's per-model parameter translation, and for
`podium/demo*`. It sends what litellm would send for those models and parses the stream
itself; usage, cost and errors go through the same code as the litellm path (`_stream`,
`_errors`), so a call behaves the same whichever path it takes. See docs/models.md for
the measurements behind it.
"""

from __future__ import annotations

import asyncio
import json
import os
import weakref
from typing import TYPE_CHECKING, Any

import pydantic_core

from podium import settings
from podium.models import demo
from podium.models._errors import ProviderError, classify_status, parse_retry_after
from podium.models._stream import Accumulator
from podium.models.cost import is_demo_model, model_info

if TYPE_CHECKING:
    import httpx

    from podium.models.types import ModelRequest

__all__ = ["close_client", "lean_eligible", "run_demo", "run_openai"]

OPENAI_BASE = "https://api.openai.com/v1"
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def lean_eligible(request: ModelRequest) -> bool:
    """True when the lean path sends exactly what litellm would: the demo model, and
    `openai/` models that are not reasoning models (litellm rewrites their parameters)."""
    if is_demo_model(request.model):
        return True
    provider, _, name = request.model.partition("/")
    if provider != "openai" or not name:
        return False
    info = model_info(request.model) or {}
    return not info.get("supports_reasoning") and request.settings.reasoning_effort is None


def _client() -> httpx.AsyncClient:
    """One pooled client per event loop (keep-alive across calls of a run or invocation)."""
    import httpx  # noqa: PLC0415 - loaded on the first call

    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        client = httpx.AsyncClient(limits=limits)
        _clients[loop] = client
    return client


def _body(request: ModelRequest, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": request.model.partition("/")[2],
        "messages": request.messages,
    }
    if request.tools:
        body["tools"] = request.tools
    settings_ = request.settings
    if settings_.temperature is not None:
        body["temperature"] = settings_.temperature
    if settings_.top_p is not None:
        body["top_p"] = settings_.top_p
    if settings_.max_output_tokens is not None:
        body["max_tokens"] = settings_.max_output_tokens
    if request.output_schema is not None:
        body["response_format"] = response_format(request.output_schema)
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def response_format(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI `response_format` for an output schema (non-strict: any JSON Schema)."""
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}


def _failure_from_response(status: int, headers: Any, raw: bytes) -> ProviderError:
    message = raw.decode("utf-8", "replace")
    try:
        error = json.loads(raw).get("error")
        if isinstance(error, dict) and error.get("message"):
            message = str(error["message"])
    except (ValueError, AttributeError):
        pass
    return ProviderError(
        classify_status(status, message), message, status, parse_retry_after(headers)
    )


def _failure_from_exception(exc: Exception) -> ProviderError:
    import httpx  # noqa: PLC0415 - loaded on the first call

    if isinstance(exc, httpx.TimeoutException):
        return ProviderError("timeout", f"request timed out ({type(exc).__name__})")
    if isinstance(exc, httpx.TransportError):
        return ProviderError("connection", f"connection failed: {type(exc).__name__}: {exc}")
    raise exc


async def run_openai(
    request: ModelRequest, acc: Accumulator, stream: bool, key: str | None
) -> None:
    """One attempt over OpenAI's wire format; raises `ProviderError`."""
    import httpx  # noqa: PLC0415 - loaded on the first call

    base = (
        request.api_base
        or os.environ.get("OPENAI_API_BASE")
        or os.environ.get("OPENAI_BASE_URL")
        or OPENAI_BASE
    )
    headers = {"content-type": "application/json"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    # pydantic-core's serializer: compact UTF-8 JSON, ~5x json.dumps on a long window
    content = pydantic_core.to_json(_body(request, stream))
    timeout = httpx.Timeout(request.timeout_s)
    url = base.rstrip("/") + "/chat/completions"
    client = _client()
    try:
        if not stream:
            response = await client.post(url, content=content, headers=headers, timeout=timeout)
            if response.status_code >= 400:
                raise _failure_from_response(
                    response.status_code, response.headers, response.content
                )
            try:
                data = response.json()
            except ValueError as exc:
                raise ProviderError("bad_response", f"response is not JSON: {exc}") from None
            await _feed_message(acc, data)
            return
        send = client.build_request("POST", url, content=content, headers=headers, timeout=timeout)
        response = await client.send(send, stream=True)
        try:
            if response.status_code >= 400:
                raw = await response.aread()
                raise _failure_from_response(response.status_code, response.headers, raw)
            await _feed_stream(acc, response)
        finally:
            await response.aclose()
    except ProviderError:
        raise
    except Exception as exc:
        raise _failure_from_exception(exc) from None


async def _feed_stream(acc: Accumulator, response: httpx.Response) -> None:
    done = False
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            done = True
            continue  # read to the end of the body, so the connection goes back to the pool
        if done:
            continue
        try:
            chunk = json.loads(data)
        except ValueError:
            raise ProviderError("bad_response", "malformed chunk in the stream") from None
        if isinstance(chunk, dict) and isinstance(chunk.get("error"), dict):
            message = str(chunk["error"].get("message", "error in the stream"))
            raise ProviderError("server_error", message)
        await _feed_chunk(acc, chunk)
    if not done:
        raise ProviderError("connection", "the stream ended before [DONE]")


async def _feed_chunk(acc: Accumulator, chunk: dict[str, Any]) -> None:
    usage = chunk.get("usage")
    if usage:
        acc.usage(usage)
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning:
            await acc.reasoning_delta(reasoning)
        content = delta.get("content")
        if content:
            await acc.text_delta(content)
        for call in delta.get("tool_calls") or ():
            function = call.get("function") or {}
            await acc.tool_fragment(
                int(call.get("index", 0)),
                call.get("id"),
                function.get("name"),
                function.get("arguments"),
            )
        acc.finish(choice.get("finish_reason"))


async def _feed_message(acc: Accumulator, data: Any) -> None:
    if not isinstance(data, dict) or not data.get("choices"):
        raise ProviderError("bad_response", "the response has no choices")
    choice = data["choices"][0]
    message = choice.get("message") or {}
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if reasoning:
        await acc.reasoning_delta(reasoning)
    if message.get("content"):
        await acc.text_delta(message["content"])
    for index, call in enumerate(message.get("tool_calls") or ()):
        function = call.get("function") or {}
        await acc.tool_fragment(
            index, call.get("id"), function.get("name"), function.get("arguments")
        )
    acc.finish(choice.get("finish_reason"))
    acc.usage(data.get("usage"))


async def run_demo(request: ModelRequest, acc: Accumulator, stream: bool) -> None:
    """The demo model in-process: a word (or eight argument characters) per event."""
    reply = demo.demo_reply(request.messages, request.tools, request.output_schema)
    delay = float(settings.resolve(None, settings.ENV_DEMO_TOKEN_DELAY_MS, "0")) / 1000.0
    pieces = demo.split_tokens(reply.text) if stream else [reply.text]
    for piece in pieces:
        await acc.text_delta(piece)
        await asyncio.sleep(delay)
    for index, (call_id, name, arguments) in enumerate(reply.tool_calls):
        await acc.tool_fragment(index, call_id, name, None)
        for piece in demo.argument_pieces(arguments) if stream else [arguments]:
            await acc.tool_fragment(index, None, None, piece)
            await asyncio.sleep(delay)
    acc.finish(reply.finish_reason)
    acc.usage(
        {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        }
    )


async def close_client() -> None:
    """Close the current event loop's pooled client (tests, and hosts ending a loop)."""
    client = _clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()
