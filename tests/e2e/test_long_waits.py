"""Waits on a person or a caller last as long as the agent declares, on both executors: the
run clock (`max_run_seconds`) does not count them, the session's lease is held for as long
as the run lives, `on_timeout` applies, and the execution's timeout covers them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from podium.errors import ConflictError
from podium.protocol.bounds import lifetime_seconds
from podium.protocol.compile import compile_machine
from podium.protocol.loader import load_agents
from podium.testing import Reply, ToolCall
from support.aws_env import aws_podium
from support.podium_env import TENANT, SkewClock, make_podium

REFUND = """
limits: {{max_run_seconds: 60, max_steps: 4}}
tools:
  - name: refund
    description: Refund an order.
    parameters:
      type: object
      properties: {{order_id: {{type: string}}, amount_usd: {{type: number}}}}
    python: tools:refund
    approval: {{timeout_s: {timeout}, on_timeout: {on_timeout}}}
"""


@contextmanager
def executor(kind: str, agents: Path, monkeypatch: Any, clock: SkewClock) -> Iterator[Any]:
    """Podium on its local executor, or on Step Functions (moto) with DynamoDB."""
    if kind == "local":
        podium = make_podium(agents.parent, clock=clock)
        try:
            yield podium
        finally:
            podium.runner.stop()
    else:
        with aws_podium(agents, monkeypatch, clock=clock) as podium:
            yield podium


@pytest.fixture(params=["local", "aws"])
def on(request, tmp_path, fake_openai, monkeypatch, agents):
    monkeypatch.setenv("OPENAI_API_BASE", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("PODIUM_TEST_STATE", str(tmp_path / "state"))
    clock = SkewClock()

    @contextmanager
    def start(body: str) -> Iterator[tuple[Any, SkewClock]]:
        agents("shop", body)
        with executor(request.param, tmp_path / "agents", monkeypatch, clock) as podium:
            yield podium, clock

    start.kind = request.param  # type: ignore[attr-defined]
    return start


def refund_then(answer: str) -> tuple[Reply, Reply]:
    call = ToolCall("refund", {"order_id": "AB-1", "amount_usd": 5}, id="call_refund")
    return Reply(tool_calls=[call]), Reply(answer)


def wait_until_waiting(podium: Any, session: str, run_id: str) -> Any:
    import time

    for _ in range(600):
        run = podium.store.get_run(TENANT, session, run_id)
        if run.status == "waiting" and run.pending_approvals:
            return run
        assert not run.terminal, (run.status, run.error)
        time.sleep(0.02)
    raise TimeoutError("the run never waited")


@pytest.mark.parametrize("on_timeout", ["deny", "approve"])
def test_a_wait_past_max_run_seconds_ends_by_on_timeout(on, fake_openai, on_timeout):
    """The approval waits two hours by the run's clock — far past max_run_seconds (60 s) —
    then times out: the run goes on as `on_timeout` says and succeeds, the wait not being
    work. (Step Functions under moto times the wait in real seconds: 3 of them there.)"""
    fake_openai.script(*refund_then("Done."))
    timeout = 7200 if on.kind == "local" else 3
    with on(REFUND.format(timeout=timeout, on_timeout=on_timeout)) as (podium, clock):
        session = podium.session("shop")
        run_id = podium.service.start_run(TENANT, session, "refund AB-1").run.run_id
        wait_until_waiting(podium, session, run_id)
        clock.advance(7201)
        run = podium.wait(session, run_id)
        assert run.status == "succeeded", run.error
        [result] = [m for m in podium.messages(session) if m.role == "tool"]
        if on_timeout == "deny":
            assert result.content == "The user timed out this tool call."
        else:
            assert json.loads(result.content) == {"refunded": 5, "order_id": "AB-1"}
        assert run.waited_s >= 7200 and run.waiting_since is None
        assert run.pending_approvals == {}


def test_the_lease_is_held_for_as_long_as_the_run_waits(on, fake_openai):
    """Hours into a day-long approval, a second input still finds the session busy, and the
    decision, when it comes, carries the run to its end."""
    fake_openai.script(*refund_then("Refunded."))
    with on(REFUND.format(timeout=86_400, on_timeout="deny")) as (podium, clock):
        session = podium.session("shop")
        run_id = podium.service.start_run(TENANT, session, "refund AB-1").run.run_id
        run = wait_until_waiting(podium, session, run_id)
        clock.advance(6 * 3600)  # six hours later: max_run_seconds + 120 s is long past
        with pytest.raises(ConflictError, match="already active"):
            podium.service.start_run(TENANT, session, "and another thing")
        [call_id] = list(run.pending_approvals)
        podium.service.decide(TENANT, session, run_id, call_id, approved=True)
        run = podium.wait(session, run_id)
        assert run.status == "succeeded", run.error
        assert run.waited_s >= 6 * 3600  # the run clock left the wait out
        assert podium.store.get_session(TENANT, session).lease_holder(clock()) is None


def test_the_execution_timeout_covers_the_longest_wait(tmp_path, agents):
    agents("shop", REFUND.format(timeout=86_400, on_timeout="deny"))
    [loaded] = load_agents(tmp_path / "agents").values()
    machine = compile_machine([loaded])
    assert machine["TimeoutSeconds"] >= lifetime_seconds(loaded.agent) > 86_400
