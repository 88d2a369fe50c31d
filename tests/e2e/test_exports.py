"""A run's trace reaches an OTLP collector with GenAI attributes; its metrics come out as
CloudWatch EMF; handler log lines are JSON carrying the run's ids."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from podium.testing import Reply, ToolCall, Usage
from support.podium_env import TENANT

AGENT = """
tools:
  - name: get_weather
    description: Weather.
    parameters: {type: object, properties: {city: {type: string}}}
    python: tools:get_weather
"""


class Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[trace_service_pb2.ExportTraceServiceRequest]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        request = trace_service_pb2.ExportTraceServiceRequest()
        request.ParseFromString(body)
        Collector.received.append(request)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()
        self.wfile.write(trace_service_pb2.ExportTraceServiceResponse().SerializeToString())

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def collector(monkeypatch):
    Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    from podium.observe import otel

    monkeypatch.setattr(otel, "_provider", None)
    yield Collector
    server.shutdown()


def exported(collector) -> list:
    """Every span the collector has received."""
    return [s for request in collector.received for rs in request.resource_spans
            for ss in rs.scope_spans for s in ss.spans]  # fmt: skip


def attributes(span) -> dict:
    out = {}
    for item in span.attributes:
        value = item.value
        out[item.key] = (value.string_value or value.int_value or value.double_value
                         or value.bool_value)  # fmt: skip
    return out


def test_otlp_export_with_genai_attributes(podium, agents, fake_openai, collector):
    agents("exported", AGENT)
    fake_openai.script(
        Reply(
            tool_calls=[ToolCall("get_weather", {"city": "Oslo"}, id="w")],
            usage=Usage(prompt_tokens=40, completion_tokens=5),
        ),
        Reply(text="Sunny.", usage=Usage(prompt_tokens=60, completion_tokens=3)),
    )
    p = podium()
    run = p.run("exported", "weather in Oslo?")
    assert run.status == "succeeded"
    deadline = time.monotonic() + 10  # the export follows the run's last event
    while True:
        spans = exported(collector)
        if any(s.name.startswith("invoke_agent") for s in spans) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    by_name = {s.name: s for s in spans}
    assert "invoke_agent exported" in by_name
    chats = [s for s in spans if s.name == "chat gpt-4o-mini"]
    assert len(chats) == 2
    first = attributes(min(chats, key=lambda s: s.start_time_unix_nano))
    assert first["gen_ai.operation.name"] == "chat"
    assert first["gen_ai.request.model"] == "gpt-4o-mini"
    assert first["gen_ai.provider.name"] == "openai"
    assert first["gen_ai.usage.input_tokens"] == 40
    assert first["gen_ai.usage.output_tokens"] == 5
    tool = attributes(by_name["execute_tool get_weather"])
    assert tool["gen_ai.tool.name"] == "get_weather" and tool["gen_ai.tool.call.id"] == "w"
    assert len({s.trace_id for s in spans}) == 1
    root = by_name["invoke_agent exported"]
    steps = [s for s in spans if s.parent_span_id == root.span_id]
    assert len(steps) == 2
    # EndRun delivered again (a Lambda retry, a resumed run): the run is exported once
    from podium.engine.handlers import end_run

    end_run({"tenant": TENANT, "session_id": run.session_id, "run_id": run.run_id,
             "agent": "exported", "agent_hash": run.agent_hash})  # fmt: skip
    from podium.observe import otel

    otel._tracer_provider().force_flush()  # whatever the second EndRun exported has arrived
    assert sum(s.name.startswith("invoke_agent") for s in exported(collector)) == 1


def test_emf_metrics_and_json_logs(podium, agents, fake_openai, monkeypatch, capsys):
    from podium.observe import logs

    monkeypatch.setenv("PODIUM_METRICS", "emf")
    agents("metered", AGENT)
    fake_openai.script(
        Reply(
            tool_calls=[ToolCall("get_weather", {"city": "Oslo"}, id="w")],
            usage=Usage(prompt_tokens=40, completion_tokens=5),
        ),
        Reply(text="Sunny.", usage=Usage(prompt_tokens=60, completion_tokens=3)),
    )
    p = podium()
    run = p.run("metered", "weather?")
    assert run.status == "succeeded"
    output, deadline = "", time.monotonic() + 10  # the metrics follow the run's last event
    while '"RunDuration"' not in output and time.monotonic() < deadline:
        time.sleep(0.05)
        output += capsys.readouterr().out
    documents = [json.loads(line) for line in output.splitlines()
                 if line.startswith("{") and "_aws" in line]  # fmt: skip
    names = {d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]: d for d in documents}
    assert names["Runs"]["agent"] == "metered" and names["Runs"]["status"] == "succeeded"

    def values(name: str) -> list[float]:
        found = [d[name] for d in documents if name in d]
        return [v for item in found for v in (item if isinstance(item, list) else [item])]

    assert sum(values("InputTokens")) == 100 and sum(values("OutputTokens")) == 8
    assert names["ToolCalls"]["tool"] == "get_weather"
    assert names["Runs"]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Podium"

    record = logging.LogRecord("podium.test", logging.INFO, __file__, 1, "hello %s", ("x",),
                               None)  # fmt: skip
    token = logs.bind(session_id="s1", run_id="r1", step=2)
    try:
        line = json.loads(logs.JsonFormatter().format(record))
    finally:
        logs.unbind(token)
    assert line["message"] == "hello x"
    assert (line["session_id"], line["run_id"], line["step"]) == ("s1", "r1", 2)
    assert line["level"] == "INFO" and line["service"] == "podium"
