"""Figure 6 — what one run costs in AWS, computed from a run's trace.

The standard two-step run (question → two parallel tools → answer) runs on the AWS code
path: the compiled state machine under moto's Step Functions (tasks dispatched in-process
to Podium's real handlers, as the test suite does), sessions in DynamoDB and blobs in S3
(moto), events written in 100 ms batches as in AWS, the model answering through the fake
server paced like a real one (1 s to first token, 25 ms per chunk: ~1.0 s for the tool-call
step, ~1.5 s for the answer). The trace gives the counts — state transitions (execution
history), Lambda invocations, every DynamoDB and S3 request with its item sizes — and the
prices below turn them into dollars. Durations and memory sizes are assumptions, stated.

    python bench/fig_aws_cost.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import check, emit, heading, table
from workload import QUESTION, ROOT, fake_server, python_of, quiet_environment

PRICES_DATE = "2025-01"
PRICES = {  # USD, us-east-1, public list prices (on-demand / Standard), as of PRICES_DATE
    "sfn_transition": 0.025 / 1000,  # Step Functions Standard, per state transition
    "lambda_request": 0.20 / 1e6,  # Lambda, per request
    "lambda_gb_s": 0.0000166667,  # Lambda x86, per GB-second
    "ddb_wru": 0.625 / 1e6,  # DynamoDB on-demand, per write request unit (after 2024-11 cut)
    "ddb_rru": 0.125 / 1e6,  # DynamoDB on-demand, per read request unit
    "s3_put": 0.005 / 1000,  # S3 Standard PUT/COPY/POST/LIST, per request
    "s3_get": 0.0004 / 1000,  # S3 Standard GET, per request
    "http_api_request": 1.00 / 1e6,  # API Gateway HTTP API, per request (first 300 M)
    "rest_api_request": 3.50 / 1e6,  # API Gateway REST API, per request (first 333 M)
}
ASSUMED = {  # function → (billed seconds per invocation, memory MB)
    "ModelStepArn": (1.5, 512),
    "ToolRunnerArn": (0.1, 256),
    "other steps": (0.05, 256),
    "API POST /runs": (0.1, 512),
}
"""ModelStep: 1.5 s per model call (the provider's time, streamed), 512 MB (the lean path does
not load litellm for OpenAI-wire models); python tools 100 ms; BeginRun, RecordTools, EndRun
50 ms; the API function admitting the run 100 ms."""


# ----------------------------------------------------------------------------- DynamoDB units


def _value_size(value: dict[str, Any]) -> int:
    """An attribute value's billed size (DynamoDB's item size rules)."""
    ((kind, inner),) = value.items()
    sizes: dict[str, Any] = {
        "S": lambda: len(inner.encode()),
        "B": lambda: len(inner),
        "N": lambda: len(str(inner).lstrip("-").replace(".", "")) // 2 + 2,
        "BOOL": lambda: 1,
        "NULL": lambda: 1,
        "M": lambda: 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in inner.items()),
        "L": lambda: 3 + sum(_value_size(v) + 1 for v in inner),
    }
    return int(sizes.get(kind, lambda: sum(len(str(v)) for v in inner))())


def item_size(item: dict[str, Any] | None) -> int:
    """An item's size as DynamoDB bills it (attribute names + values)."""
    return sum(len(k.encode()) + _value_size(v) for k, v in (item or {}).items())


