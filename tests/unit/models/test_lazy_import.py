"""`import podium.models` (and routing and budgets) loads neither litellm nor httpx; a demo
call loads httpx-free code only, and litellm is imported only by the litellm path."""

from __future__ import annotations

import json
import subprocess
import sys

CHECK = "import json, sys; print(json.dumps([m for m in ('litellm', 'httpx') if m in sys.modules]))"


def _loaded(code: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\n" + CHECK], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_model_layer_loads_nothing_heavy():
    code = (
        "import podium.models as m\n"
        "m.choose_model, m.check_budget, m.call_with_fallbacks, m.ModelRequest, m.price_for"
    )
    assert _loaded(code) == []


def test_a_demo_call_does_not_import_litellm():
    code = (
        "import asyncio\n"
        "from podium.models import ModelRequest, call_model\n"
        "r = ModelRequest(model='podium/demo', messages=[{'role': 'user', 'content': 'hi'}])\n"
        "asyncio.run(call_model(r))"
    )
    assert "litellm" not in _loaded(code)
