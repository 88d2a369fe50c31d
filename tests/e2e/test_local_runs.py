"""End to end through the local runner with the fake provider: the agent loop, tools and their
failures, approvals, client tools, limits, budgets and cancel."""

from __future__ import annotations

import json
import time

import pytest

from podium.testing import Fault, Reply, ToolCall, Usage
from support.podium_env import TENANT, TOOL


def tools(*names: str, extra: str = "") -> str:
    listed = "".join(TOOL.format(name=n, props="{x: {type: integer}}") for n in names)
    return "tools:" + listed + extra


def final(text: str = "All done.") -> Reply:
    return Reply(text=text, chunks=3)


def test_two_parallel_tools(podium, agents, fake_openai):
    agents(
        "weather",
        """
limits: {max_parallel_tools: 2}
tools:
  - name: get_weather
    description: Weather.
    parameters: {type: object, properties: {city: {type: string}}, required: [city]}
    python: tools:get_weather
  - name: get_time
    description: Time.
    parameters: {type: object, properties: {timezone: {type: string}}, required: [timezone]}
    python: tools:get_time
""",
    )
    fake_openai.script(
        Reply(
            tool_calls=[
                ToolCall("get_weather", {"city": "Paris"}, id="c1"),
                ToolCall("get_time", {"timezone": "Europe/Paris"}, id="c2"),
            ]
        ),
        final("Sunny, noon."),
    )
    p = podium()
    session = p.session("weather")
    run = p.run("weather", "Weather in Paris?", session=session)
    assert run.status == "succeeded"
    assert run.output == {"text": "Sunny, noon."}
    roles = [(m.role, m.tool_call_id) for m in p.messages(session)]
    assert roles == [
        ("user", None),
        ("assistant", None),
        ("tool", "c1"),
        ("tool", "c2"),
        ("assistant", None),
    ]
    tool_message = p.messages(session)[2]
    assert json.loads(tool_message.content) == {"city": "Paris", "temperature_c": 21}
    second_request = fake_openai.chat_requests[1].body
    assert [m["role"] for m in second_request["messages"]] == ["user", "assistant", "tool", "tool"]
    types = [e["type"] for e in p.events(session, run.run_id)]
    assert types[0] == "start" and types[-1] == "finish"
    assert types.count("tool-output-available") == 2
    assert types.count("start-step") == 2 and types.count("finish-step") == 2
    assert run.usage.requests == 2
    spans = {s.span_id: s for s in p.store.list_spans(TENANT, session, run.run_id)}
    assert {"run", "step-0001", "step-0002", "tool-0001-c1", "tool-0001-c2"} <= set(spans)
    assert spans["run"].status == "ok" and spans["run"].end is not None


def test_retry_then_success_and_always_failing_tool(podium, agents, fake_openai):
    agents(
        "flaky",
        tools(
            "flaky",
            "broken",
            extra="""
    retry: {max_attempts: 2, interval_s: 1, errors: [RuntimeError]}
""",
        ).replace(
            "python: tools:flaky\n",
            "python: tools:flaky\n    retry: {max_attempts: 3, "
            "interval_s: 1, errors: [WeatherServiceError]}\n",
            1,
        ),
    )
    fake_openai.script(
        Reply(tool_calls=[ToolCall("flaky", {}, id="a"), ToolCall("broken", {}, id="b")]),
        final("Handled."),
    )
    p = podium()
    session = p.session("flaky")
    run = p.run("flaky", "go", session=session)
    assert run.status == "succeeded"
    results = {m.tool_call_id: m.content for m in p.messages(session) if m.role == "tool"}
    assert json.loads(results["a"]) == {"ok": True, "attempts": 3}
    assert results["b"] == "Error: RuntimeError: the backend is down"
    spans = p.store.list_spans(TENANT, session, run.run_id)
    attempts = [s for s in spans if s.kind == "attempt" and s.span_id.startswith("tool-0001-a")]
    assert len(attempts) == 3
    assert sum(s.status == "error" for s in attempts) == 2
    # the always-failing tool ran exactly max_attempts times: no more, no fewer
    broken = [s for s in spans if s.kind == "attempt" and s.span_id.startswith("tool-0001-b")]
    assert len(broken) == 2 and all(s.status == "error" for s in broken)
    [call_b] = [s for s in spans if s.span_id == "tool-0001-b"]
    assert call_b.attributes["attempts"] == 2
    errors = [e for e in p.events(session, run.run_id) if e["type"] == "tool-output-error"]
    assert errors[0]["toolCallId"] == "b"


def test_tool_timeout_becomes_an_error_result(podium, agents, fake_openai, monkeypatch):
    monkeypatch.setenv("PODIUM_TEST_SLOW_S", "3")
    agents("slowpoke", tools("slow") + "    timeout_s: 1\n")
    fake_openai.script(Reply(tool_calls=[ToolCall("slow", {}, id="s")]), final())
    p = podium()
    session = p.session("slowpoke")
    run = p.run("slowpoke", "go", session=session)
    assert run.status == "succeeded"
    [result] = [m.content for m in p.messages(session) if m.role == "tool"]
    assert result == "Error: States.Timeout: the tool timed out"


