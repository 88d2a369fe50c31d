"""Every route over a real server: agents, sessions, runs, approvals, client tools, traces,
events; auth, tenants, validation errors and double texting."""

from __future__ import annotations

import json

import httpx
import pytest

from podium.client import Podium, PodiumAPIError
from podium.testing import Reply
from support.api_helpers import REFUND, WEATHER, sse, wait_run


def test_health_and_docs_need_no_key(live):
    assert httpx.get(live.url + "/health").json() == {"status": "ok"}
    document = httpx.get(live.url + "/openapi.json")
    assert document.status_code == 200
    documented = {
        (path, method.upper())
        for path, operations in document.json()["paths"].items()
        for method in operations
    }
    app = live.server.config.app
    served = {
        (route.path, method)
        for route in app.routes
        if getattr(route, "include_in_schema", False)
        for method in getattr(route, "methods", ()) - {"HEAD"}
    }
    assert documented == served and len(served) > 20


def test_agents(http):
    names = [a["name"] for a in http.get("/agents").json()["items"]]
    assert {"weather", "support", "talker"} <= set(names)
    support = http.get("/agents/support").json()
    assert support["variables"]["company"]["required"] is True
    assert {t["name"]: t["approval"] for t in support["tools"]}["issue_refund"] is True
    assert http.get("/agents/nope").status_code == 404


def test_session_lifecycle_and_messages(http):
    created = http.post("/sessions", json={"agent": "weather", "metadata": {"user": "u1"}})
    assert created.status_code == 201
    session = created.json()
    assert session["variables"] == {"units": "metric"}
    assert http.get(f"/sessions/{session['session_id']}").json()["metadata"] == {"user": "u1"}
    listed = http.get("/sessions", params={"agent": "weather"}).json()
    assert session["session_id"] in [s["session_id"] for s in listed["items"]]
    run = http.post(f"/sessions/{session['session_id']}/runs", json={"input": WEATHER}).json()
    wait_run(http, session["session_id"], run["run_id"])
    first = http.get(f"/sessions/{session['session_id']}/messages", params={"limit": 2}).json()
    assert [m["role"] for m in first["items"]] == ["user", "assistant"]
    rest = http.get(
        f"/sessions/{session['session_id']}/messages",
        params={"limit": 10, "cursor": first["cursor"]},
    ).json()
    assert [m["role"] for m in rest["items"]] == ["tool", "tool", "assistant"]
    assert http.delete(f"/sessions/{session['session_id']}").status_code == 204
    assert http.get(f"/sessions/{session['session_id']}").status_code == 404


def test_run_202_then_events_usage_and_trace(http):
    session = http.post("/sessions", json={"agent": "weather"}).json()["session_id"]
    accepted = http.post(f"/sessions/{session}/runs", json={"input": WEATHER})
    assert accepted.status_code == 202
    body = accepted.json()
    assert body["disposition"] == "started"
    assert accepted.headers["location"] == body["run_url"]
    events = sse(http.get(body["events_url"]).text)
    types = [e["type"] for _, e in events]
    assert types[0] == "start" and types[-1] == "finish"
    assert all(event_id for event_id, _ in events)
    run = wait_run(http, session, body["run_id"])
    assert run["status"] == "succeeded"
    assert run["usage"]["model_calls"] == 2
    trace = http.get(f"/sessions/{session}/runs/{body['run_id']}/trace").json()
    kinds = {s["kind"] for s in trace["spans"]}
    assert {"run", "step", "model", "tool"} <= kinds
    runs = http.get(f"/sessions/{session}/runs").json()["items"]
    assert [r["run_id"] for r in runs] == [body["run_id"]]


