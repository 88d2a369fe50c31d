"""`import podium` stays cheap: no litellm, boto3, moto, fastapi or yaml at import time; and the
API handler's cold start builds its app without what only some requests need."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ["litellm", "boto3", "botocore", "moto", "fastapi", "yaml", "jsonschema", "httpx"]


def test_import_podium_loads_nothing_heavy():
    code = (
        "import json, sys; import podium; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_public_names_resolve_lazily():
    import podium

    assert podium.AgentConfigError.__name__ == "AgentConfigError"
    assert podium.load_agent.__module__ == "podium.protocol.loader"


API_HANDLER_BUILD = """
import json, sys
sys.path.insert(0, {functions!r})
import app  # functions/api/app.py, as Lambda imports it
from mangum import Mangum
from podium.api.app import create_app
from podium.api.routing import LazyRoute
built = create_app()  # what the handler's first event builds
Mangum(built, lifespan="off")
print(json.dumps({{
    "loaded": [m for m in {unwanted!r} if m in sys.modules],
    "analysed": [r.path for r in built.routes if isinstance(r, LazyRoute) and r.built],
}}))
"""


def test_the_api_handler_builds_without_analysing_routes(tmp_path):
    """The API Lambda's cold start: no litellm, no agent loader or run steps, and no route
    analysed (FastAPI's analysis imports pydantic.v1) until a request reaches it."""
    root = Path(__file__).parents[2]
    unwanted = ["litellm", "yaml", "jsonschema", "httpx", "uvicorn", "pydantic.v1",
                "podium.protocol.loader", "podium.engine.step_model", "podium.engine.step_run",
                "podium.engine.step_tools", "podium.engine.runs"]  # fmt: skip
    code = API_HANDLER_BUILD.format(functions=str(root / "functions" / "api"), unwanted=unwanted)
    env = {
        **os.environ,
        "PODIUM_STORE": "dynamodb", "PODIUM_TABLE": "podium", "PODIUM_BUCKET": "podium-blobs",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test", "AWS_EC2_METADATA_DISABLED": "true",
        "PODIUM_SIGNING_KEY": "k" * 32, "PODIUM_HOME": str(tmp_path),
        "PODIUM_AGENTS_DIR": str(root / "agents"),
    }  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert json.loads(out.stdout) == {"loaded": [], "analysed": []}
