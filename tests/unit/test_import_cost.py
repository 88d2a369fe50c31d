"""`import podium` stays cheap: no litellm, boto3, moto, fastapi or yaml at import time."""

from __future__ import annotations

import json
import subprocess
import sys

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