def test_post_run_with_accept_event_stream_streams_it(http):
    session = http.post("/sessions", json={"agent": "weather"}).json()["session_id"]
    response = http.post(
        f"/sessions/{session}/runs",
        json={"input": WEATHER},
        headers={"Accept": "text/event-stream"},
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert response.text.rstrip().endswith("data: [DONE]")
    text = "".join(e["delta"] for _, e in sse(response.text) if e["type"] == "text-delta")
    assert "Paris" in text


def test_approval_and_deny_and_not_pending(http):
    session = http.post(
        "/sessions", json={"agent": "support", "variables": {"company": "Acme"}}
    ).json()["session_id"]
    run_id = http.post(f"/sessions/{session}/runs", json={"input": REFUND}).json()["run_id"]
    run = wait_run(http, session, run_id, status="waiting")
    [pending] = run["pending"]
    assert pending["tool"] == "issue_refund" and pending["kind"] == "approval"
    url = f"/sessions/{session}/runs/{run_id}/approvals"
    assert http.post(f"{url}/not-a-call", json={"approved": True}).status_code == 404
    bad = http.post(f"{url}/{pending['call_id']}", json={"approved": "maybe"})
    assert bad.status_code == 400
    assert (
        http.post(
            f"{url}/{pending['call_id']}", json={"approved": False, "reason": "no"}
        ).status_code
        == 200
    )
    run = wait_run(http, session, run_id)
    assert run["status"] == "succeeded"
    again = http.post(f"{url}/{pending['call_id']}", json={"approved": True})
    assert again.status_code == 409
    assert "nothing is waiting" in again.json()["error"]["message"]


def test_client_tool_result(http):
    session = http.post(
        "/sessions", json={"agent": "support", "variables": {"company": "Acme"}}
    ).json()["session_id"]
    run_id = http.post(f"/sessions/{session}/runs", json={"input": "what is on my screen?"}).json()[
        "run_id"
    ]
    run = wait_run(http, session, run_id, status="waiting")
    [pending] = run["pending"]
    assert pending["kind"] == "client"
    posted = http.post(
        f"/sessions/{session}/runs/{run_id}/tool-results/{pending['call_id']}",
        json={"output": {"page": "checkout"}},
    )
    assert posted.status_code == 200
    assert wait_run(http, session, run_id)["status"] == "succeeded"
    tools = [
        m for m in http.get(f"/sessions/{session}/messages").json()["items"] if m["role"] == "tool"
    ]
    assert json.loads(tools[-1]["content"]) == {"page": "checkout"}


def test_cancel(live, http, fake_openai):
    fake_openai.script(Reply(text="a b c d e f g h i j", chunks=10, chunk_ms=200))
    session = http.post("/sessions", json={"agent": "talker"}).json()["session_id"]
    run_id = http.post(f"/sessions/{session}/runs", json={"input": "talk"}).json()["run_id"]
    live.podium.wait_for_event(session, run_id, "text-delta")  # streaming: mid-answer
    cancelled = http.post(f"/sessions/{session}/runs/{run_id}/cancel")
    assert cancelled.status_code == 200
    run = wait_run(http, session, run_id)
    assert run["status"] == "cancelled"


def test_double_texting_reject_is_409_and_enqueue_is_202(http, fake_openai):
    fake_openai.script(Reply(text="a b c d e", chunks=5, chunk_ms=200), Reply(text="ok"))
    session = http.post("/sessions", json={"agent": "talker"}).json()["session_id"]
    first = http.post(f"/sessions/{session}/runs", json={"input": "one"}).json()
    second = http.post(f"/sessions/{session}/runs", json={"input": "two"})
    assert second.status_code == 409
    error = second.json()["error"]
    assert error["code"] == "conflict"
    assert error["details"]["active_run"] == first["run_id"]
    wait_run(http, session, first["run_id"])
    fake_openai.reset()  # the rejected input never used its scripted reply
    fake_openai.script(Reply(text="a b c d e", chunks=5, chunk_ms=200), Reply(text="ok"))
    queued_session = http.post("/sessions", json={"agent": "queuer"}).json()["session_id"]
    http.post(f"/sessions/{queued_session}/runs", json={"input": "one"})
    queued = http.post(f"/sessions/{queued_session}/runs", json={"input": "two"})
    assert queued.status_code == 202 and queued.json()["disposition"] == "queued"
    assert wait_run(http, queued_session, queued.json()["run_id"])["status"] == "succeeded"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/sessions", "{not json", 400, "invalid_json"),
        ("POST", "/sessions", {"agent": "weather", "colour": "red"}, 400, "invalid_request"),
        ("POST", "/sessions", {"agent": "nope"}, 404, "not_found"),
        ("POST", "/sessions", {"agent": "support"}, 400, "invalid_input"),
        ("GET", "/sessions/no-such-session", None, 404, "not_found"),
        ("POST", "/sessions/no-such-session/runs", {"input": "x"}, 404, "not_found"),
        ("GET", "/sessions?limit=0", None, 400, "invalid_request"),
    ],
)
def test_bad_input_gets_a_precise_error(http, method, path, body, status, code):  # noqa: PLR0917
    if isinstance(body, str):
        response = http.request(
            method, path, content=body, headers={"content-type": "application/json"}
        )
    else:
        response = http.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_empty_input_and_unknown_run(http):
    session = http.post("/sessions", json={"agent": "weather"}).json()["session_id"]
    empty = http.post(f"/sessions/{session}/runs", json={"input": "   "})
    assert empty.status_code == 400 and "empty" in empty.json()["error"]["message"]
    assert http.get(f"/sessions/{session}/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV").status_code == 404