def test_oversized_output_is_kept_whole_and_capped_for_the_model(podium, agents, fake_openai):
    agents("big", tools("huge"))
    fake_openai.script(Reply(tool_calls=[ToolCall("huge", {}, id="h")]), final())
    p = podium()
    session = p.session("big")
    run = p.run("big", "go", session=session)
    assert run.status == "succeeded"
    blob_keys = p.store.blobs.list_keys(f"t/{TENANT}/s/{session}/tool-outputs/")
    assert len(blob_keys) == 1
    assert len(json.loads(p.store.blobs.get(blob_keys[0]))) == 5 * 1024 * 1024
    [stored] = [
        m
        for m in p.store.list_messages(TENANT, session, limit=50, hydrate=False).items
        if m.role == "tool"
    ]
    assert stored.content is None and stored.content_ref is not None  # a reference
    [full] = [m for m in p.messages(session) if m.role == "tool"]
    assert 900_000 < len(full.content.encode()) <= 1_000_000
    assert "tool output truncated" in full.content
    sent = fake_openai.chat_requests[1].body["messages"][-1]["content"]
    assert len(sent.encode()) <= 1_000_000
    [shown] = [e for e in p.events(session, run.run_id) if e["type"] == "tool-output-available"]
    assert shown["output"]["truncated"] is True


APPROVAL = """
tools:
  - name: refund
    description: Refund.
    parameters: {type: object, properties: {order_id: {type: string},
                 amount_usd: {type: number}}, required: [order_id, amount_usd]}
    python: tools:refund
    approval: {timeout_s: 2, on_timeout: deny}
"""


@pytest.mark.parametrize("decision", ["approve", "deny", "timeout"])
def test_approvals(podium, agents, fake_openai, decision):
    agents("shop", APPROVAL)
    fake_openai.script(
        Reply(tool_calls=[ToolCall("refund", {"order_id": "A1", "amount_usd": 5}, id="r")]),
        final(),
    )
    p = podium()
    session = p.session("shop")
    started = p.service.start_run(TENANT, session, "refund A1")
    run_id = started.run.run_id
    request = p.wait_for_event(session, run_id, "tool-approval-request")
    assert request == {"type": "tool-approval-request", "approvalId": "r", "toolCallId": "r"}
    deadline = time.monotonic() + 10
    while True:  # the call is parked on its token and the run shows as waiting
        run = p.store.get_run(TENANT, session, run_id)
        if run.pending_approvals and run.status == "waiting":
            break
        assert time.monotonic() < deadline
        time.sleep(0.02)
    if decision != "timeout":
        p.service.decide(
            TENANT, session, run_id, "r", approved=decision == "approve", reason="not eligible"
        )
    run = p.wait(session, run_id)
    assert run.status == "succeeded"
    [result] = [m.content for m in p.messages(session) if m.role == "tool"]
    types = [e["type"] for e in p.events(session, run_id)]
    if decision == "approve":
        assert json.loads(result) == {"refunded": 5, "order_id": "A1"}
        assert "tool-output-available" in types
    elif decision == "deny":
        assert result == "The user denied this tool call: not eligible"
        assert "tool-output-denied" in types
    else:
        assert result.startswith("The user timed out this tool call")
        assert "tool-output-denied" in types


def test_client_tool(podium, agents, fake_openai):
    agents(
        "app",
        """
tools:
  - name: screen
    description: What the user sees.
    parameters: {type: object, properties: {}}
    client: true
    timeout_s: 30
""",
    )
    fake_openai.script(Reply(tool_calls=[ToolCall("screen", {}, id="c")]), final())
    p = podium()
    session = p.session("app")
    run_id = p.service.start_run(TENANT, session, "what do I see?").run.run_id
    p.wait_for_event(session, run_id, "tool-input-available")
    deadline = time.monotonic() + 10
    while True:
        try:
            p.service.submit_tool_result(TENANT, session, run_id, "c", output={"page": "cart"})
            break
        except Exception:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    run = p.wait(session, run_id)
    assert run.status == "succeeded"
    [result] = [m.content for m in p.messages(session) if m.role == "tool"]
    assert json.loads(result) == {"page": "cart"}


def test_max_steps(podium, agents, fake_openai):
    agents("loopy", "limits: {max_steps: 1}\n" + tools("get_weather"))
    fake_openai.script(Reply(tool_calls=[ToolCall("get_weather", {"city": "X"}, id="w")]))
    p = podium()
    run = p.run("loopy", "go")
    assert run.status == "failed"
    assert run.error["Error"] == "Podium.MaxSteps"
    assert len(fake_openai.chat_requests) == 1


