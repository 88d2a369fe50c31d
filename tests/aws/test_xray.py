"""X-Ray in Lambda: each handler invocation is a `## <handler>` subsegment, each model call a
`model <model>` one (its attempts nested in it), each tool run a `tool <name>` one, sent to the
X-Ray daemon over UDP as they end, with annotations, metadata and faults, and nothing the
agent's redaction rules hide. Outside Lambda (or with POWERTOOLS_TRACE_DISABLED) nothing is
sent and the X-Ray SDK is never imported.

The daemon here is a UDP socket on 127.0.0.1; the Lambda runtime's environment
(AWS_LAMBDA_FUNCTION_NAME, LAMBDA_TASK_ROOT, _X_AMZN_TRACE_ID, AWS_XRAY_DAEMON_ADDRESS) is set
as Lambda sets it, and a real run goes through Podium's handlers (the local runner calls them
as Step Functions does) against the fake OpenAI server."""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from podium.engine import handlers
from podium.engine.runtime import set_runtime
from podium.observe import xray
from podium.testing import Fault, Reply, ToolCall, Usage
from support.podium_env import TENANT, TOOLS_PY, agent_yaml, make_podium

ROOT = Path(__file__).parents[2]
CARD = "4111111111111111"
CITY = "Atlantis"
HEADER = {"format": "json", "version": 1}
SYNC = b"#sync "
DONE = f"Done: charged card {CARD} for the weather report. " + "That is all. " * 12

AGENT = """
models:
  main: openai/gpt-4o-mini
  backup: openai/gpt-4.1-mini
model: main
fallbacks: [backup]
redact:
  fields: [city]
  patterns: ["\\\\b\\\\d{16}\\\\b"]
limits: {max_parallel_tools: 3}
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
  - name: charge
    description: Charge a card.
    parameters: {type: object, properties: {card: {type: string}}}
    python: tools:decline
"""


class Daemon:
    """The X-Ray daemon's UDP port: every datagram received, as bytes."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.05)
        self.port = self.socket.getsockname()[1]
        self.datagrams: list[bytes] = []
        self._synced: set[bytes] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self.socket.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            if data.startswith(SYNC):
                self._synced.add(data)
            else:
                self.datagrams.append(data)

    def sync(self, timeout: float = 10) -> None:
        """Return once every datagram sent before this call has been received: a marker
        sent now arrives behind them (loopback delivers a socket's queue in order)."""
        marker = SYNC + secrets.token_hex(8).encode()
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sender.sendto(marker, ("127.0.0.1", self.port))
        finally:
            sender.close()
        deadline = time.monotonic() + timeout
        while marker not in self._synced:
            if time.monotonic() > deadline:
                raise TimeoutError("the daemon did not receive its own marker")
            time.sleep(0.005)

    def documents(self) -> list[dict[str, Any]]:
        """Each datagram: the protocol header line, then one segment document."""
        out = []
        for data in list(self.datagrams):
            header, _, body = data.decode().partition("\n")
            assert json.loads(header) == HEADER, header
            out.append(json.loads(body))
        return out

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            documents = self.documents()
            if predicate(documents):
                return documents
            time.sleep(0.02)
        raise TimeoutError(f"the daemon got {len(self.datagrams)} datagrams")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.socket.close()


def trace_header() -> tuple[str, str, str]:
    root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    parent = secrets.token_hex(8)
    return root, parent, f"Root={root};Parent={parent};Sampled=1"


def _reset_sdk() -> None:
    """Forget Podium's tracer and Powertools' class-wide tracer settings; point the X-Ray
    recorder, if an earlier test imported it, at this test's daemon and a fresh Lambda
    context (a first import reads both from the environment, as in Lambda)."""
    xray.reset()
    if "aws_lambda_powertools.tracing.tracer" in sys.modules:
        from aws_lambda_powertools.tracing import Tracer

        Tracer._reset_config()
    if "aws_xray_sdk.core" in sys.modules:
        from aws_xray_sdk import global_sdk_config
        from aws_xray_sdk.core import xray_recorder
        from aws_xray_sdk.core.lambda_launcher import LambdaContext

        global_sdk_config.set_sdk_enabled(True)
        if os.environ.get("LAMBDA_TASK_ROOT"):
            xray_recorder.configure(
                context=LambdaContext(), daemon_address=os.environ["AWS_XRAY_DAEMON_ADDRESS"]
            )


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    listener = Daemon()
    yield listener
    listener.close()


@pytest.fixture
def in_lambda(monkeypatch, daemon, tmp_path) -> Iterator[dict[str, str]]:
    root, parent, header = trace_header()
    for name in ("POWERTOOLS_TRACE_DISABLED", "AWS_SAM_LOCAL", "AWS_LAMBDA_INITIALIZATION_TYPE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "podium-test")
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path / "task"))
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", daemon.address)
    monkeypatch.setenv("_X_AMZN_TRACE_ID", header)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "podium")
    monkeypatch.setenv("PODIUM_METRICS", "off")  # no EMF lines in this test's output
    _reset_sdk()
    yield {"root": root, "parent": parent}
    monkeypatch.undo()
    _reset_sdk()


