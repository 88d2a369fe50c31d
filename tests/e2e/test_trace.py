"""The trace of a run with parallel tools, a retried tool and a fallback model: its shape,
timings that nest, totals that add up; and redaction of spans, events and logs."""

from __future__ import annotations

import json
import logging
import re

from podium.testing import Fault, Reply, ToolCall, Usage
from support.podium_env import TENANT

AGENT = """
models:
  main: openai/gpt-4o-mini
  backup: openai/gpt-4.1-mini
model: main
fallbacks: [backup]
limits: {max_parallel_tools: 2}
tools:
  - name: get_weather
    description: Weather.
    parameters: {type: object, properties: {city: {type: string}}}
    python: tools:get_weather
  - name: flaky
    description: Flaky.
    parameters: {type: object, properties: {x: {type: integer}}}
    python: tools:flaky
    retry: {max_attempts: 3, interval_s: 1, errors: [WeatherServiceError]}
"""


def test_span_tree_shape_nesting_and_totals(podium, agents, fake_openai):
    agents("traced", AGENT)
    fake_openai.script(
        Fault.server_error(500), Fault.server_error(500), Fault.server_error(500),
        Reply(tool_calls=[ToolCall("get_weather", {"city": "Oslo"}, id="w"),
                          ToolCall("flaky", {}, id="f")],
              usage=Usage(prompt_tokens=100, completion_tokens=20)),
        Reply(text="Done.", usage=Usage(prompt_tokens=150, completion_tokens=10)),
    )  # fmt: skip
    p = podium()
    session = p.session("traced")
    run = p.run("traced", "go", session=session)
    assert run.status == "succeeded"
    spans = {s.span_id: s for s in p.store.list_spans(TENANT, session, run.run_id)}
    children: dict[str | None, list[str]] = {}
    for span in spans.values():
        children.setdefault(span.parent_id, []).append(span.span_id)
    assert children[None] == ["run"]
    assert sorted(children["run"]) == ["step-0001", "step-0002"]
    assert sorted(children["step-0001"]) == ["model-0001-00", "tool-0001-f", "tool-0001-w"]
    model = spans["model-0001-00"]
    assert model.attributes["model"] == "gpt-4.1-mini" or model.attributes["model"].endswith(
        "gpt-4.1-mini"
    )
    attempts = sorted(children["model-0001-00"])
    outcomes = [spans[a].attributes["outcome"] for a in attempts]
    assert outcomes[-1] == "ok" and "fallback" in outcomes  # the main model, then the backup
    flaky_attempts = [spans[a] for a in children["tool-0001-f"]]
    assert [a.status for a in sorted(flaky_attempts, key=lambda s: s.start)] == [
        "error",
        "error",
        "ok",
    ]
    assert spans["tool-0001-f"].attributes["attempts"] == 3
    for span in spans.values():  # every child lies within its parent
        assert span.end is not None and span.end >= span.start
        if span.parent_id:
            parent = spans[span.parent_id]
            assert span.start >= parent.start - 0.005, (span.span_id, parent.span_id)
            assert span.end <= parent.end + 0.005, (span.span_id, parent.span_id)
    models = [s for s in spans.values() if s.kind == "model"]
    assert sum(s.attributes["input_tokens"] for s in models) == 250
    assert spans["run"].attributes["input_tokens"] == run.usage.input_tokens == 250
    assert spans["run"].attributes["output_tokens"] == 30
    cost = sum(s.attributes["cost_usd"] for s in models)
    assert abs(spans["run"].attributes["cost_usd"] - run.usage.cost_usd) < 1e-9
    assert abs(cost - run.usage.cost_usd) < 1e-6