def test_oversized_body_is_413(http):
    response = http.post(
        "/sessions", content=b"x" * 2_000_000, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_auth_missing_invalid_and_revoked(live):
    assert httpx.get(live.url + "/sessions").status_code == 401
    bad = httpx.get(live.url + "/sessions", headers=live.headers("pk_wrong"))
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "unauthorized"
    assert (
        httpx.get(live.url + "/sessions", headers={"Authorization": "Basic x"}).status_code == 401
    )
    from podium.api.auth import create_key

    secret, record = create_key(live.podium.store, "acme")
    assert httpx.get(live.url + "/sessions", headers=live.headers(secret)).status_code == 200
    live.podium.store.revoke_api_key(record.key_hash)
    revoked = httpx.get(live.url + "/sessions", headers=live.headers(secret))
    assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]["message"]


def test_read_only_key_cannot_start_runs(live):
    from podium.api.auth import create_key

    secret, _ = create_key(live.podium.store, "acme", scopes=["sessions:read"])
    response = httpx.post(
        live.url + "/sessions", json={"agent": "weather"}, headers=live.headers(secret)
    )
    assert response.status_code == 403


def test_another_tenant_sees_nothing(live, http):
    session = http.post(
        "/sessions", json={"agent": "support", "variables": {"company": "Acme"}}
    ).json()["session_id"]
    run_id = http.post(f"/sessions/{session}/runs", json={"input": REFUND}).json()["run_id"]
    run = wait_run(http, session, run_id, status="waiting")
    call = run["pending"][0]["call_id"]
    other = httpx.Client(base_url=live.url, headers=live.headers(live.other_key), timeout=10)
    base = f"/sessions/{session}"
    for method, path, body in [
        ("GET", base, None), ("DELETE", base, None), ("GET", f"{base}/messages", None),
        ("POST", f"{base}/runs", {"input": "hi"}), ("GET", f"{base}/runs", None),
        ("GET", f"{base}/runs/{run_id}", None), ("POST", f"{base}/runs/{run_id}/cancel", None),
        ("POST", f"{base}/runs/{run_id}/approvals/{call}", {"approved": True}),
        ("POST", f"{base}/runs/{run_id}/tool-results/{call}", {"output": 1}),
        ("GET", f"{base}/runs/{run_id}/trace", None), ("GET", f"{base}/runs/{run_id}/events", None),
        ("GET", f"{base}/events", None), ("POST", f"{base}/events-token", None),
    ]:  # fmt: skip
        response = other.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert session not in response.text or "not found" in response.text.lower()
    assert session not in [s["session_id"] for s in other.get("/sessions").json()["items"]]
    http.post(f"/sessions/{session}/runs/{run_id}/approvals/{call}", json={"approved": False})
    assert wait_run(http, session, run_id)["status"] == "succeeded"


