"""A model step's call: the chosen model, then the agent's fallbacks, then output validation.

`call_with_fallbacks` tries the chosen alias (with `call_model`'s retries), then each alias
of `agent.fallbacks` in order, moving on only after a transient failure and only while
nothing has been streamed. Once output was emitted, a failure ends the step with a
retryable `ModelError` whose `details["streamed"]` is True. With an agent `output` schema,
a final answer (no tool calls) is validated and gets one repair attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from podium.errors import ModelError
from podium.models._stream import EventSink
from podium.models.client import RetryPolicy, call_model
from podium.models.structured import parse_output, repair_messages
from podium.models.types import Attempt, CallPath, ModelRequest, ModelResult, Notice
from podium.protocol.agent import Agent, ModelSpec, Tool

__all__ = ["build_request", "call_with_fallbacks", "tool_specs"]

logger = logging.getLogger(__name__)


def tool_specs(tools: Sequence[Tool]) -> list[dict[str, Any]]:
    """The agent's tools as OpenAI function specs."""
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.parameters,
            },
        }
        for tool in tools
    ]


def build_request(
    spec: ModelSpec,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    *,
    output_schema: dict[str, Any] | None = None,
    timeout_s: float = 60.0,
    path: CallPath = "auto",
    metadata: dict[str, str] | None = None,
) -> ModelRequest:
    """The `ModelRequest` for a model spec (settings, pricing and api_base carried over)."""
    return ModelRequest(
        model=spec.model,
        messages=messages,
        tools=tools,
        settings=spec.settings,
        api_base=spec.api_base,
        pricing=spec.pricing,
        output_schema=output_schema,
        timeout_s=timeout_s,
        path=path,
        metadata=metadata or {},
    )


def _sequence(agent: Agent, chosen: str) -> list[str]:
    return list(dict.fromkeys([chosen, *agent.fallbacks]))


async def call_with_fallbacks(
    agent: Agent,
    chosen_alias: str,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    *,
    on_event: EventSink | None = None,
    stream: bool = True,
    retry: RetryPolicy | None = None,
    timeout_s: float = 60.0,
    path: CallPath = "auto",
    metadata: dict[str, str] | None = None,
) -> ModelResult:
    """Call `chosen_alias` (an alias or a `provider/model` string), falling back through
    `agent.fallbacks`; `tools` defaults to the agent's tools. Returns the first success,
    with every attempt (failed ones included) in `result.attempts`.

    Raises `ModelError`: the last model's error when every model failed (retryable when
    the failures were transient), or at once when a failure follows streamed output.
    """
    specs = tool_specs(agent.tools) if tools is None else tools
    attempts: list[Attempt] = []
    names = _sequence(agent, chosen_alias)
    last_error: ModelError | None = None
    for position, alias in enumerate(names):
        request = build_request(
            agent.resolve_model(alias),
            messages,
            specs,
            output_schema=agent.output,
            timeout_s=timeout_s,
            path=path,
            metadata=metadata,
        )
        try:
            result = await call_model(
                request, on_event=on_event, stream=stream, retry=retry, attempts=attempts
            )
        except ModelError as error:
            last_error = error
            if error.details.get("streamed") or not error.retryable:
                raise
            if position + 1 < len(names):
                _mark_fallback(attempts)
                following = names[position + 1]
                logger.warning(
                    "model=%s fallback=%s error=%s | falling back to the next model",
                    request.model, following, error.details.get("error"),
                )  # fmt: skip
                if on_event is not None:
                    notice = Notice(
                        kind="fallback",
                        message=f"{alias} failed ({error.details.get('error')}), "
                        f"trying {following}",
                        detail={"from": alias, "to": following},
                    )
                    outcome = on_event(notice)
                    if outcome is not None:
                        await outcome
            continue
        if agent.output is not None and not result.tool_calls:
            return await _validated(
                agent.output,
                request=request,
                result=result,
                on_event=on_event,
                stream=stream,
                retry=retry,
            )
        return result
    assert last_error is not None
    last_error.details["attempts"] = [attempt.model_dump() for attempt in attempts]
    raise last_error


def _mark_fallback(attempts: list[Attempt]) -> None:
    if attempts and attempts[-1].outcome == "failed":
        attempts[-1] = attempts[-1].model_copy(update={"outcome": "fallback"})


async def _validated(
    schema: dict[str, Any],
    *,
    request: ModelRequest,
    result: ModelResult,
    on_event: EventSink | None,
    stream: bool,
    retry: RetryPolicy | None,
) -> ModelResult:
    parsed, problem = parse_output(schema, result.text)
    if problem is None:
        return result.model_copy(update={"parsed": parsed})
    logger.info("model=%s problem=%s | repairing a structured answer", request.model, problem)
    if on_event is not None:
        outcome = on_event(Notice(kind="repair", message=problem))
        if outcome is not None:
            await outcome
    repair = request.model_copy(
        update={"messages": repair_messages(request.messages, result.text, problem, schema)}
    )
    attempts = list(result.attempts)
    second = await call_model(
        repair, on_event=on_event, stream=stream, retry=retry, attempts=attempts
    )
    parsed, problem = parse_output(schema, second.text)
    if problem is not None:
        raise ModelError(
            f"{request.model}: the answer does not satisfy the agent's output schema after "
            f"one repair: {problem}",
            retryable=False,
            model=request.model,
            error="invalid_output",
            streamed=True,
        )
    return second.model_copy(
        update={"parsed": parsed, "usage": result.usage + second.usage, "attempts": attempts}
    )