def test_budget_stops_the_run(podium, agents, fake_openai):
    agents(
        "pricey",
        """
models:
  paid:
    model: openai/gpt-4o-mini
    settings: {max_output_tokens: 10}
    pricing: {input_per_million: 1000, output_per_million: 1000}
model: paid
limits: {max_cost_usd: {run: 0.5}}
"""
        + tools("get_weather"),
    )
    fake_openai.script(
        Reply(
            tool_calls=[ToolCall("get_weather", {"city": "X"}, id="w")],
            usage=Usage(prompt_tokens=400, completion_tokens=100),
        ),
        final(),
    )
    p = podium()
    session = p.session("pricey")
    run = p.run("pricey", "go", session=session)
    assert run.status == "failed"
    assert run.error["Error"] == "Podium.BudgetExceeded"
    assert len(fake_openai.chat_requests) == 1
    assert run.usage.cost_usd == pytest.approx(0.5)
    notices = [e["data"] for e in p.events(session, run.run_id) if e["type"] == "data-notice"]
    assert notices[-1]["kind"] == "budget-stop"


def test_budget_downgrades_to_the_cheaper_model(podium, agents, fake_openai):
    agents(
        "thrifty",
        """
models:
  paid:
    model: openai/gpt-4o-mini
    settings: {max_output_tokens: 10}
    pricing: {input_per_million: 1000, output_per_million: 1000}
  cheap:
    model: openai/cheap-model
    settings: {max_output_tokens: 10}
    pricing: {input_per_million: 0.001, output_per_million: 0.001}
model: paid
limits: {max_cost_usd: {run: 0.5}, on_budget: downgrade, downgrade_to: cheap}
"""
        + tools("get_weather"),
    )
    fake_openai.script(
        Reply(
            tool_calls=[ToolCall("get_weather", {"city": "X"}, id="w")],
            usage=Usage(prompt_tokens=380, completion_tokens=100),
        ),
        final("cheaply done"),
    )
    p = podium()
    session = p.session("thrifty")
    run = p.run("thrifty", "go", session=session)
    assert run.status == "succeeded", run.error
    assert [r.body["model"] for r in fake_openai.chat_requests] == ["gpt-4o-mini", "cheap-model"]
    kinds = [e["data"]["kind"] for e in p.events(session, run.run_id) if e["type"] == "data-notice"]
    assert "budget-downgrade" in kinds


def test_cancel_mid_stream_keeps_partial_output(podium, agents, fake_openai):
    agents("talker", "")
    fake_openai.script(
        Reply(text="one two three four five six seven eight nine ten", chunks=10, chunk_ms=150)
    )
    p = podium()
    session = p.session("talker")
    run_id = p.service.start_run(TENANT, session, "talk").run.run_id
    p.wait_for_event(session, run_id, "text-delta")
    p.service.cancel(TENANT, session, run_id)
    run = p.wait(session, run_id)
    assert run.status == "cancelled"
    assert run.output["partial"] is True
    assert run.output["text"].startswith("one")
    assert len(run.output["text"]) < len("one two three four five six seven eight nine ten")
    types = [e["type"] for e in p.events(session, run_id)]
    assert types[-2:] == ["abort", "finish"]
    assert (
        p.store.get_session(TENANT, session).lease is None
        or p.store.get_session(TENANT, session).lease_holder(time.time()) is None
    )


def test_provider_fault_falls_back(podium, agents, fake_openai):
    agents(
        "resilient",
        """
models:
  main: openai/gpt-4o-mini
  backup: openai/gpt-4.1-mini
model: main
fallbacks: [backup]
""",
    )
    fake_openai.script(
        Fault.server_error(500),
        Fault.server_error(500),
        Fault.server_error(500),
        final("from backup"),
    )
    p = podium()
    run = p.run("resilient", "hi")
    assert run.status == "succeeded"
    assert run.output == {"text": "from backup"}
    models = [r.body["model"] for r in fake_openai.chat_requests]
    assert models[-1] == "gpt-4.1-mini"


def test_cancel_a_run_whose_execution_never_started(podium, agents, fake_openai, monkeypatch):
    from podium.engine.local import LocalOrchestrator

    agents("talker", "")
    fake_openai.script(Reply(text="late"), Reply(text="next"))
    p = podium()
    session = p.session("talker")
    with monkeypatch.context() as patch:  # the run is written, then its starter "dies"
        patch.setattr(LocalOrchestrator, "start", lambda self, name, payload: f"local:{name}")
        run_id = p.service.start_run(TENANT, session, "talk").run.run_id
    assert p.store.get_run(TENANT, session, run_id).status == "queued"
    cancelled = p.service.cancel(TENANT, session, run_id)
    assert cancelled.status == "cancelled"
    assert p.store.get_session(TENANT, session).lease_holder(time.time()) is None
    # the session takes the next input at once
    again = p.run("talker", "again", session=session)
    assert again.status == "succeeded", again.error
