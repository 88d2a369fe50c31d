"""An interrupted run ends at once, its tool in flight or not, and that tool's late result is
discarded; a provider that repeats a tool-call id still gets each call run and each result
kept, under ids made unique within the run."""

from __future__ import annotations

import json
import time

from podium.testing import Reply, ToolCall
from support.podium_env import TENANT

BLOCKING_PY = """
import os, time
from pathlib import Path

STATE = Path(os.environ["PODIUM_TEST_STATE"])

def blocking(x=0):
    STATE.mkdir(parents=True, exist_ok=True)
    (STATE / "started").write_text("1")
    while not (STATE / "release").exists():
        time.sleep(0.02)
    (STATE / "returned").write_text("1")
    return {"late": True}

def get_weather(city):
    return {"city": city}
"""

AGENT = """
on_conflict: interrupt
tools:
  - name: blocking
    description: Blocks until released.
    parameters: {type: object, properties: {x: {type: integer}}}
    python: tools:blocking
    timeout_s: 120
  - name: get_weather
    description: Weather.
    parameters: {type: object, properties: {city: {type: string}}}
    python: tools:get_weather
"""


def wait_for(predicate, what: str, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, what
        time.sleep(0.02)
    return value


def test_an_interrupted_run_ends_without_waiting_for_its_tool(
    podium, agents, fake_openai, tmp_path
):
    folder = agents("eager", AGENT)
    (folder / "tools.py").write_text(BLOCKING_PY)
    fake_openai.script(
        Reply(tool_calls=[ToolCall("blocking", {}, id="b1")]), Reply(text="fresh answer")
    )
    state = tmp_path / "state"
    p = podium()
    session = p.session("eager")
    first = p.service.start_run(TENANT, session, "one").run.run_id
    wait_for((state / "started").exists, "the tool never started")
    second = p.service.start_run(TENANT, session, "two")
    assert second.interrupted == first
    run = wait_for(
        lambda: (r := p.store.get_run(TENANT, session, first)).terminal and r,
        "the interrupted run waited for its tool",
    )
    assert run.status == "cancelled"
    assert not (state / "returned").exists()  # ended while its tool was still in flight
    assert p.wait(session, second.run.run_id).status == "succeeded"
    (state / "release").write_text("1")  # the tool returns now, late
    wait_for((state / "returned").exists, "the tool never returned")
    p.runner.executor.wait(first, 10)
    results = [m for m in p.messages(session) if m.role == "tool"]
    assert [(m.tool_call_id, m.content) for m in results] == [
        ("b1", "Error: the run was interrupted before this tool finished.")
    ]  # the late result was discarded
    assert [m.role for m in p.messages(session)] == ["user", "assistant", "tool", "user",
                                                     "assistant"]  # fmt: skip


def test_a_repeated_tool_call_id_keeps_every_call_and_result(podium, agents, fake_openai):
    (agents("eager", AGENT) / "tools.py").write_text(BLOCKING_PY)
    fake_openai.script(
        Reply(tool_calls=[ToolCall("get_weather", {"city": "Oslo"}, id="dup"),
                          ToolCall("get_weather", {"city": "Rome"}, id="dup")]),
        Reply(tool_calls=[ToolCall("get_weather", {"city": "Lima"}, id="dup")]),
        Reply(text="Three cities."),
    )  # fmt: skip
    p = podium()
    session = p.session("eager")
    run = p.run("eager", "weather in three cities", session=session)
    assert run.status == "succeeded", run.error
    messages = p.messages(session)
    calls = [c["id"] for m in messages if m.role == "assistant" for c in m.tool_calls or []]
    assert calls == ["dup", "dup-2", "dup-3"]
    results = {m.tool_call_id: json.loads(m.content)["city"] for m in messages if m.role == "tool"}
    assert results == {"dup": "Oslo", "dup-2": "Rome", "dup-3": "Lima"}
    events = p.events(session, run.run_id)
    started = [e["toolCallId"] for e in events if e["type"] == "tool-input-start"]
    outputs = [e["toolCallId"] for e in events if e["type"] == "tool-output-available"]
    assert started == ["dup", "dup-2", "dup-3"] and sorted(outputs) == sorted(started)
    # the provider is sent the ids it may not know, each with its own result
    last_request = fake_openai.chat_requests[-1].body["messages"]
    sent = [m["tool_call_id"] for m in last_request if m["role"] == "tool"]
    assert sent == ["dup", "dup-2", "dup-3"]
