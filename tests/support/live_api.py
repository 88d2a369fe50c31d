"""A real Podium API server on 127.0.0.1 (uvicorn in a thread) over an embedded runtime."""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from podium.api.app import create_app
from podium.api.auth import create_key
from podium.api.context import ApiSettings
from support.podium_env import Podium, make_podium

ROOT = Path(__file__).parents[2]


@dataclass
class LiveApi:
    url: str
    key: str
    other_key: str
    podium: Podium
    server: uvicorn.Server
    thread: threading.Thread

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.podium.runner.stop()


def start_live_api(tmp_path: Path, **settings: Any) -> LiveApi:
    agents = tmp_path / "agents"
    for name in ("weather", "support"):
        if not (agents / name).exists():
            shutil.copytree(ROOT / "agents" / name, agents / name)
    podium = make_podium(tmp_path)
    app = create_app(podium.runtime, ApiSettings(**{"heartbeat_s": 15.0, **settings}))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                            lifespan="off")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True, name="podium-api")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise TimeoutError("the API server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    key, _ = create_key(podium.store, "acme", scopes=["runs", "sessions:read"])
    other, _ = create_key(podium.store, "other", scopes=["runs", "sessions:read"])
    return LiveApi(f"http://127.0.0.1:{port}", key, other, podium, server, thread)