@pytest.fixture
def podium(tmp_path: Path, fake_openai, monkeypatch) -> Iterator[Callable[[], Any]]:
    folder = tmp_path / "agents" / "paying"
    folder.mkdir(parents=True)
    (folder / "agent.yaml").write_text(agent_yaml("paying", AGENT))
    (folder / "tools.py").write_text(TOOLS_PY)
    monkeypatch.setenv("OPENAI_API_BASE", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("PODIUM_TEST_STATE", str(tmp_path / "state"))
    made: list[Any] = []

    def build() -> Any:
        made.append(make_podium(tmp_path))
        return made[-1]

    yield build
    for instance in made:
        instance.runner.stop()
    set_runtime(None)


@pytest.fixture
def invocations(monkeypatch) -> Counter[str]:
    """How often each handler is invoked (the runner looks them up when it is built)."""
    counts: Counter[str] = Counter()
    for name in ("begin_run", "model_step", "run_tool", "record_tools", "end_run", "fail_run",
                 "await_callback"):  # fmt: skip
        original = getattr(handlers, name)

        def counting(event, context=None, _original=original, _name=name):
            counts[_name] += 1
            return _original(event, context)

        monkeypatch.setattr(handlers, name, counting)
    return counts


def script(fake_openai) -> None:
    fake_openai.script(
        Fault.server_error(500), Fault.server_error(500), Fault.server_error(500),
        Reply(tool_calls=[ToolCall("get_weather", {"city": CITY}, id="w"),
                          ToolCall("flaky", {}, id="f"),
                          ToolCall("charge", {"card": CARD}, id="c")],
              usage=Usage(prompt_tokens=100, completion_tokens=20)),
        Reply(text=DONE, chunks=len(DONE),  # the card cut across one-character chunks
              usage=Usage(prompt_tokens=150, completion_tokens=10)),
    )  # fmt: skip


def run(p: Any) -> tuple[str, Any]:
    session = p.session("paying")
    started = p.service.start_run(TENANT, session, f"weather in {CITY}, and charge {CARD}")
    return session, p.wait(session, started.run.run_id)


def test_handler_model_and_tool_subsegments(in_lambda, daemon, podium, fake_openai, invocations):
    script(fake_openai)
    p = podium()
    session, finished = run(p)
    assert finished.status == "succeeded", finished.error
    run_id = finished.run_id
    p.runner.executor.wait(run_id, 30)  # every handler of the run has returned
    daemon.sync()  # and everything they sent has arrived: nothing else will
    documents = daemon.documents()
    assert sum(d["name"].startswith("## ") for d in documents) == sum(invocations.values())

    # one `## <handler>` subsegment per invocation, all in the Lambda invocation's trace
    assert all(d["trace_id"] == in_lambda["root"] for d in documents)
    assert all(d["type"] == "subsegment" and not d["in_progress"] for d in documents)
    handler_docs = [d for d in documents if d["name"].startswith("## ")]
    assert Counter(d["name"][3:] for d in handler_docs) == invocations
    assert invocations["model_step"] == 2 and invocations["run_tool"] >= 5
    for doc in handler_docs:
        assert doc["parent_id"] == in_lambda["parent"]  # the function's (facade) segment
        notes = doc["annotations"]
        assert notes["handler"] == doc["name"][3:] and notes["Service"] == "podium"
        assert notes["run_id"] == run_id and notes["session_id"] == session
        assert notes["agent"] == "paying"
        assert doc["start_time"] <= doc["end_time"]
    assert sum(d["annotations"]["ColdStart"] for d in handler_docs) == 1
    steps = sorted(d["annotations"].get("after_step") for d in handler_docs
                   if d["name"] == "## model_step")  # fmt: skip
    assert steps == [0, 1]
    assert all(d["annotations"]["step"] == 1 for d in handler_docs
               if d["name"] in {"## run_tool", "## record_tools"})  # fmt: skip
    by_id = {d["id"]: d for d in handler_docs}

    def handler_of(doc: dict[str, Any], name: str) -> dict[str, Any]:
        parent = by_id[doc["parent_id"]]
        assert parent["name"] == f"## {name}"
        assert parent["start_time"] <= doc["start_time"] <= doc["end_time"] <= parent["end_time"]
        return parent

    # model calls: `model <model>`, the fallback's attempts nested in the first
    models = sorted((d for d in documents if d["name"].startswith("model ")),
                    key=lambda d: d["start_time"])  # fmt: skip
    assert len(models) == 2
    for number, doc in enumerate(models, start=1):
        handler_of(doc, "model_step")
        notes = doc["annotations"]
        assert doc["name"] == f"model {notes['model']}" and "gpt-4" in notes["model"]
        assert notes["kind"] == "model" and notes["status"] == "ok" and notes["step"] == number
        assert notes["run_id"] == run_id and notes["session_id"] == session
        assert notes["agent"] == "paying" and notes["routing_reason"]
        call = doc["metadata"]["podium"]["model_call"]
        assert call["input_tokens"] == (100, 150)[number - 1]
        assert call["output_tokens"] == (20, 10)[number - 1]
        assert "cost_usd" in call and "ttft_ms" in call and "cached_tokens" in call
        assert len(call["retries"]) == len(doc.get("subsegments", []))
    first = models[0]
    assert first["annotations"]["model"].endswith("gpt-4.1-mini")  # the fallback answered
    attempts = first["subsegments"]
    assert len(attempts) >= 2
    for attempt in attempts:
        assert attempt["parent_id"] == first["id"]
        assert first["start_time"] <= attempt["start_time"] <= attempt["end_time"]
        assert attempt["end_time"] <= first["end_time"] + 1e-6
    outcomes = [a["annotations"]["outcome"] for a in attempts]
    assert outcomes[-1] == "ok" and "fallback" in outcomes
    failed = [a for a in attempts if a["annotations"]["outcome"] != "ok"]
    assert failed and all(a.get("fault") for a in failed)
    assert not attempts[-1].get("fault") and not attempts[-1].get("error")
    history = first["metadata"]["podium"]["model_call"]["retries"]
    assert [h["outcome"] for h in history] == outcomes

    # tool calls: `tool <name>` in the invocation that ran it
    tools = [d for d in documents if d["name"].startswith("tool ")]
    names = Counter(d["name"] for d in tools)
    assert names["tool get_weather"] == 1 and names["tool flaky"] == 3
    assert names["tool charge"] >= 1
    assert sum(names.values()) == invocations["run_tool"]
    for doc in tools:
        parent = handler_of(doc, "run_tool")
        notes = doc["annotations"]
        tool = doc["name"].removeprefix("tool ")
        assert notes["tool"] == tool == parent["annotations"]["tool"]
        assert notes["call_id"] == parent["annotations"]["call_id"] == {
            "get_weather": "w", "flaky": "f", "charge": "c"}[tool]  # fmt: skip
        assert notes["kind"] == "tool" and notes["run_id"] == run_id
        assert notes["session_id"] == session and notes["agent"] == "paying"
        assert notes["step"] == 1
    flaky = sorted((d for d in tools if d["name"] == "tool flaky"), key=lambda d: d["start_time"])
    assert [bool(d.get("fault")) for d in flaky] == [True, True, False]
    assert [d["annotations"]["status"] for d in flaky] == ["error", "error", "ok"]
    assert flaky[0]["cause"]["exceptions"][0]["type"] == "WeatherServiceError"
    charges = [d for d in tools if d["name"] == "tool charge"]
    for doc in charges:
        assert doc["fault"] is True
        [exception] = doc["cause"]["exceptions"]
        assert exception["type"] == "ValueError"
        assert exception["message"] == "card [REDACTED] was declined"
        assert doc["metadata"]["podium"]["tool_call"]["error"]["Cause"] == exception["message"]
        handler = by_id[doc["parent_id"]]
        assert handler["fault"] is True  # the invocation failed with the tool
        assert handler["cause"]["exceptions"][0]["message"] == "card [REDACTED] was declined"
    weather = next(d for d in tools if d["name"] == "tool get_weather")
    assert not weather.get("fault") and weather["annotations"]["status"] == "ok"

    # nothing the agent's rules redact reaches a trace
    raw = b"".join(daemon.datagrams)
    assert CARD.encode() not in raw and CITY.encode() not in raw
    assert b"[REDACTED]" in raw


def test_a_failing_emitter_never_fails_the_run(in_lambda, daemon, podium, fake_openai, caplog):
    fake_openai.script(
        Reply(tool_calls=[ToolCall("get_weather", {"city": "Oslo"}, id="w")]),
        Reply(text="Sunny."),
    )
    p = podium()
    tracer = xray.get_tracer()
    assert tracer is not None

    def broken(entity: Any) -> None:
        raise OSError("the daemon is gone")

    emitter = tracer.provider.emitter
    original = emitter.send_entity
    emitter.send_entity = broken
    caplog.set_level(logging.WARNING, logger="podium.observe.xray")
    try:
        session, finished = run(p)
    finally:
        emitter.send_entity = original
    assert finished.status == "succeeded", finished.error
    assert any("X-Ray subsegment failed" in r.getMessage() for r in caplog.records)
    assert p.store.list_spans(TENANT, session, finished.run_id)  # the trace itself is intact


def test_an_unsampled_invocation_sends_no_span_subsegments(
    in_lambda, daemon, podium, fake_openai, monkeypatch
):
    monkeypatch.setenv("_X_AMZN_TRACE_ID", trace_header()[2].replace("Sampled=1", "Sampled=0"))
    fake_openai.script(Reply(text="Hello."))
    p = podium()
    _, finished = run(p)
    assert finished.status == "succeeded", finished.error
    p.runner.executor.wait(finished.run_id, 30)  # every handler of the run has returned
    daemon.sync()
    assert daemon.documents() == []


OUTSIDE = r"""
import json, os, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
root, tmp = Path(sys.argv[1]), Path(sys.argv[3])
import podium.engine.handlers, podium.api.aws
after_import = sorted(m for m in sys.modules if m.startswith(("aws_xray_sdk", "wrapt")))
from podium.engine.agents import AgentRegistry
from podium.engine.local import LocalRunner
from podium.engine.runs import RunService
from podium.engine.runtime import Runtime
from podium.store.sqlite import SqliteStore
from podium.observe import xray
store = SqliteStore(tmp / "podium.db")
runtime = Runtime(store=store, agents=AgentRegistry(store, root / "agents"))
runner = LocalRunner(runtime, retry_sleep_scale=0.01)
runner.start()
service = RunService(runtime)
session = service.create_session("acme", "weather").session_id
run_id = service.start_run("acme", session, "weather and time in Paris?").run.run_id
deadline = time.monotonic() + 60
while not store.get_run("acme", session, run_id).terminal:
    assert time.monotonic() < deadline
    time.sleep(0.05)
runner.stop()
spans = store.list_spans("acme", session, run_id)
print("RESULT " + json.dumps({
    "status": store.get_run("acme", session, run_id).status,
    "kinds": sorted({s.kind for s in spans}),
    "after_import": after_import,
    "xray": sorted(m for m in sys.modules if m.startswith("aws_xray_sdk")),
    "tracing": "aws_lambda_powertools.tracing" in sys.modules,
    "tracer": xray.get_tracer() is not None,
}))
"""


TRACE_DISABLED = {
    "AWS_LAMBDA_FUNCTION_NAME": "podium-test",
    "LAMBDA_TASK_ROOT": "/var/task",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


@pytest.mark.parametrize(
    "environment",
    [pytest.param({}, id="outside-lambda"), pytest.param(TRACE_DISABLED, id="trace-disabled")],
)
def test_nothing_is_sent_or_imported_when_off(daemon, tmp_path, environment):
    _, _, header = trace_header()
    env = {key: value for key, value in os.environ.items()
           if key not in {"AWS_LAMBDA_FUNCTION_NAME", "LAMBDA_TASK_ROOT",
                          "POWERTOOLS_TRACE_DISABLED", "PODIUM_METRICS"}}  # fmt: skip
    env |= {
        "AWS_XRAY_DAEMON_ADDRESS": daemon.address,
        "_X_AMZN_TRACE_ID": header,
        "PODIUM_DEMO_TOKEN_DELAY_MS": "0",
        "PODIUM_HOME": str(tmp_path / "home"),
        **environment,
    }
    result = subprocess.run(
        [sys.executable, "-c", OUTSIDE, str(ROOT), str(ROOT / "tests"), str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    [line] = [x for x in result.stdout.splitlines() if x.startswith("RESULT ")]
    found = json.loads(line.removeprefix("RESULT "))
    assert found["status"] == "succeeded"
    assert {"model", "tool", "attempt"} <= set(found["kinds"])  # the run made its spans
    assert found["after_import"] == []  # importing the handlers and the API loads no X-Ray
    assert found["xray"] == [] and found["tracer"] is False
    if not environment:
        assert found["tracing"] is False  # not even Powertools' tracer module
    daemon.sync()  # the process has exited: whatever it sent has arrived
    assert daemon.datagrams == []


def test_importing_handlers_in_lambda_loads_no_xray_sdk(tmp_path):
    code = (
        "import json, sys; import podium, podium.engine.handlers, podium.api.aws, "
        "podium.observe.spans; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith("
        "('aws_xray_sdk', 'aws_lambda_powertools.tracing', 'wrapt')))))"
    )
    env = {**os.environ, "AWS_LAMBDA_FUNCTION_NAME": "podium-test",
           "LAMBDA_TASK_ROOT": str(tmp_path)}  # fmt: skip
    env.pop("POWERTOOLS_TRACE_DISABLED", None)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == []
