"""Error names reach Step Functions as the AWS Python runtime serializes them: `errorType` is
the exception class's `__name__`, and Retry/Catch match `ErrorEquals` against it. Every name
the run machine matches must arrive intact that way — Podium's own (the model step's retry,
a cancelled run) and a user's tool's (a Python tool in the tool runner, a `lambda` tool's
function) — through `awslambdaric`'s own code in the moto harness."""

from __future__ import annotations

import importlib.util
import json
import textwrap
from pathlib import Path

import pytest

import podium
from podium.protocol.compile import LAMBDA_TRANSIENT, lambda_substitution
from podium.protocol.failures import (
    DENIED_ERROR,
    PODIUM_FAILURES,
    ModelRetryable,
    RunCancelled,
    lambda_error_payload,
)
from podium.protocol.loader import load_agents
from podium.testing import Fault, Reply, ToolCall
from support.aws_env import TENANT, aws_podium
from support.moto_sfn import invoke_through_runtime, moto_state_machine
from support.podium_env import TOOLS_PY, agent_yaml

ROOT = Path(__file__).parents[2]


def runtime_error_body(error: Exception) -> dict:
    def handler(event):
        raise error

    text, errored = invoke_through_runtime(handler, b"{}", "arn:aws:lambda:us-east-1:1:function:f")
    assert errored
    return json.loads(text)


class WeatherServiceError(Exception):
    pass


@pytest.mark.parametrize("error", [WeatherServiceError("down"), *(c("x") for c in PODIUM_FAILURES)])
def test_the_runtime_reports_the_class_name_and_podium_mirrors_its_body(error):
    body = runtime_error_body(error)
    assert body["errorType"] == type(error).__name__
    try:
        raise error
    except Exception as exc:
        mirrored = lambda_error_payload(exc)
    assert set(mirrored) == set(body)
    assert (mirrored["errorType"], mirrored["errorMessage"]) == (
        body["errorType"],
        body["errorMessage"],
    )


def test_podium_failures_are_named_by_their_class():
    for failure in PODIUM_FAILURES:
        assert failure.__name__ == failure.error
        assert runtime_error_body(failure("why"))["errorType"] == failure.error


def _error_names(scope: dict) -> set[str]:
    names: set[str] = set()
    for state in scope["States"].values():
        for rule in state.get("Retry", []) + state.get("Catch", []):
            names.update(rule["ErrorEquals"])
        if state["Type"] == "Map":
            names |= _error_names(state["ItemProcessor"])
    return names


def test_every_error_the_checked_in_machine_matches_can_reach_it():
    """Podium's names are its failure classes' names (or a SendTaskFailure's); a user's are
    exception classes their tools can raise."""
    machine = json.loads((ROOT / "statemachines" / "run.asl.json").read_text())
    podium_names = {f.error for f in PODIUM_FAILURES} | {DENIED_ERROR}
    user_names: set[str] = set()
    for loaded in load_agents(ROOT / "agents").values():
        for tool in loaded.agent.tools:
            for name in tool.retry.errors if tool.retry else []:
                if name.startswith("States."):
                    continue
                user_names.add(name)
                assert _raisable(loaded.folder, tool.python, name), (loaded.name, tool.name, name)
    for name in _error_names(machine):
        assert (
            name.startswith("States.")
            or name in LAMBDA_TRANSIENT
            or name in podium_names
            or name in user_names
        ), name


