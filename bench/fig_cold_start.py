"""Figure 2 — cold start: a fresh process to its first answer, per contender; and what each
Lambda handler costs to import, against the import of what it cannot avoid.

Part 1 spawns each contender's process with `--cold` (import, build, one non-streaming turn
against the fake server, exit), interleaved round by round; the time is measured from
outside, spawn to answer. Part 2 starts fresh interpreters that time, inside the process
(no interpreter start-up), the import a handler's first invocation performs:

- API: `functions/api/app.py` plus what its first event builds (Mangum over `create_app()`
  with the runtime from the environment: DynamoDB store, no network), against
  `import fastapi, mangum, boto3`;
- stream: what the Lambda Web Adapter's uvicorn loads (`podium.api.app:app`), against
  `import fastapi, uvicorn, boto3`;
- step handlers: `functions/<name>/app.py` plus the step module and the DynamoDB store they
  load on first call, against `import boto3`;
- model step: the same for `model_step`, against `import litellm`.

Beside them, `import fastapi, mangum, boto3` plus creating a DynamoDB client: what the API
handler's app builds at init besides Podium's own code (its key lookups need the client).

    python bench/fig_cold_start.py [--quick]
"""

from __future__ import annotations

import argparse
import compileall
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import CONTENDERS, Worker, check, emit, heading, median, percentile, table
from workload import ROOT, fake_server, python_of

COLD = ("httpx", "litellm", "langgraph", "agents", "strands", "podium", "podium-api")

AWS_ENV = {
    "PODIUM_STORE": "dynamodb",
    "PODIUM_TABLE": "podium",
    "PODIUM_BUCKET": "podium-blobs",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "PODIUM_AGENTS_DIR": str(ROOT / "agents"),
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_OFFLINE_MODE": "true",
}


def _function(name: str, then: str) -> str:
    path = ROOT / "functions" / name
    return f"import sys; sys.path.insert(0, {str(path)!r}); import app; {then}"


IMPORTS: dict[str, tuple[str, str]] = {  # name → (code, baseline name)
    "import podium": ("import podium", ""),
    "fastapi+mangum+boto3": ("import fastapi, mangum, boto3", ""),
    "fastapi+uvicorn+boto3": ("import fastapi, uvicorn, boto3", ""),
    "fastapi+mangum+boto3+DynamoDB client": (
        "import fastapi, mangum, boto3; boto3.client('dynamodb')",
        "",
    ),
    "boto3": ("import boto3", ""),
    "litellm": ("import litellm", ""),
    "API handler": (
        _function(
            "api",
            "from mangum import Mangum; from podium.api.app import create_app; "
            "Mangum(create_app(), lifespan='off')",
        ),
        "fastapi+mangum+boto3",
    ),
    "stream handler": ("import uvicorn, podium.api.app as m; m.app", "fastapi+uvicorn+boto3"),
    "begin_run / end_run": (
        _function("begin_run", "import podium.engine.step_run, podium.store.dynamodb"),
        "boto3",
    ),
    "record_tools / run_tool": (
        _function("record_tools", "import podium.engine.step_tools, podium.store.dynamodb"),
        "boto3",
    ),
    "model_step": (
        _function("model_step", "import podium.engine.step_model, podium.store.dynamodb"),
        "litellm",
    ),
}
TARGETS = {"API handler": 1.2, "model_step": 1.1}


def time_import(code: str) -> tuple[float, bool]:
    """Milliseconds the import takes in a fresh interpreter, and whether litellm got loaded."""
    probe = (
        "import time, sys; t = time.perf_counter(); " + code + "; "
        "print((time.perf_counter() - t) * 1000, 'litellm' in sys.modules)"
    )
    env = {**os.environ, **AWS_ENV}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=tempfile.gettempdir(),
    )
    if done.returncode != 0:
        raise RuntimeError(f"{code!r} failed: {done.stderr.strip().splitlines()[-1:]}")
    ms, litellm = done.stdout.split()[-2:]
    return float(ms), litellm == "True"