def test_redaction_of_spans_events_and_logs(podium, agents, fake_openai, caplog):
    agents(
        "secretive",
        """
redact:
  fields: [city]
  patterns: ["\\\\b\\\\d{16}\\\\b"]
tools:
  - name: get_weather
    description: Weather.
    parameters: {type: object, properties: {city: {type: string}}}
    python: tools:get_weather
  - name: decline
    description: Fails, quoting the card.
    parameters: {type: object, properties: {card: {type: string}}}
    python: tools:decline
""",
    )
    fake_openai.script(
        Reply(
            tool_calls=[
                ToolCall("get_weather", {"city": "Atlantis"}, id="w"),
                ToolCall("decline", {"card": "4111111111111111"}, id="d"),
            ]
        ),
        Reply(text="Card 4111111111111111 noted."),
    )
    caplog.set_level(logging.DEBUG)
    p = podium()
    session = p.session("secretive")
    run = p.run("secretive", "card 4111111111111111 please", session=session)
    assert run.status == "succeeded"
    spans = json.dumps([s.model_dump() for s in p.store.list_spans(TENANT, session, run.run_id)])
    events = json.dumps(p.events(session, run.run_id))
    assert "Atlantis" not in spans and "Atlantis" not in events
    assert "4111111111111111" not in spans and "4111111111111111" not in events
    assert "[REDACTED]" in events and "[REDACTED]" in spans
    failed = [s for s in p.store.list_spans(TENANT, session, run.run_id) if s.error]
    assert failed and all("declined" in json.dumps(s.error) for s in failed)  # errors redacted
    assert not any(
        "4111111111111111" in r.getMessage() or "Atlantis" in r.getMessage() for r in caplog.records
    )
    # the conversation the model needs is kept as it is
    assert any(m.content == "card 4111111111111111 please" for m in p.messages(session))


def test_a_card_cut_across_streamed_chunks_is_still_redacted(podium, agents, fake_openai, caplog):
    """The provider streams the number a character at a time: no chunk holds a match, yet
    no event, span or log shows it, and the text the client reads says [REDACTED]."""
    agents("cutting", 'redact:\n  patterns: ["\\\\b\\\\d{16}\\\\b"]\n')
    filler = "Thanks for waiting while I looked this up for you. " * 4
    text = f"{filler}Your card 4111111111111111 is on file. {filler}"
    fake_openai.script(Reply(text=text, chunks=len(text)))  # one character per chunk
    caplog.set_level(logging.DEBUG)
    p = podium()
    session = p.session("cutting")
    run = p.run("cutting", "what card do you have?", session=session)
    assert run.status == "succeeded"
    events = p.events(session, run.run_id)
    deltas = [e["delta"] for e in events if e["type"] == "text-delta"]
    assert "".join(deltas) == f"{filler}Your card [REDACTED] is on file. {filler}"
    assert len(deltas) > 1  # still streamed, not held to the end
    dumped = json.dumps(events) + json.dumps(
        [s.model_dump() for s in p.store.list_spans(TENANT, session, run.run_id)]
    )
    assert "4111111111111111" not in dumped and not re.search(r"\d{4}", "".join(deltas))
    assert not any("4111111111111111" in r.getMessage() for r in caplog.records)


def test_usage_rollups_match_the_sum_of_runs(podium, agents, fake_openai):
    from podium.observe.usage import rollup

    agents("counted", "")
    fake_openai.script(
        *[
            Reply(text="ok", usage=Usage(prompt_tokens=10 * i, completion_tokens=i))
            for i in range(1, 4)
        ]
    )
    p = podium()
    runs = []
    for _ in range(3):
        session = p.session("counted")
        runs.append(p.run("counted", "hi", session=session))
    by_agent = rollup(p.store, TENANT, group_by="agent")
    [row] = [r for r in by_agent.rows if r.key == {"agent": "counted"}]
    assert row.input_tokens == sum(r.usage.input_tokens for r in runs) == 60
    assert row.output_tokens == 6 and row.model_calls == 3
    by_session = rollup(p.store, TENANT, group_by="session")
    assert by_session.total.input_tokens == 60
    assert len(by_session.rows) == 3
