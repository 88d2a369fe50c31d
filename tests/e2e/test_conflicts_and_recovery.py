"""Double texting (reject, enqueue, interrupt) and a process killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from podium.errors import ConflictError
from podium.testing import Reply, Usage
from support.podium_env import TENANT

SLOW = Reply(text="a b c d e f g h", chunks=8, chunk_ms=150)


def active(p, session):
    return p.store.get_session(TENANT, session).lease_holder(time.time())


def test_reject_answers_409_and_keeps_the_active_run(podium, agents, fake_openai):
    agents("strict", "on_conflict: reject\n")
    fake_openai.script(SLOW)
    p = podium()
    session = p.session("strict")
    first = p.service.start_run(TENANT, session, "one").run.run_id
    with pytest.raises(ConflictError) as caught:
        p.service.start_run(TENANT, session, "two")
    assert caught.value.status == 409
    assert caught.value.details["active_run"] == first
    assert p.wait(session, first).status == "succeeded"
    assert [m.content for m in p.messages(session) if m.role == "user"] == ["one"]


def test_enqueue_runs_inputs_one_after_another(podium, agents, fake_openai):
    agents("patient", "on_conflict: enqueue\n")
    fake_openai.script(SLOW, Reply(text="second answer"))
    p = podium()
    session = p.session("patient")
    first = p.service.start_run(TENANT, session, "one").run.run_id
    queued = p.service.start_run(TENANT, session, "two")
    assert queued.disposition == "queued"
    assert queued.run.status == "queued"
    assert p.wait(session, first).status == "succeeded"
    second = p.wait(session, queued.run.run_id)
    assert second.status == "succeeded"
    assert second.output == {"text": "second answer"}
    roles = [(m.role, m.content) for m in p.messages(session)]
    assert roles == [
        ("user", "one"),
        ("assistant", "a b c d e f g h"),
        ("user", "two"),
        ("assistant", "second answer"),
    ]
    assert active(p, session) is None


def test_interrupt_cancels_the_active_run(podium, agents, fake_openai):
    agents("eager", "on_conflict: interrupt\n")
    fake_openai.script(SLOW, Reply(text="fresh"))
    p = podium()
    session = p.session("eager")
    first = p.service.start_run(TENANT, session, "one").run.run_id
    p.wait_for_event(session, first, "text-delta")
    started = p.service.start_run(TENANT, session, "two")
    assert started.interrupted == first
    assert p.wait(session, started.run.run_id).status == "succeeded"
    assert p.wait(session, first).status == "cancelled"
    users = [m.content for m in p.messages(session) if m.role == "user"]
    assert users == ["one", "two"]
    assert active(p, session) is None


CHILD = """
import os, sys, time
sys.path.insert(0, {tests!r})
from support.podium_env import make_podium, TENANT
from pathlib import Path
p = make_podium(Path({tmp!r}), lease_s=1.0, owner="doomed")
session = p.session("crashy")
run = p.service.start_run(TENANT, session, "go").run
print(session, run.run_id, flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("earlier_steps", [0, 1], ids=["tool in step 1", "tool in step 2"])
def test_a_killed_process_run_is_resumed_by_the_next(
    podium, agents, fake_openai, tmp_path, earlier_steps
):
    from podium.testing import ToolCall

    agents(
        "crashy",
        """
tools:
  - name: slow
    description: Slow.
    parameters: {type: object, properties: {}}
    python: tools:slow
    timeout_s: 120
  - name: get_weather
    description: Weather.
    parameters: {type: object, properties: {city: {type: string}}}
    python: tools:get_weather
""",
    )
    earlier = [
        Reply(tool_calls=[ToolCall("get_weather", {"city": "Oslo"}, id=f"w{n}")])
        for n in range(earlier_steps)
    ]
    fake_openai.script(
        *earlier, Reply(tool_calls=[ToolCall("slow", {}, id="s1")]), Reply(text="done")
    )
    env = {**os.environ, "PODIUM_TEST_SLOW_S": "60"}
    tests = str(Path(__file__).parents[1])
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(tests=tests, tmp=str(tmp_path))],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        session, run_id = child.stdout.readline().split()
        state = tmp_path / "state" / "slow"
        deadline = time.monotonic() + 20
        while not state.exists():  # the tool is running in the child
            assert time.monotonic() < deadline, "the child never reached the tool"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    (tmp_path / "state" / "slow-done").write_text("1")  # the tool is quick from now on
    p = podium(lease_s=1.0, owner="survivor")  # at once: it takes over when the lease expires
    run = p.wait(session, run_id, timeout=30)
    assert run.status == "succeeded"
    messages = p.messages(session)
    weather = [("assistant", None), ("tool", "w0")] * earlier_steps
    assert [(m.role, m.tool_call_id) for m in messages] == [
        ("user", None),
        *weather,
        ("assistant", None),
        ("tool", "s1"),
        ("assistant", None),
    ]
    assert json.loads(messages[-2].content) == {"slow": "done"}
    assert (tmp_path / "state" / "slow").read_text() == "2"  # the tool ran again, once
    # the survivor replayed what the dead process had done from what it stored: the model
    # was asked once a step in all (the last step by the survivor)
    assert len(fake_openai.chat_requests) == earlier_steps + 2
    assert active(p, session) is None
    assert p.store.get_checkpoint(run_id).owner == "survivor"


def test_a_model_call_cut_before_its_usage_was_counted_is_counted_once_at_close(
    podium, agents, fake_openai, monkeypatch
):
    """The model step writes the call's span, then counts its usage: a process that dies
    between the two leaves a span the run's totals lack. The run's close counts it, by the
    call's key, so a close that runs twice counts it once."""
    agents("plain", "")
    fake_openai.script(Reply("hello there", usage=Usage(prompt_tokens=11, completion_tokens=7)))
    p = podium()
    original, dropped = p.store.add_run_usage, []

    def lost_once(*args, **kwargs):
        if not dropped:
            dropped.append(kwargs.get("idempotency_key"))
            return None  # the process died here
        return original(*args, **kwargs)

    monkeypatch.setattr(p.store, "add_run_usage", lost_once)
    session = p.session("plain")
    run = p.run("plain", "hi", session=session)
    assert dropped and run.status == "succeeded"
    assert (run.usage.requests, run.usage.input_tokens, run.usage.output_tokens) == (1, 11, 7)
    from podium.engine.context import RunIds, settle_usage

    ids = RunIds(TENANT, session, run.run_id, run.agent, run.agent_hash)
    again = settle_usage(p.runtime, ids, p.store.get_run(TENANT, session, run.run_id))
    assert again.usage.input_tokens == 11  # counted once