def cold_starts(rounds: int, keys: tuple[str, ...] = COLD) -> None:
    from contenders.podium_api import available

    keys = tuple(k for k in keys if k != "podium-api" or available())
    samples: dict[str, list[float]] = {k: [] for k in keys}
    inside: dict[str, list[float]] = {k: [] for k in keys}
    with fake_server(python_of("main")) as url, tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
                worker = Worker(key, url, Path(tmp) / f"r{r}", cold=True)
                reply = worker.ready().hello
                samples[key].append((time.perf_counter() - worker.started) * 1000)
                inside[key].append(reply["answer_ms"])
                if not reply.get("ok"):
                    raise RuntimeError(f"{key}: wrong first answer")
                worker.close()
    floor = median(samples["httpx"])
    heading(f"Figure 2a — cold start: fresh process to first answer ({rounds} rounds)")
    rows = [
        [CONTENDERS[k], median(v), percentile(v, 95), median(v) / floor, median(inside[k])]
        for k, v in samples.items()
    ]
    print(table(["contender", "p50 ms", "p95 ms", "x httpx", "in-process p50 ms"], rows))
    print("(spawn to answer, measured outside; in-process: from the interpreter's first line)")
    for key, values in samples.items():
        emit(
            "cold_start",
            contender=key,
            median_ms=median(values),
            p95_ms=percentile(values, 95),
            ratio_to_httpx=median(values) / floor,
            runs=len(values),
        )
    if "podium-api" not in keys:
        print("Podium via HTTP API: pending (podium.api is not available)")


def compile_podium() -> None:
    """Byte-compile Podium's sources, as deployed (infra/package.py ships .pyc): otherwise,
    under PYTHONDONTWRITEBYTECODE, every timed import would compile them again (~50 ms for the
    API handler) while the libraries it is compared with load compiled code."""
    for folder in (ROOT / "layers" / "podium" / "podium", ROOT / "functions"):
        compileall.compile_dir(folder, quiet=1)


def imports(rounds: int, warm: bool) -> None:
    compile_podium()
    names = list(IMPORTS)
    samples: dict[str, list[float]] = {n: [] for n in names}
    loads_litellm: dict[str, bool] = {}
    failed: dict[str, str] = {}
    for name in names:  # warm the file cache (and find what fails)
        if not warm:
            break
        try:
            time_import(IMPORTS[name][0])
        except RuntimeError as exc:
            failed[name] = str(exc)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            if name in failed:
                continue
            try:
                ms, litellm = time_import(IMPORTS[name][0])
            except RuntimeError as exc:
                failed[name] = str(exc)
                continue
            samples[name].append(ms)
            loads_litellm[name] = litellm
    report_imports(rounds, samples, loads_litellm, failed)


def report_imports(
    rounds: int,
    samples: dict[str, list[float]],
    loads_litellm: dict[str, bool],
    failed: dict[str, str],
) -> None:
    names = list(IMPORTS)
    heading(f"Figure 2b — import cost of each Lambda handler's first invocation ({rounds} rounds)")
    rows = []
    records = []
    for name in names:
        base = IMPORTS[name][1]
        if name in failed:
            rows.append([name, float("nan"), float("nan"), base or "-", float("nan"), "failed"])
            records.append({"target": name, "status": "failed", "error": failed[name]})
            continue
        value = median(samples[name])
        ratio = value / median(samples[base]) if base and base not in failed else float("nan")
        rows.append(
            [
                name,
                value,
                percentile(samples[name], 95),
                base or "-",
                ratio,
                "yes" if loads_litellm[name] else "no",
            ]
        )
        records.append(
            {
                "target": name,
                "median_ms": value,
                "p95_ms": percentile(samples[name], 95),
                "baseline": base or None,
                "ratio": None if not base else round(ratio, 3),
                "loads_litellm": loads_litellm[name],
            }
        )
    print(table(["import", "p50 ms", "p95 ms", "against", "ratio", "litellm loaded"], rows))
    print("(time inside a fresh interpreter, start-up excluded; ratio: p50 / the baseline's p50)")
    for record in records:
        emit("import", **record)
    if "import podium" not in failed:
        value = median(samples["import podium"])
        check("cold_start", "import podium, ms", value, 150.0, value <= 150.0)
    for name, limit in TARGETS.items():
        base = IMPORTS[name][1]
        if name in failed or base in failed:
            check("cold_start", f"{name} import ≤ {limit} × {base}", None, limit, None)
            continue
        ratio = median(samples[name]) / median(samples[base])
        check("cold_start", f"{name} import / {base} import", ratio, limit, ratio <= limit)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        cold_starts(1, ("httpx", "podium", "podium-api"))
        imports(1, warm=False)
    else:
        cold_starts(3)
        imports(15, warm=True)  # a shared machine moves single imports by ±20 %
    return 0


if __name__ == "__main__":
    sys.exit(main())
