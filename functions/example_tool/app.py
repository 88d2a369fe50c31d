"""An example `lambda` tool: your own function, invoked by Podium's tool runner.

`podium.tool` makes a plain function a Lambda handler that honours Podium's tool contract:
the event `{call_id, name, arguments, tenant, session_id, run_id}` becomes keyword arguments,
and the return value is answered as `{"output": ...}` (or, over 4 KB, stored in the blob
bucket and answered as `{"output_ref": ...}`). Raise to fail the call: the exception's class
name is the error the agent's `retry.errors` can list. The agent `agents/ops` uses it:

    tools:
      - name: check_service
        lambda: podium-ops-check-service
"""

from __future__ import annotations

import hashlib

import podium


class ServiceCheckError(Exception):
    """The health endpoint could not be read (retried by the ops agent)."""


STATUSES = ("healthy", "healthy", "healthy", "degraded")


@podium.tool
def handler(service: str, window_minutes: int = 15) -> dict[str, object]:
    """Health of one service over the last `window_minutes` (deterministic stand-in data: a
    real tool would query CloudWatch or the service's health endpoint here)."""
    name = service.strip().lower()
    if not name:
        raise ServiceCheckError("no service named")
    digest = int(hashlib.sha256(name.encode()).hexdigest(), 16)
    return {
        "service": name,
        "window_minutes": window_minutes,
        "status": STATUSES[digest % len(STATUSES)],
        "error_rate_pct": round((digest % 250) / 100, 2),
        "p99_latency_ms": 80 + digest % 900,
    }
