"""`podium.tool`: a user's Lambda tool honouring Podium's contract."""

from __future__ import annotations

import json

import pytest

import podium
from podium.engine.tool_contract import ToolArgumentsError, ToolOutputTooLarge
from podium.engine.tools import unpack_output
from podium.store.blobs import DiskBlobStore

EVENT = {
    "call_id": "c1",
    "name": "weather",
    "arguments": {"city": "Paris"},
    "tenant": "t",
    "session_id": "s",
    "run_id": "r",
}


def test_small_output_is_inline(tmp_path):
    @podium.tool(blobs=DiskBlobStore(tmp_path))
    def handler(city: str) -> dict:
        return {"city": city}

    assert handler(EVENT, None) == {"output": {"city": "Paris"}}


def test_large_output_goes_by_reference(tmp_path):
    blobs = DiskBlobStore(tmp_path)

    @podium.tool(blobs=blobs)
    def handler(city: str) -> str:
        return city * 10_000

    answer = handler(EVENT, None)
    assert set(answer) == {"output_ref"}
    assert answer["output_ref"]["key"] == "t/t/s/s/tool-outputs/r/c1.json"
    assert unpack_output(answer, blobs) == "Paris" * 10_000
    assert len(json.dumps(answer)) < 5_000


def test_bad_arguments_and_oversized_output(tmp_path):
    @podium.tool(blobs=DiskBlobStore(tmp_path), max_output_bytes=10)
    def handler(city: str) -> str:
        return city * 100

    with pytest.raises(ToolArgumentsError):
        handler({**EVENT, "arguments": {"town": "x"}}, None)
    with pytest.raises(ToolArgumentsError):
        handler({**EVENT, "arguments": None}, None)
    with pytest.raises(ToolOutputTooLarge):
        handler(EVENT, None)


def test_async_functions_are_awaited(tmp_path):
    @podium.tool(blobs=DiskBlobStore(tmp_path))
    async def handler(city: str) -> str:
        return city.upper()

    assert handler(EVENT, None) == {"output": "PARIS"}
