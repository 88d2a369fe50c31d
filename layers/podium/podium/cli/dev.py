"""`podium dev`: the API on the embedded defaults — SQLite, the local runner, the demo model."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from podium import settings
from podium.errors import InputError

DEV_KEY_FILE = "dev-key"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--home", help="local state folder (default .podium)")
    parser.add_argument("--agents", type=Path, help="folder of agents (default ./agents)")
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="accept requests without a key (only when bound to 127.0.0.1)",
    )


def run(args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415

    from podium.api.app import create_app  # noqa: PLC0415
    from podium.api.context import ApiSettings  # noqa: PLC0415
    from podium.engine.agents import AgentRegistry  # noqa: PLC0415
    from podium.engine.local import LocalRunner  # noqa: PLC0415
    from podium.engine.runtime import Runtime  # noqa: PLC0415
    from podium.store.factory import build_store  # noqa: PLC0415

    if args.no_auth and args.host not in LOOPBACK:
        raise InputError("--no-auth is only allowed when bound to 127.0.0.1")
    home = settings.home_dir(args.home)
    store = build_store("sqlite", home=str(home))
    runtime = Runtime(
        store=store, agents=AgentRegistry(store, args.agents or settings.agents_dir())
    )
    runner = LocalRunner(runtime)
    resumed = runner.start()
    app = create_app(runtime, ApiSettings.from_environment(auth=not args.no_auth))
    key = None if args.no_auth else dev_key(store, home)
    base = f"http://{args.host}:{args.port}"
    print(banner(base, key, runtime.agents.names(), resumed), flush=True)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        runner.stop()
        store.close()
    return 0


def dev_key(store: object, home: Path) -> str:
    """The local admin key of tenant `local`: created on first start, kept in PODIUM_HOME."""
    from podium.api.auth import authenticate_key, create_key  # noqa: PLC0415
    from podium.errors import AuthError  # noqa: PLC0415

    path = home / DEV_KEY_FILE
    if path.exists():
        secret = path.read_text().strip()
        try:
            authenticate_key(store, secret)  # type: ignore[arg-type]
            return secret
        except AuthError:
            pass
    secret, _ = create_key(store, "local", scopes=["admin"], name="podium dev")  # type: ignore[arg-type]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secret)
    path.chmod(0o600)
    return secret


def banner(base: str, key: str | None, agents: list[str], resumed: list[str]) -> str:
    agent = "weather" if "weather" in agents else (agents[0] if agents else "AGENT")
    body = json.dumps(
        {
            "id": "demo-chat",
            "messages": [
                {
                    "id": "m1",
                    "role": "user",
                    "parts": [{"type": "text", "text": "What's the weather and time in Paris?"}],
                }
            ],
        }
    )
    auth = f"-H {shlex.quote('Authorization: Bearer ' + key)} " if key else ""
    lines = [
        f"Podium is running at {base}  (API docs: {base}/docs)",
        f"web UI: {base}/ui#key={key}" if key else f"web UI: {base}/ui",
        f"agents: {', '.join(agents) or 'none'}",
        f"API key: {key}" if key else "auth: off (--no-auth, loopback only)",
    ]
    if resumed:
        lines.append(f"resumed {len(resumed)} interrupted run(s)")
    lines += [
        "stream an answer:",
        f"  curl -N {auth}-H 'Content-Type: application/json' "
        f"{base}/chat?agent={agent} -d {shlex.quote(body)}",
    ]
    return "\n".join(lines)