class CountingDynamo:
    """A DynamoDB client that counts requests and request units (one call at a time, since
    moto's conditional writes are not atomic across threads)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.wru = 0.0
        self.rru = 0.0
        self.by_kind: Counter[str] = Counter()
        self.counting = False

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr) or name.startswith(("get_paginator", "get_waiter", "exceptions")):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                response = attr(*args, **kwargs)
                if self.counting:
                    self._count(name, kwargs, response)
                return response

        return call

    def _size_after(self, table: str, key: dict[str, Any]) -> int:
        return item_size(self._client.get_item(TableName=table, Key=key).get("Item"))

    def _write(self, kind: str, units: float) -> None:
        self.wru += units
        self.by_kind[f"write {kind}"] += 1

    def _count(self, name: str, kw: dict[str, Any], response: dict[str, Any]) -> None:
        self.requests[name] += 1
        if name in ("get_item", "query", "scan", "batch_get_item", "transact_get_items"):
            self._count_read(name, kw, response)
        else:
            self._count_write(name, kw)

    def _count_write(self, name: str, kw: dict[str, Any]) -> None:
        if name == "put_item":
            self._write(_sk(kw["Item"]), kb(item_size(kw["Item"])))
        elif name == "update_item":
            self._write(_sk(kw["Key"]), kb(self._size_after(kw["TableName"], kw["Key"])))
        elif name == "delete_item":
            self._write(_sk(kw["Key"]), 1)
        elif name == "batch_write_item":
            for requests in kw["RequestItems"].values():
                for request in requests:
                    item = request.get("PutRequest", {}).get("Item")
                    self._write(_sk(item or {}), kb(item_size(item)) if item else 1)
        elif name == "transact_write_items":
            for entry in kw["TransactItems"]:
                ((op, body),) = entry.items()
                if op == "Put":
                    size = item_size(body["Item"])
                elif op == "Update":
                    size = self._size_after(body["TableName"], body["Key"])
                else:
                    size = 1024
                self._write(_sk(body.get("Item") or body.get("Key") or {}), 2 * kb(size))

    def _count_read(self, name: str, kw: dict[str, Any], response: dict[str, Any]) -> None:
        if name == "get_item":
            self.rru += read(item_size(response.get("Item")), bool(kw.get("ConsistentRead")))
        elif name in ("query", "scan"):
            size = sum(item_size(i) for i in response.get("Items", []))
            self.rru += read(size, bool(kw.get("ConsistentRead")))
        elif name == "batch_get_item":
            for items in response.get("Responses", {}).values():
                self.rru += sum(read(item_size(i), False) for i in items)
        elif name == "transact_get_items":
            self.rru += sum(
                2 * read(item_size(r.get("Item")), True) for r in response.get("Responses", [])
            )


def kb(size: int) -> int:
    """Write units: 1 per KB, at least 1."""
    return max(1, math.ceil(size / 1024))


def read(size: int, strong: bool) -> float:
    """Read units: 1 per 4 KB strongly consistent, half that eventually consistent."""
    return max(1, math.ceil(size / 4096)) * (1 if strong else 0.5)


def _sk(item: dict[str, Any]) -> str:
    sk = item.get("sk", {}).get("S", "?")
    pk = item.get("pk", {}).get("S", "")
    if pk.endswith("#USAGE"):
        return "USAGE"
    return sk.split("#", 1)[0] if "#" in sk else sk


class CountingS3:
    def __init__(self, client: Any) -> None:
        self._client = client
        self.requests: Counter[str] = Counter()
        self.counting = False

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr) or not name.endswith("_object"):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.counting:
                self.requests[name] += 1
            return attr(*args, **kwargs)

        return call


# ----------------------------------------------------------------------------- the run


def trace_one_run(base_url: str, workdir: Path) -> dict[str, Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "OPENAI_API_BASE": base_url,
    }.items():
        os.environ[name] = value
    sys.path.insert(0, str(ROOT / "tests"))
    import boto3
    from contenders.podium_local import AGENT, write_agent

    from podium.engine import handlers
    from podium.engine.agents import AgentRegistry
    from podium.engine.runs import RunService
    from podium.engine.runtime import Runtime, set_runtime
    from podium.engine.stepfunctions import StepFunctionsOrchestrator
    from podium.protocol.compile import PODIUM_FUNCTIONS, compile_machine
    from podium.protocol.loader import load_agents
    from podium.store.blobs import S3BlobStore
    from podium.store.dynamodb import DynamoStore, create_table
    from support.moto_sfn import moto_state_machine

    agents_dir = workdir / "agents"
    write_agent(agents_dir)
    definition = json.dumps(compile_machine(load_agents(agents_dir).values()))

    def task(name: str) -> Any:
        function = getattr(handlers, PODIUM_FUNCTIONS[name].rsplit(".", 1)[1])
        return lambda payload: function(payload, None)

    tasks = {name: task(name) for name in PODIUM_FUNCTIONS}
    with moto_state_machine(tasks, definition, list(PODIUM_FUNCTIONS)) as machine:
        raw = boto3.client("dynamodb", region_name="us-east-1")
        create_table(raw, "podium")
        s3raw = boto3.client("s3", region_name="us-east-1")
        s3raw.create_bucket(Bucket="podium-blobs")
        ddb, s3 = CountingDynamo(raw), CountingS3(s3raw)
        store = DynamoStore("podium", ddb, blobs=S3BlobStore("podium-blobs", s3))
        runtime = Runtime(
            store=store,
            agents=AgentRegistry(store, agents_dir),
            orchestrator=StepFunctionsOrchestrator(machine.arn, machine.client),
            event_batch_ms=100,
        )
        set_runtime(runtime)
        service = RunService(runtime)
        session = service.create_session("bench", AGENT).session_id
        ddb.counting = s3.counting = True
        machine.calls.clear()
        started = time.perf_counter()
        run = service.start_run("bench", session, QUESTION).run
        arn = run.execution_ref
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = machine.client.describe_execution(executionArn=arn)["status"]
            if status != "RUNNING":
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        ddb.counting = s3.counting = False
        history = machine.client.get_execution_history(executionArn=arn, maxResults=1000)
        entered = [e for e in history["events"] if e["type"].endswith("StateEntered")]
        final = store.get_run("bench", session, run.run_id)
        set_runtime(None)
        return {
            "status": status,
            "run_status": final.status,
            "elapsed_s": elapsed,
            "transitions": len(entered),
            "states": Counter(e["stateEnteredEventDetails"]["name"] for e in entered),
            "invocations": Counter(name for name, _ in machine.calls),
            "ddb_requests": dict(ddb.requests),
            "wru": ddb.wru,
            "rru": ddb.rru,
            "ddb_writes_by_item": dict(ddb.by_kind),
            "s3_requests": dict(s3.requests),
            "model_cost_usd": final.usage.cost_usd,
            "model_calls": final.usage.requests,
            "tokens": (final.usage.input_tokens, final.usage.output_tokens),
        }


def cost_lines(trace: dict[str, Any]) -> tuple[list[list[Any]], float, float]:
    p = PRICES
    rows: list[list[Any]] = []

    def add(item: str, quantity: float, unit: str, price: float) -> float:
        rows.append([item, quantity, unit, f"{price:.10f}".rstrip("0"), f"{quantity * price:.7f}"])
        return quantity * price

    total = add(
        "Step Functions state transitions", trace["transitions"], "transitions", p["sfn_transition"]
    )
    invocations = trace["invocations"]
    gb_s = 0.0
    for name, count in sorted(invocations.items()):
        seconds, mb = ASSUMED.get(name, ASSUMED["other steps"])
        gb_s += count * seconds * mb / 1024
    seconds, mb = ASSUMED["API POST /runs"]
    gb_s += seconds * mb / 1024
    requests = sum(invocations.values()) + 1
    total += add("Lambda requests (steps + API)", requests, "requests", p["lambda_request"])
    total += add("Lambda compute", round(gb_s, 4), "GB-s", p["lambda_gb_s"])
    total += add("DynamoDB writes", trace["wru"], "WRU", p["ddb_wru"])
    total += add("DynamoDB reads", trace["rru"], "RRU", p["ddb_rru"])
    s3 = trace["s3_requests"]
    puts = s3.get("put_object", 0)
    gets = s3.get("get_object", 0) + s3.get("head_object", 0)
    total += add("S3 PUT", puts, "requests", p["s3_put"])
    total += add("S3 GET", gets, "requests", p["s3_get"])
    total += add("API Gateway HTTP API (POST /runs)", 1, "requests", p["http_api_request"])
    stream = (
        run_seconds(invocations) * 512 / 1024 * p["lambda_gb_s"]
        + p["rest_api_request"]
        + (p["lambda_request"])
    )
    rows.append(["total (orchestration)", "", "", "", f"{total:.7f}"])
    return rows, total, stream


def run_seconds(invocations: Counter[str] | dict[str, int]) -> float:
    """The run's assumed duration: its steps one after another (the tools run in parallel)."""
    seconds = 0.0
    for name, count in invocations.items():
        each = ASSUMED.get(name, ASSUMED["other steps"])[0]
        seconds += each * (1 if name == "ToolRunnerArn" else count)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.parse_args()
    quiet_environment()
    with fake_server(python_of("main"), 1000.0, 25.0) as url, tempfile.TemporaryDirectory() as tmp:
        trace = trace_one_run(url, Path(tmp))
    if trace["run_status"] != "succeeded":
        raise SystemExit(f"the traced run did not succeed: {trace}")
    rows, total, stream = cost_lines(trace)
    heading(
        f"Figure 6 — AWS cost of one standard run (2 model steps, 2 parallel tools), "
        f"us-east-1 list prices of {PRICES_DATE}"
    )
    print(table(["item", "quantity", "unit", "USD per unit", "USD"], rows))
    print(
        f"orchestration total: ${total:.7f} per run  (model tokens: "
        f"${trace['model_cost_usd']:.7f} for {trace['tokens'][0]} in / {trace['tokens'][1]} "
        f"out tokens of gpt-4o-mini)"
    )
    print(
        f"a live SSE client adds ${stream:.7f} (REST API request + the stream function "
        f"running the run's {run_seconds(trace['invocations']):.2f} s at 512 MB)"
    )
    print("states entered: " + ", ".join(f"{k}×{v}" for k, v in trace["states"].items()))
    print("Lambda invocations: " + ", ".join(f"{k}×{v}" for k, v in trace["invocations"].items()))
    print(
        "DynamoDB requests: "
        + ", ".join(f"{k}×{v}" for k, v in trace["ddb_requests"].items())
        + f"; writes by item: {trace['ddb_writes_by_item']}"
    )
    print(
        "assumptions: "
        + "; ".join(f"{k} {s:g} s at {m} MB" for k, (s, m) in ASSUMED.items())
        + "; DynamoDB on-demand, 1 WRU per KB written (2 in a transaction), 1 RRU per 4 KB "
        "read strongly consistent (½ eventually); Lambda x86; EventBridge status events "
        "(AWS service events) free; CloudWatch Logs not counted"
    )
    emit(
        "aws_cost",
        transitions=trace["transitions"],
        lambda_invocations=sum(trace["invocations"].values()) + 1,
        wru=trace["wru"],
        rru=trace["rru"],
        s3_requests=sum(trace["s3_requests"].values()),
        orchestration_usd=round(total, 8),
        sse_client_usd=round(stream, 8),
        model_tokens_usd=trace["model_cost_usd"],
        prices_date=PRICES_DATE,
        prices=PRICES,
        assumptions={k: {"seconds": s, "memory_mb": m} for k, (s, m) in ASSUMED.items()},
    )
    check("aws_cost", "orchestration cost per run, USD", total, 0.0005, total < 0.0005)
    return 0


if __name__ == "__main__":
    sys.exit(main())
