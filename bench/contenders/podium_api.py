"""Podium through its HTTP API: `podium dev` (uvicorn, the local runner, SQLite) in its own
process, reached over loopback with the dev key; runs are posted with
`Accept: text/event-stream` and their SSE stream read to `finish` (streaming), or posted for
a 202 and then followed through the run's events URL (non-streaming: only `finish` is
looked at). The server's CPU (read from /proc) is added to the client's, per turn.

It needs `podium.api` (the lead's HTTP API); `available()` says whether it is there.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from workload import API_KEY, QUESTION

from contenders.base import BaseContender, TurnResult
from contenders.podium_local import AGENT, write_agent


def available() -> bool:
    """The HTTP API exists in this checkout (podium.api.app with create_app)."""
    try:
        from podium.api import app
    except Exception:
        return False
    return hasattr(app, "create_app")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_cpu_s(pid: int) -> float:
    """utime + stime of a process, in seconds (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_dev_server(
    base_url: str, workdir: Path, log: Any = None
) -> tuple[subprocess.Popen[bytes], str, str]:
    """`podium dev` on a free loopback port; returns (process, URL, API key)."""
    write_agent(workdir / "agents")
    home = workdir / "home"
    port = free_port()
    env = {
        **os.environ,
        "OPENAI_API_BASE": base_url,
        "OPENAI_API_KEY": API_KEY,
        # the benchmark measures the API's overhead, not its request-rate limiter
        "PODIUM_RATE_LIMIT_PER_MIN": "10000000",
    }
    command = [
        sys.executable,
        "-m",
        "podium.cli.main",
        "dev",
        "--port",
        str(port),
        "--home",
        str(home),
        "--agents",
        str(workdir / "agents"),
    ]
    process = subprocess.Popen(
        command, env=env, stdout=log or subprocess.DEVNULL, stderr=log or subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"podium dev exited with {process.returncode}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError("podium dev did not answer /health within 60 s")
    key_file = home / "dev-key"
    key = key_file.read_text().strip() if key_file.exists() else ""
    return process, url, key


class PodiumApi(BaseContender):
    name = "Podium via HTTP API + SSE (podium dev)"

    def __init__(self, base_url: str, workdir: Path) -> None:
        import httpx

        self.process, self.url, key = start_dev_server(base_url, workdir, sys.stderr)
        self.client = httpx.AsyncClient(
            base_url=self.url, timeout=60, headers={"authorization": f"Bearer {key}"}
        )
        self._server_cpu = process_cpu_s(self.process.pid)

    def external_cpu_s(self) -> float:
        return process_cpu_s(self.process.pid)

    async def new_session(self) -> Any:
        response = await self.client.post("/sessions", json={"agent": AGENT})
        response.raise_for_status()
        return response.json()["session_id"]

    async def turn(self, session: Any, stream: bool) -> TurnResult:
        path = f"/sessions/{session}/runs"
        if stream:
            request = self.client.stream(
                "POST", path, json={"input": QUESTION}, headers={"accept": "text/event-stream"}
            )
            return await self._read(request)
        response = await self.client.post(path, json={"input": QUESTION})
        response.raise_for_status()
        accepted = response.json()
        return await self._read(
            self.client.stream("GET", accepted["events_url"]), run_url=accepted["run_url"]
        )

    async def _read(self, request: Any, *, run_url: str | None = None) -> TurnResult:
        """Read an SSE stream to `finish`; non-streaming (`run_url`): then fetch the answer."""
        text: list[str] = []
        async with request as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                part = json.loads(line[6:])
                if part["type"] == "text-delta":
                    text.append(part["delta"])
                elif part["type"] == "finish":
                    done = time.perf_counter()
                    if part.get("finishReason") != "stop":
                        raise RuntimeError(f"run ended: {part}")
                    if run_url is not None:
                        run = (await self.client.get(run_url)).raise_for_status().json()
                        return TurnResult(str((run.get("output") or {}).get("text", "")))
                    return TurnResult("".join(text), done_at=done, deltas=len(text))
        raise RuntimeError("the stream ended without `finish`")

    async def close(self) -> None:
        await self.client.aclose()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
