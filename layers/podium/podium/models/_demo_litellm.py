"""The demo model as a litellm custom provider (`podium/demo*`), imported only with litellm.

Streams a word (or eight characters of a tool call's arguments) per chunk; each tool call is
its own chunk with its index, so parallel calls survive litellm's stream wrapper; the last
chunk carries the usage, as a real provider's does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

from litellm import ModelResponse
from litellm.llms.custom_llm import CustomLLM

from podium import settings
from podium.models import demo

__all__ = ["PROVIDER", "DemoLLM", "register_demo_provider"]

PROVIDER = "podium"


def _reply(messages: list[Any], optional_params: dict[str, Any]) -> demo.DemoReply:
    tools = optional_params.get("tools") or []
    response_format = optional_params.get("response_format")
    schema = None
    if isinstance(response_format, dict):
        schema = (response_format.get("json_schema") or {}).get("schema")
    return demo.demo_reply(messages, tools, schema)


def _usage(reply: demo.DemoReply) -> dict[str, int]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }


def _chunks(reply: demo.DemoReply) -> Iterator[dict[str, Any]]:
    def chunk(text: str = "", tool_use: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "text": text,
            "tool_use": tool_use,
            "is_finished": False,
            "finish_reason": "",
            "usage": None,
            "index": 0,
        }

    for piece in demo.split_tokens(reply.text):
        yield chunk(piece)
    for index, (call_id, name, arguments) in enumerate(reply.tool_calls):
        yield chunk(
            tool_use={
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": ""},
                "index": index,
            }
        )
        for piece in demo.argument_pieces(arguments):
            yield chunk(
                tool_use={
                    "id": None,
                    "type": "function",
                    "function": {"name": None, "arguments": piece},
                    "index": index,
                }
            )
    yield {
        "text": "",
        "tool_use": None,
        "is_finished": True,
        "finish_reason": reply.finish_reason,
        "usage": _usage(reply),
        "index": 0,
    }


class DemoLLM(CustomLLM):
    """`podium/demo`: deterministic answers and tool calls (see `podium.models.demo`)."""

    def completion(self, *args: Any, **kwargs: Any) -> Any:
        return self._response(kwargs)

    async def acompletion(self, *args: Any, **kwargs: Any) -> Any:
        return self._response(kwargs)

    def streaming(  # type: ignore[override]  # litellm passes everything by keyword
        self, *args: Any, **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
        yield from _chunks(_reply(kwargs["messages"], kwargs.get("optional_params") or {}))

    async def astreaming(  # type: ignore[override]
        self, *args: Any, **kwargs: Any
    ) -> AsyncIterator[dict[str, Any]]:
        delay = float(settings.resolve(None, settings.ENV_DEMO_TOKEN_DELAY_MS, "0")) / 1000.0
        for chunk in _chunks(_reply(kwargs["messages"], kwargs.get("optional_params") or {})):
            yield chunk
            await asyncio.sleep(delay)

    @staticmethod
    def _response(kwargs: dict[str, Any]) -> Any:
        reply = _reply(kwargs["messages"], kwargs.get("optional_params") or {})
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                for cid, name, args in reply.tool_calls
            ]
        return ModelResponse(
            model=kwargs.get("model", "demo"),
            choices=[{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
            usage=_usage(reply),
        )


def register_demo_provider(litellm: Any) -> None:
    """Add the demo provider to `litellm.custom_provider_map` (once)."""
    if any(item.get("provider") == PROVIDER for item in litellm.custom_provider_map):
        return
    litellm.custom_provider_map = [
        *litellm.custom_provider_map,
        {"provider": PROVIDER, "custom_handler": DemoLLM()},
    ]
    from litellm.utils import custom_llm_setup  # noqa: PLC0415

    custom_llm_setup()  # type: ignore[no-untyped-call]
