"""`podium run --url --key` streams a run from a live API and answers its approval; the API
takes the tenant from an API Gateway JWT authorizer's claims when configured."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

from support.api_helpers import REFUND, WEATHER


def podium_cli(live, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: PLW1510 - the status is asserted with the output
        [sys.executable, "-m", "podium.cli.main", "run", *args, "--url", live.url, "--key",
         live.key], input=stdin, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_run_through_the_api(live):
    done = podium_cli(live, "weather", WEATHER)
    assert done.returncode == 0, done.stderr
    assert "→ get_weather" in done.stdout and "Paris" in done.stdout
    assert "[succeeded]" in done.stderr


def test_run_through_the_api_with_an_interactive_approval(live):
    done = podium_cli(live, "support", REFUND, "--var", "company=Acme", stdin="y\n")
    assert done.returncode == 0, done.stderr
    assert "approve call" in done.stdout
    assert '"refunded_usd": 19.99' in done.stdout


def test_a_missing_key_is_a_clear_error(live):
    done = subprocess.run(  # noqa: PLW1510
        [sys.executable, "-m", "podium.cli.main", "run", "weather", "hi", "--url", live.url],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2 and "--url needs --key" in done.stderr


def test_tenant_from_jwt_authorizer_claims(live):
    from mangum import Mangum

    app = live.server.config.app
    app.state.podium.settings.jwt_tenant_claim = "custom:tenant"
    handler = Mangum(app, lifespan="off")

    def event(claims: dict) -> dict:
        return {
            "version": "2.0", "routeKey": "$default", "rawPath": "/sessions",
            "rawQueryString": "", "headers": {"content-type": "application/json"},
            "isBase64Encoded": True,
            "body": base64.b64encode(json.dumps({"agent": "weather"}).encode()).decode(),
            "requestContext": {
                "accountId": "1", "apiId": "a", "domainName": "d", "domainPrefix": "d",
                "http": {"method": "POST", "path": "/sessions", "protocol": "HTTP/1.1",
                         "sourceIp": "127.0.0.1", "userAgent": "t"},
                "requestId": "r", "routeKey": "$default", "stage": "$default",
                "time": "29/Nov/2026:00:00:00 +0000", "timeEpoch": 0,
                "authorizer": {"jwt": {"claims": claims, "scopes": None}},
            },
        }  # fmt: skip

    created = handler(event({"sub": "u1", "custom:tenant": "jwt-tenant"}), None)
    assert created["statusCode"] == 201
    body = created["body"]
    session = json.loads(base64.b64decode(body) if created.get("isBase64Encoded") else body)
    stored = live.podium.store.get_session("jwt-tenant", session["session_id"])
    assert stored.tenant == "jwt-tenant"
    missing = handler(event({"sub": "u1"}), None)
    assert missing["statusCode"] == 401
