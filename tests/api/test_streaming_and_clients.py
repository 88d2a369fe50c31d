"""SSE resume, the chat endpoint, the OpenAI-compatible endpoint with the official SDK, and the
same app behind Mangum with API Gateway HTTP API v2 events."""

from __future__ import annotations

import base64
import json
import time

import httpx
import openai
import pytest

from podium.testing import Reply
from support.api_helpers import WEATHER, sse, wait_run


def read_events(client: httpx.Client, url: str, *, stop_after: int | None = None,
                last_event_id: str | None = None) -> list[tuple[str, dict]]:  # fmt: skip
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    got: list[tuple[str, dict]] = []
    with client.stream("GET", url, headers=headers) as response:
        event_id = None
        for line in response.iter_lines():
            if line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: ") and line != "data: [DONE]":
                got.append((event_id, json.loads(line[6:])))
                if stop_after is not None and len(got) >= stop_after:
                    break  # the client goes away mid-stream
    return got


def test_resume_after_a_cut_delivers_the_rest_exactly_once(live, http, fake_openai):
    fake_openai.script(Reply(text=" ".join(f"w{i}" for i in range(12)), chunks=12, chunk_ms=80))
    session = http.post("/sessions", json={"agent": "talker"}).json()["session_id"]
    run_id = http.post(f"/sessions/{session}/runs", json={"input": "talk"}).json()["run_id"]
    url = f"/sessions/{session}/runs/{run_id}/events"
    first = read_events(http, url, stop_after=6)
    assert len(first) == 6
    rest = read_events(http, url, last_event_id=first[-1][0])
    wait_run(http, session, run_id)
    everything = read_events(http, url)
    assert first + rest == everything
    ids = [event_id for event_id, _ in everything]
    assert len(ids) == len(set(ids)) and ids == sorted(ids)
    text = "".join(e["delta"] for _, e in everything if e["type"] == "text-delta")
    assert text == " ".join(f"w{i}" for i in range(12))


def test_session_stream_spans_runs_and_resumes(live, http):
    session = http.post("/sessions", json={"agent": "weather"}).json()["session_id"]
    for _ in range(2):
        run_id = http.post(f"/sessions/{session}/runs", json={"input": WEATHER}).json()["run_id"]
        live.podium.wait(session, run_id)  # ended, its `finish` in the log
    url = f"/sessions/{session}/events"
    with httpx.Client(base_url=live.url, headers=live.headers(), timeout=2) as client:
        first = read_events(client, url, stop_after=10)
        rest = _drain(client, url, first[-1][0])
        whole = _drain(client, url, None)
    assert first + rest == whole
    assert sum(e["type"] == "start" for _, e in whole) == 2
    assert sum(e["type"] == "finish" for _, e in whole) == 2


def _drain(client: httpx.Client, url: str, last: str | None) -> list[tuple[str, dict]]:
    """Read a session stream (which stays open) until it goes quiet for the read timeout."""
    got: list[tuple[str, dict]] = []
    headers = {"Last-Event-ID": last} if last else {}
    try:
        with client.stream("GET", url, headers=headers) as response:
            event_id = None
            for line in response.iter_lines():
                if line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: "):
                    got.append((event_id, json.loads(line[6:])))
    except httpx.ReadTimeout:
        pass
    return got


def test_chat_endpoint_new_chat_and_resume(live, http):
    body = {
        "id": "chat-1",
        "trigger": "submit-message",
        "messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": WEATHER}]}],
    }
    response = http.post("/chat", params={"agent": "weather"}, json=body)
    assert response.status_code == 200
    events = sse(response.text)
    types = [e["type"] for _, e in events]
    assert types[0] == "start" and types[-1] == "finish"
    assert "tool-output-available" in types
    assert http.get("/sessions/chat-1").json()["agent"] == "weather"
    assert http.get("/chat/chat-1/stream").status_code == 204  # nothing running
    missing_agent = http.post("/chat", json={**body, "id": "chat-2"})
    assert missing_agent.status_code == 400


def test_chat_approval_response_continues_the_run(live, http):
    start = {
        "id": "chat-refund",
        "agent": "support",
        "variables": {"company": "Acme"},
        "messages": [
            {
                "id": "m1",
                "role": "user",
                "parts": [
                    {"type": "text", "text": "Please refund 19.99 on order AB-1234, damaged"}
                ],
            }
        ],
    }
    first: list[dict] = []
    with http.stream("POST", "/chat", json=start) as response:  # open while the run waits
        for line in response.iter_lines():
            if line.startswith("data: "):
                first.append(json.loads(line[6:]))
                if first[-1]["type"] == "tool-approval-request":
                    break
    request = first[-1]
    run_id = first[0]["messageId"]
    wait_run(http, "chat-refund", run_id, status="waiting")
    answer = {
        **start,
        "messages": [
            *start["messages"],
            {
                "id": run_id,
                "role": "assistant",
                "parts": [
                    {
                        "type": "tool-issue_refund",
                        "toolCallId": request["toolCallId"],
                        "state": "approval-responded",
                        "approval": {"id": request["approvalId"], "approved": True},
                    }
                ],
            },
        ],
    }
    rest = sse(http.post("/chat", json=answer).text)
    types = [e["type"] for _, e in rest]
    assert "tool-output-available" in types and types[-1] == "finish"
    assert "start" not in types  # the same assistant message continues


