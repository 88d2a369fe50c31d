"""Hand-written agent loops: raw `httpx` (the floor) and bare `litellm.acompletion`.

The loop: send the question with the two tool schemas; run the requested tools concurrently;
send their results; return the answer. No persistence, no retries, nothing else.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from workload import API_KEY, MODEL, QUESTION, SYSTEM_PROMPT, TOOL_SCHEMAS, TOOLS

from contenders.base import BaseContender, TurnResult


async def _run_tools(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    async def one(call: dict[str, Any]) -> dict[str, Any]:
        function = call["function"]
        output = TOOLS[function["name"]](**json.loads(function["arguments"] or "{}"))
        return {"role": "tool", "tool_call_id": call["id"], "content": json.dumps(output)}

    return list(await asyncio.gather(*(one(c) for c in calls)))


def _merge_tool_deltas(calls: dict[int, dict[str, Any]], deltas: list[dict[str, Any]]) -> None:
    for delta in deltas:
        slot = calls.setdefault(
            delta.get("index", 0),
            {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
        )
        slot["id"] = delta.get("id") or slot["id"]
        function = delta.get("function") or {}
        slot["function"]["name"] += function.get("name") or ""
        slot["function"]["arguments"] += function.get("arguments") or ""


class Loop(BaseContender):
    """The agent loop over a `complete(messages, stream) -> (message, deltas)` transport.

    `history`: earlier messages sent before the question (a session's context window)."""

    history: list[dict[str, Any]] = []  # noqa: RUF012 - replaced, never mutated

    async def complete(
        self, messages: list[dict[str, Any]], stream: bool
    ) -> tuple[dict[str, Any], int]:
        raise NotImplementedError

    async def new_session(self) -> Any:
        return None

    async def turn(self, session: Any, stream: bool) -> TurnResult:
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            *self.history,
            {"role": "user", "content": QUESTION},
        ]
        deltas = 0
        for _ in range(4):
            message, count = await self.complete(messages, stream)
            deltas += count
            messages.append(message)
            if not message.get("tool_calls"):
                return TurnResult(message.get("content") or "", deltas=deltas)
            messages.extend(await _run_tools(message["tool_calls"]))
        raise RuntimeError("the model kept calling tools")


class HttpxLoop(Loop):
    name = "httpx loop (floor)"

    def __init__(self, base_url: str) -> None:
        import httpx

        self.url = base_url + "/chat/completions"
        self.client = httpx.AsyncClient(timeout=60)
        self.headers = {"authorization": f"Bearer {API_KEY}"}

    async def complete(
        self, messages: list[dict[str, Any]], stream: bool
    ) -> tuple[dict[str, Any], int]:
        body: dict[str, Any] = {"model": MODEL, "messages": messages, "tools": TOOL_SCHEMAS}
        if not stream:
            response = await self.client.post(self.url, json=body, headers=self.headers)
            response.raise_for_status()
            return response.json()["choices"][0]["message"], 0
        body.update(stream=True, stream_options={"include_usage": True})
        text: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        async with self.client.stream("POST", self.url, json=body, headers=self.headers) as r:
            r.raise_for_status()
            async for line in r.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                for choice in json.loads(line[6:])["choices"]:
                    delta = choice.get("delta") or {}
                    if delta.get("content"):
                        text.append(delta["content"])
                    _merge_tool_deltas(calls, delta.get("tool_calls") or [])
        message: dict[str, Any] = {"role": "assistant", "content": "".join(text) or None}
        if calls:
            message["tool_calls"] = [calls[i] for i in sorted(calls)]
        return message, len(text)

    async def close(self) -> None:
        await self.client.aclose()


class LitellmLoop(Loop):
    name = "litellm loop"

    def __init__(self, base_url: str) -> None:
        import litellm

        self.litellm = litellm
        self.base_url = base_url

    async def complete(
        self, messages: list[dict[str, Any]], stream: bool
    ) -> tuple[dict[str, Any], int]:
        kwargs: dict[str, Any] = {"stream_options": {"include_usage": True}} if stream else {}
        response = await self.litellm.acompletion(
            model=f"openai/{MODEL}",
            messages=messages,
            tools=TOOL_SCHEMAS,
            api_base=self.base_url,
            api_key=API_KEY,
            stream=stream,
            **kwargs,
        )
        if not stream:
            return response.choices[0].message.model_dump(exclude_none=True), 0
        text: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        async for chunk in response:
            for choice in chunk.choices:
                delta = choice.delta
                if delta.content:
                    text.append(delta.content)
                if delta.tool_calls:
                    _merge_tool_deltas(calls, [c.model_dump() for c in delta.tool_calls])
        message: dict[str, Any] = {"role": "assistant", "content": "".join(text) or None}
        if calls:
            message["tool_calls"] = [calls[i] for i in sorted(calls)]
        return message, len(text)
