"""The litellm call path: every provider litellm supports, with its leanest settings.

litellm is imported here, on the first call that needs it (never by `import podium.models`):
with the offline environment set first (no price-map fetch), `LEAN_SETTINGS` applied, and
the demo provider registered in `litellm.custom_provider_map`.
Podium does its own retries (`num_retries=0`, `max_retries=0`) and its own cost (the same
code as the lean path), so usage, cost and errors are identical whichever path a call takes.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from podium.models._errors import ErrorClass, ProviderError, classify_status, parse_retry_after
from podium.models._lean import response_format
from podium.settings import LITELLM_OFFLINE_ENV

if TYPE_CHECKING:
    from podium.models._stream import Accumulator
    from podium.models.types import ModelRequest

__all__ = ["LEAN_SETTINGS", "ensure_litellm", "run_litellm"]

# litellm module attributes set on import. None of litellm's switches makes a call
# measurably cheaper (bench/model_call_path.py: each within noise of the defaults); these
# are set for behaviour: no banner on stdout per error, no telemetry, prompts not kept in
# litellm's logging objects, and a setting a provider lacks dropped rather than an error.
LEAN_SETTINGS: dict[str, Any] = {
    "suppress_debug_info": True,
    "telemetry": False,
    "turn_off_message_logging": True,
    "drop_params": True,
}

_lock = threading.Lock()
_module: Any = None


def ensure_litellm() -> Any:
    """Import and configure litellm once; returns the module."""
    global _module  # noqa: PLW0603 - one configured module per process
    if _module is not None:
        return _module
    with _lock:
        if _module is None:
            for name, value in LITELLM_OFFLINE_ENV.items():
                os.environ.setdefault(name, value)
            import litellm  # noqa: PLC0415 - ~3 s: only when a model is called

            for name, value in LEAN_SETTINGS.items():
                setattr(litellm, name, value)
            # litellm's debug records carry whole prompts: never let them reach a log
            for logger_name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
                logging.getLogger(logger_name).setLevel(logging.WARNING)
            from podium.models._demo_litellm import (  # noqa: PLC0415 - needs litellm
                register_demo_provider,
            )

            register_demo_provider(litellm)
            _module = litellm
    return _module


def _kwargs(request: ModelRequest, stream: bool, key: str | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "model": request.model,
        "messages": request.messages,
        "stream": stream,
        "timeout": request.timeout_s,
        "num_retries": 0,
        "max_retries": 0,
    }
    if stream:
        kwargs["stream_options"] = {"include_usage": True}
    if request.tools:
        kwargs["tools"] = request.tools
    if request.api_base:
        kwargs["api_base"] = request.api_base
    if key:
        kwargs["api_key"] = key
    settings = request.settings
    if settings.temperature is not None:
        kwargs["temperature"] = settings.temperature
    if settings.top_p is not None:
        kwargs["top_p"] = settings.top_p
    if settings.max_output_tokens is not None:
        kwargs["max_tokens"] = settings.max_output_tokens
    if settings.reasoning_effort is not None:
        kwargs["reasoning_effort"] = settings.reasoning_effort
    if request.output_schema is not None:
        kwargs["response_format"] = response_format(request.output_schema)
    return kwargs


def _connection_class(litellm: Any, exc: Exception, message: str) -> ErrorClass:
    if isinstance(exc, litellm.Timeout):
        return "timeout"
    lowered = message.lower()
    if "json" in lowered or "unterminated" in lowered or "expecting" in lowered:
        return "bad_response"
    return "connection"


def _transport_cause(exc: BaseException) -> ErrorClass | None:
    """`connection`, `timeout` or `bad_response` when one of the exceptions that led to
    `exc` was a transport failure or an undecodable body, as the lean path would see it."""
    import httpx  # noqa: PLC0415 - litellm has imported it already
    import openai  # noqa: PLC0415

    seen: BaseException | None = exc
    for _ in range(8):
        seen = seen.__cause__ or seen.__context__ if seen is not None else None
        if seen is None:
            return None
        if isinstance(seen, httpx.TimeoutException | openai.APITimeoutError):
            return "timeout"
        if isinstance(seen, httpx.TransportError | openai.APIConnectionError):
            return "connection"
        if isinstance(seen, ValueError) and "Expecting" in str(seen):
            return "bad_response"
    return None


def _failure(litellm: Any, exc: Exception) -> ProviderError:
    """Classify a litellm exception like the lean path classifies an HTTP failure."""
    message = str(getattr(exc, "message", None) or exc)
    original = getattr(exc, "original_exception", None)
    if isinstance(exc, litellm.exceptions.MidStreamFallbackError):
        inner = original if isinstance(original, Exception) else None
        if inner is not None and not isinstance(inner, litellm.exceptions.MidStreamFallbackError):
            return _failure(litellm, inner)
        return ProviderError("connection", message)
    if isinstance(exc, litellm.Timeout | litellm.APIConnectionError):
        return ProviderError(_connection_class(litellm, exc, message), message)
    transport = _transport_cause(exc)
    if transport is not None:  # litellm reports some transport failures as a 500
        return ProviderError(transport, message)
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        headers = getattr(exc, "litellm_response_headers", None)
        if headers is None:
            response = getattr(exc, "response", None)
            headers = getattr(response, "headers", None)
        return ProviderError(
            classify_status(status, message), message, status, parse_retry_after(headers)
        )
    return ProviderError("unknown", f"{type(exc).__name__}: {message}")


async def run_litellm(
    request: ModelRequest, acc: Accumulator, stream: bool, key: str | None
) -> None:
    """One attempt through `litellm.acompletion`; raises `ProviderError`."""
    litellm = ensure_litellm()
    try:
        response = await litellm.acompletion(**_kwargs(request, stream, key))
        if stream:
            async for chunk in response:
                await _feed_chunk(acc, chunk)
        else:
            await _feed_response(acc, response)
    except ProviderError:
        raise
    except Exception as exc:
        raise _failure(litellm, exc) from None


async def _feed_chunk(acc: Accumulator, chunk: Any) -> None:
    usage = getattr(chunk, "usage", None)
    if usage is not None:
        acc.usage(usage)
    for choice in chunk.choices or ():
        delta = choice.delta
        if delta is not None:
            reasoning = getattr(delta, "reasoning_content", None)
            if reasoning:
                await acc.reasoning_delta(reasoning)
            if delta.content:
                await acc.text_delta(delta.content)
            for call in delta.tool_calls or ():
                function = call.function
                await acc.tool_fragment(
                    int(call.index or 0),
                    call.id,
                    getattr(function, "name", None),
                    getattr(function, "arguments", None),
                )
        acc.finish(choice.finish_reason)


async def _feed_response(acc: Accumulator, response: Any) -> None:
    if not response.choices:
        raise ProviderError("bad_response", "the response has no choices")
    choice = response.choices[0]
    message = choice.message
    reasoning = getattr(message, "reasoning_content", None)
    if reasoning:
        await acc.reasoning_delta(reasoning)
    if message.content:
        await acc.text_delta(message.content)
    for index, call in enumerate(message.tool_calls or ()):
        await acc.tool_fragment(index, call.id, call.function.name, call.function.arguments)
    acc.finish(choice.finish_reason)
    acc.usage(getattr(response, "usage", None))