def test_openai_sdk_streaming_and_not(live):
    client = openai.OpenAI(base_url=live.url + "/v1", api_key=live.key, max_retries=0)
    stream = client.chat.completions.create(
        model="agent/weather", messages=[{"role": "user", "content": WEATHER}], stream=True,
        stream_options={"include_usage": True})  # fmt: skip
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Paris" in text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    completion = client.chat.completions.with_raw_response.create(
        model="agent/weather",
        messages=[{"role": "system", "content": "Be brief."},
                  {"role": "user", "content": "hello"},
                  {"role": "assistant", "content": "hi"},
                  {"role": "user", "content": WEATHER}])  # fmt: skip
    session = completion.headers["x-podium-session"]
    parsed = completion.parse()
    assert "Paris" in parsed.choices[0].message.content
    assert parsed.usage.total_tokens > 0
    followed = client.chat.completions.create(
        model="agent/weather", messages=[{"role": "user", "content": "and in Rome?"}],
        extra_headers={"X-Podium-Session": session})  # fmt: skip
    assert followed.choices[0].message.content
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="agent/support", messages=[{"role": "user", "content": "hi"}]
        )
    assert "approval" in str(caught.value)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])


# ----------------------------------------------------------------------------- Mangum


def http_api_event(method: str, path: str, *, key: str | None, body: object = None,
                   query: str = "") -> dict:  # fmt: skip
    headers = {"content-type": "application/json", "host": "api.example.com"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    raw = json.dumps(body).encode() if body is not None else b""
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": headers, "isBase64Encoded": True, "body": base64.b64encode(raw).decode(),
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
            "domainPrefix": "api", "http": {"method": method, "path": path,
                                            "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                                            "userAgent": "pytest"},
            "requestId": "r", "routeKey": "$default", "stage": "$default",
            "time": "29/Nov/2026:00:00:00 +0000", "timeEpoch": 0,
        },
    }  # fmt: skip


def test_the_same_app_behind_mangum(live):
    from mangum import Mangum

    app = live.server.config.app
    handler = Mangum(app, lifespan="off")

    def call(method: str, path: str, body: object = None, key: str | None = live.key,
             query: str = "") -> tuple[int, dict | str]:  # fmt: skip
        answer = handler(http_api_event(method, path, key=key, body=body, query=query), None)
        text = answer["body"]
        if answer.get("isBase64Encoded"):
            text = base64.b64decode(text).decode()
        try:
            return answer["statusCode"], json.loads(text)
        except json.JSONDecodeError:
            return answer["statusCode"], text

    assert call("GET", "/health", key=None) == (200, {"status": "ok"})
    assert call("GET", "/sessions", key=None)[0] == 401
    status, session = call("POST", "/sessions", {"agent": "weather"})
    assert status == 201
    status, accepted = call("POST", f"/sessions/{session['session_id']}/runs", {"input": WEATHER})
    assert status == 202
    deadline = time.monotonic() + 20
    while call("GET", accepted["run_url"])[1]["status"] != "succeeded":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status, events = call("GET", accepted["events_url"])
    assert status == 200 and "data: [DONE]" in events
    assert call("GET", "/sessions/none-such")[0] == 404
    assert call("POST", "/sessions", {"agent": "weather", "x": 1})[0] == 400
    status, listed = call("GET", "/sessions", query="limit=1")
    assert status == 200 and len(listed["items"]) == 1


def test_mangum_session_stream_is_bounded_with_retry(live):
    from mangum import Mangum

    live.server.config.app.state.podium.settings.bounded_wait_s = 0.5
    handler = Mangum(live.server.config.app, lifespan="off")
    created = handler(
        http_api_event("POST", "/sessions", key=live.key, body={"agent": "weather"}), None
    )
    body = created["body"]
    if created.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    session = json.loads(body)["session_id"]
    # nothing to stream: the response ends at the bounded wait, telling the client to retry
    answer = handler(http_api_event("GET", f"/sessions/{session}/events", key=live.key), None)
    text = answer["body"]
    if answer.get("isBase64Encoded"):
        text = base64.b64decode(text).decode()
    assert text.rstrip().endswith("retry: 1000")