def test_events_token_for_eventsource(live, http):
    session = http.post("/sessions", json={"agent": "weather"}).json()["session_id"]
    run_id = http.post(f"/sessions/{session}/runs", json={"input": WEATHER}).json()["run_id"]
    minted = http.post(f"/sessions/{session}/events-token").json()
    url = f"{live.url}/sessions/{session}/runs/{run_id}/events"
    streamed = httpx.get(url, params={"token": minted["token"]}, timeout=20)
    assert streamed.status_code == 200 and "finish" in streamed.text
    other_session = http.post("/sessions", json={"agent": "weather"}).json()["session_id"]
    wrong = httpx.get(
        f"{live.url}/sessions/{other_session}/events", params={"token": minted["token"]}
    )
    assert wrong.status_code == 401
    body, signature = minted["token"].split(".")
    # the first character, not the last: the last one's low bits are padding, so changing it
    # can leave the signature's bytes as they were
    changed = ("A" if signature[0] != "A" else "B") + signature[1:]
    forged = httpx.get(url, params={"token": f"{body}.{changed}"})
    assert forged.status_code == 401


def test_rate_limit_per_key(live):
    from podium.api.auth import create_key

    secret, _ = create_key(live.podium.store, "acme", rate_limit_per_min=3)
    statuses = [httpx.get(live.url + "/sessions", headers=live.headers(secret)).status_code
                for _ in range(4)]  # fmt: skip
    assert statuses == [200, 200, 200, 429]
    limited = httpx.get(live.url + "/sessions", headers=live.headers(secret))
    assert int(limited.headers["retry-after"]) >= 1


def test_python_client_sync(live):
    with Podium(live.url, live.key) as client:
        session = client.create_session("weather")
        run = client.start_run(session.session_id, WEATHER)
        events = list(client.events(session.session_id, run.run_id))
        assert events[0].type == "start" and events[-1].type == "finish"
        assert client.get_run(session.session_id, run.run_id).status in {"running", "succeeded"}
        with pytest.raises(PodiumAPIError) as caught:
            client.get_session("missing-session")
        assert caught.value.status == 404


@pytest.mark.anyio
async def test_python_client_async(live):
    from podium.client import AsyncPodium

    async with AsyncPodium(live.url, live.key) as client:
        session = await client.create_session("weather")
        run = await client.start_run(session.session_id, WEATHER)
        types = [event.type async for event in client.events(session.session_id, run.run_id)]
        assert types[0] == "start" and types[-1] == "finish"


def test_cap_on_a_tenants_active_runs(live, http, fake_openai):
    live.server.config.app.state.podium.settings.max_active_runs_per_tenant = 1
    fake_openai.script(Reply(text="a b c d e", chunks=5, chunk_ms=200))
    first = http.post("/sessions", json={"agent": "talker"}).json()["session_id"]
    run = http.post(f"/sessions/{first}/runs", json={"input": "one"}).json()
    second = http.post("/sessions", json={"agent": "talker"}).json()["session_id"]
    limited = http.post(f"/sessions/{second}/runs", json={"input": "two"})
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    other = httpx.post(
        f"{live.url}/sessions", json={"agent": "weather"}, headers=live.headers(live.other_key)
    )  # another tenant is not limited
    other_run = httpx.post(
        f"{live.url}/sessions/{other.json()['session_id']}/runs",
        json={"input": WEATHER},
        headers=live.headers(live.other_key),
    )
    assert other_run.status_code == 202
    wait_run(http, first, run["run_id"])
