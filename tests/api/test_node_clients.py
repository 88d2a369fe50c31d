"""Real clients no one here wrote: the npm `ai@6` package's DefaultChatTransport and
readUIMessageStream (tests/node) against a live Podium API. `make test` installs
tests/node's locked dependencies with `npm ci`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

NODE_DIR = Path(__file__).parents[1] / "node"


def test_ai_sdk_chat_transport(live, monkeypatch):
    # slow enough that the run is still streaming when the client, cut after its first
    # chunks, reconnects (~2 s of answer left), even on a loaded machine
    monkeypatch.setenv("PODIUM_DEMO_TOKEN_DELAY_MS", "50")
    assert shutil.which("node"), "node is required (a fresh machine has it)"
    assert (NODE_DIR / "node_modules" / "ai").is_dir(), "run `make test` (it runs npm ci)"
    done = subprocess.run(  # noqa: PLW1510 - the status is asserted with the output
        ["node", "--test", "--test-reporter=spec", "chat_transport.test.mjs"],
        cwd=NODE_DIR, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PODIUM_URL": live.url, "PODIUM_KEY": live.key},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "pass 2" in done.stdout
