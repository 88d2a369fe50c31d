"""No agent can reach Step Functions' 256 KB limit on a state: a step's calls travel by
reference (their arguments stay in the store), outputs over 4 KB by reference, and errors with
a bounded message — checked under moto, which fails a state over the limit with
States.DataLimitExceeded as AWS does."""

from __future__ import annotations

import json
import textwrap

from podium.testing import Reply, ToolCall
from support.aws_env import aws_podium
from support.podium_env import TENANT, agent_yaml

TOOLS_PY = """
def echo(text):
    return {"length": len(text), "head": text[:10]}

def shout(text):
    raise RuntimeError("the service said: " + text)
"""

AGENT = """
limits: {max_tool_calls_per_step: 40, max_parallel_tools: 40}
tools:
  - name: echo
    description: Echo.
    parameters: {type: object, properties: {text: {type: string}}}
    python: tools:echo
  - name: shout
    description: Fail loudly.
    parameters: {type: object, properties: {text: {type: string}}}
    python: tools:shout
"""


def write_agent(tmp_path):
    folder = tmp_path / "agents" / "big"
    folder.mkdir(parents=True)
    (folder / "agent.yaml").write_text(agent_yaml("big", textwrap.dedent(AGENT)))
    (folder / "tools.py").write_text(TOOLS_PY)
    return tmp_path / "agents"


def test_a_step_of_forty_calls_with_large_arguments_and_errors(tmp_path, monkeypatch, fake_openai):
    monkeypatch.setenv("OPENAI_API_BASE", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    text = "y" * 40_000  # 40 KB of arguments per call: 1.6 MB for the step's 40 calls
    calls = [
        ToolCall("echo" if i % 2 else "shout", {"text": text}, id=f"call_{i:02d}")
        for i in range(40)
    ]
    fake_openai.script(Reply(tool_calls=calls, chunks=2), Reply("Done."))
    with aws_podium(write_agent(tmp_path), monkeypatch) as aws:
        session = aws.session("big")
        run_id = aws.service.start_run(TENANT, session, "go").run.run_id
        run = aws.wait(session, run_id)
        assert run.status == "succeeded", run.error
        results = {m.tool_call_id: m.content for m in aws.messages(session) if m.role == "tool"}
        assert len(results) == 40
        assert json.loads(results["call_01"]) == {"length": 40_000, "head": "yyyyyyyyyy"}
        assert results["call_00"].startswith("Error: RuntimeError: the service said: yyyy")
        history = aws.machine.history(run.execution_ref)
        sizes = [
            len(json.dumps(event.get("stateExitedEventDetails", {}).get("output", "")))
            for event in history
        ]
        assert max(sizes) < 200_000
