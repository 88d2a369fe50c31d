"""`python -m podium.testing.fake_openai`: the benchmarks' separate-process server."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest


@pytest.mark.timeout(30)
def test_cli_prints_its_url_serves_and_stops_on_sigterm():
    command = [sys.executable, "-m", "podium.testing.fake_openai", "--port", "0"]
    command += ["--workload", "weather-bench", "--ttft-ms", "1", "--chunk-ms", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")

        response = httpx.post(
            url + "/v1/chat/completions",
            json={
                "model": "bench",
                "messages": [{"role": "user", "content": "Weather in Berlin?"}],
            },
        )

        calls = response.json()["choices"][0]["message"]["tool_calls"]
        assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stderr is not None
    assert process.stderr.read() == ""