def _raisable(folder: Path, python: str | None, name: str) -> bool:
    """Whether `name` is an exception class a tool can raise: in its module, a builtin, or
    (a `lambda` tool) in the example function the template deploys."""
    if python is None:
        module_file = ROOT / "functions" / "example_tool" / "app.py"
    else:
        module_file = folder / (python.split(":")[0].replace(".", "/") + ".py")
    spec = importlib.util.spec_from_file_location(f"check_{folder.name}", module_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = getattr(module, name, None) or __builtins__.get(name)
    return isinstance(found, type) and issubclass(found, BaseException)


# ----------------------------------------------------------------- the machine, under moto


def test_fail_run_tells_a_cancelled_run_from_a_failed_one():
    """FailRun learns why the run stopped from the error name alone."""
    from podium.protocol.compile import compile_machine
    from podium.protocol.loader import load_agent

    definition = compile_machine([load_agent(ROOT / "agents" / "weather")])
    seen: list[dict] = []

    def model_step(event):
        raise RunCancelled("the run was cancelled")

    ok = lambda event: {"ok": True}  # noqa: E731
    handlers = {
        "BeginRunArn": lambda e: {"number": 0, "next": "model", "calls": []},
        "ModelStepArn": model_step,
        "FailRunArn": lambda e: seen.append(e) or {"status": "x"},
        "EndRunArn": ok,
        "RecordToolsArn": ok,
        "ToolRunnerArn": ok,
        "AwaitCallbackArn": ok,
    }
    run = {"tenant": "t", "session_id": "s", "run_id": "r", "agent": "weather", "agent_hash": "h"}
    with moto_state_machine(handlers, json.dumps(definition), sorted(handlers)) as machine:
        done = machine.run("r", run)
    assert done["status"] == "FAILED"
    assert [event["error"]["Error"] for event in seen] == ["Podium.Cancelled"]


def _write_agent(folder: Path, name: str, body: str, tools_py: str = TOOLS_PY) -> None:
    (folder / name).mkdir(parents=True, exist_ok=True)
    (folder / name / "agent.yaml").write_text(agent_yaml(name, body))
    (folder / name / "tools.py").write_text(tools_py)


@pytest.fixture
def fake_model(fake_openai, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_BASE", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("PODIUM_TEST_STATE", str(tmp_path / "state"))
    return fake_openai


def test_model_step_retry_fires_after_a_broken_stream(tmp_path, monkeypatch, fake_model):
    """A stream cut after its first chunks raises Podium.ModelRetryable; Step Functions
    retries the whole step by that name, and the new attempt discards the old one's text."""
    _write_agent(tmp_path / "agents", "chat", "system: Be brief.\n")
    fake_model.script(Fault.drop(after=3), Reply("Paris is sunny today."))
    with aws_podium(tmp_path / "agents", monkeypatch) as aws:
        session = aws.session("chat")
        run_id = aws.service.start_run(TENANT, session, "Weather in Paris?").run.run_id
        run = aws.wait(session, run_id)
        assert run.status == "succeeded", run.error
        assert run.output["text"] == "Paris is sunny today."
        steps = [payload["after_step"] for payload in aws.calls("ModelStepArn")]
        assert steps == [0, 0], steps  # step 1, attempted twice
        kinds = [e.type for e in aws.store.list_events(TENANT, session, run_id=run_id)]
        assert "data-discard" in kinds


def test_python_tool_error_is_retried_by_its_class_name(tmp_path, monkeypatch, fake_model):
    body = """
    tools:
      - name: flaky
        description: Fails twice, then works.
        parameters: {type: object, properties: {x: {type: integer}}}
        python: tools:flaky
        retry: {max_attempts: 3, interval_s: 1, backoff_rate: 1.0, errors: [WeatherServiceError]}
    """
    _write_agent(tmp_path / "agents", "flaky", textwrap.dedent(body))
    fake_model.script(Reply(tool_calls=[ToolCall("flaky", {"x": 1})]), Reply("It worked."))
    with aws_podium(tmp_path / "agents", monkeypatch) as aws:
        session = aws.session("flaky")
        run_id = aws.service.start_run(TENANT, session, "go").run.run_id
        run = aws.wait(session, run_id)
        assert run.status == "succeeded", run.error
        assert len(aws.calls("ToolRunnerArn")) == 3
        [result] = [m for m in aws.store.list_messages(TENANT, session).items if m.role == "tool"]
        assert json.loads(result.content)["ok"] is True


class ServiceCheckError(Exception):
    pass


def test_lambda_tool_error_is_retried_by_its_error_type(tmp_path, monkeypatch, fake_model):
    """The tool runner invokes the `lambda` tool's function; the function's `errorType`
    (its exception's class name, as the runtime reports it) is the error the tool's Retry
    matches, and what it answers reaches the model."""
    body = """
    tools:
      - name: check_service
        description: Health of a service.
        parameters: {type: object, properties: {service: {type: string}}}
        lambda: check-service
        retry: {max_attempts: 3, interval_s: 1, backoff_rate: 1.0, errors: [ServiceCheckError]}
    """
    _write_agent(tmp_path / "agents", "ops", textwrap.dedent(body))
    attempts: list[dict] = []

    @podium.tool
    def check_service(service: str) -> dict:
        attempts.append({"service": service})
        if len(attempts) == 1:
            raise ServiceCheckError("the health endpoint timed out")
        return {"service": service, "status": "healthy"}

    fake_model.script(
        Reply(tool_calls=[ToolCall("check_service", {"service": "checkout"})]),
        Reply("All healthy."),
    )
    function = lambda_substitution("ops", "check_service")
    with aws_podium(
        tmp_path / "agents", monkeypatch, lambda_tools={function: check_service}
    ) as aws:
        session = aws.session("ops")
        run_id = aws.service.start_run(TENANT, session, "Is checkout ok?").run.run_id
        run = aws.wait(session, run_id)
        assert run.status == "succeeded", run.error
        assert attempts == [{"service": "checkout"}] * 2
        invoked = aws.calls(function)
        assert [event["arguments"] for event in invoked] == [{"service": "checkout"}] * 2
        assert invoked[0]["tenant"] == TENANT and invoked[0]["run_id"] == run_id
        [result] = [m for m in aws.store.list_messages(TENANT, session).items if m.role == "tool"]
        assert json.loads(result.content) == {"service": "checkout", "status": "healthy"}
        spans = aws.store.list_spans(TENANT, session, run_id)
        failed = [s for s in spans if s.kind == "attempt" and s.status == "error"]
        assert [s.error["Error"] for s in failed] == ["ServiceCheckError"]


def test_model_retryable_is_what_the_model_step_retries():
    machine = json.loads((ROOT / "statemachines" / "run.asl.json").read_text())
    retry = machine["States"]["ModelStep"]["Retry"]
    assert any(ModelRetryable.error in rule["ErrorEquals"] for rule in retry)
