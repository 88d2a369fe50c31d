"""A process killed while its run waits on an approval, and a new one started at once — before
the dead runner's lease expires. Recovery is continuous: the live runner takes the run over as
soon as that lease expires. Until then the run is still its own: a cancel closes it at once,
and the run, resumed later, writes nothing more. No step runs without the session's lease."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from podium.testing import Reply, ToolCall
from support.podium_env import TENANT

AGENT = """
on_conflict: enqueue
tools:
  - name: refund
    description: Refund an order.
    parameters:
      type: object
      properties: {order_id: {type: string}, amount_usd: {type: number}}
    python: tools:refund
    approval: {timeout_s: 3600}
"""

CHILD = """
import sys, time
sys.path.insert(0, {tests!r})
from pathlib import Path
from support.podium_env import TENANT, make_podium
p = make_podium(Path({tmp!r}), lease_s=2.0, owner="doomed")
session = p.session("shop")
run = p.service.start_run(TENANT, session, "refund AB-1").run
while not p.store.get_run(TENANT, session, run.run_id).pending_approvals:
    time.sleep(0.02)
print(session, run.run_id, flush=True)
time.sleep(600)
"""


def killed_while_waiting(tmp_path: Path) -> tuple[str, str]:
    """Start a process whose run parks on an approval, then kill -9 it."""
    tests = str(Path(__file__).parents[1])
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(tests=tests, tmp=str(tmp_path))],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ),
    )  # fmt: skip
    try:
        session, run_id = child.stdout.readline().split()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    return session, run_id


def refund_then(answer: str) -> list[Reply]:
    call = ToolCall("refund", {"order_id": "AB-1", "amount_usd": 5}, id="call_refund")
    return [Reply(tool_calls=[call]), Reply(answer)]


def owner(p, run_id: str) -> str:
    return p.store.get_checkpoint(run_id).owner


def test_a_quick_restart_takes_the_waiting_run_over_once_the_dead_lease_expires(
    podium, agents, fake_openai, tmp_path
):
    agents("shop", AGENT)
    fake_openai.script(*refund_then("Refunded."), Reply("And here is your receipt."))
    session, run_id = killed_while_waiting(tmp_path)
    p = podium(lease_s=2.0, owner="survivor")  # at once: the dead runner's lease still holds
    assert owner(p, run_id) == "doomed"
    queued = p.service.start_run(TENANT, session, "send me the receipt")
    assert queued.disposition == "queued"  # the session is still the waiting run's
    deadline = time.monotonic() + 15
    while owner(p, run_id) != "survivor":  # taken over, with no restart
        assert time.monotonic() < deadline, "the live runner never took the run over"
        time.sleep(0.05)
    run = p.store.get_run(TENANT, session, run_id)
    [call_id] = list(run.pending_approvals)
    p.service.decide(TENANT, session, run_id, call_id, approved=True)
    assert p.wait(session, run_id).status == "succeeded"
    assert p.wait(session, queued.run.run_id).status == "succeeded"
    assert [(m.role, m.run_id) for m in p.messages(session)] == [
        ("user", run_id), ("assistant", run_id), ("tool", run_id), ("assistant", run_id),
        ("user", queued.run.run_id), ("assistant", queued.run.run_id),
    ]  # fmt: skip
    assert p.store.get_session(TENANT, session).lease_holder(time.time()) is None


def test_a_run_whose_runner_died_is_cancelled_at_once_and_stays_ended(
    podium, agents, fake_openai, tmp_path
):
    agents("shop", AGENT)
    fake_openai.script(*refund_then("never sent"), Reply("Here is your receipt."))
    session, run_id = killed_while_waiting(tmp_path)
    p = podium(lease_s=2.0, owner="survivor")
    queued = p.service.start_run(TENANT, session, "send me the receipt")
    cancelled = p.service.cancel(TENANT, session, run_id)  # no 404: its runner is gone
    assert cancelled.status == "cancelled" and cancelled.pending_approvals == {}
    # the queue moves on: the lease went to the queued input, which runs to its end
    assert p.wait(session, queued.run.run_id).status == "succeeded"
    deadline = time.monotonic() + 15
    while not p.store.get_checkpoint(run_id).terminal:  # the survivor ends the orphan
        assert time.monotonic() < deadline, "the orphaned execution was never ended"
        time.sleep(0.05)
    assert p.store.get_checkpoint(run_id).state["status"] == "ABORTED"
    assert [(m.role, m.run_id, m.tool_call_id) for m in p.messages(session)] == [
        ("user", run_id, None), ("assistant", run_id, None), ("tool", run_id, "call_refund"),
        ("user", queued.run.run_id, None), ("assistant", queued.run.run_id, None),
    ]  # fmt: skip
    # the cancelled call got its result before the next turn, and nothing came after
    assert p.store.get_run(TENANT, session, run_id).status == "cancelled"
