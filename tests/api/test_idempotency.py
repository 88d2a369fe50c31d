"""`Idempotency-Key`: a client that retries a POST it is unsure went through gets the first
one's outcome — the same session, the same run — and nothing starts twice; the key sent with
another request is refused, and one whose first request is still at work answers 409."""

from __future__ import annotations

from support.api_helpers import WEATHER, sse, wait_run


def test_a_retried_session_creation_returns_the_same_session(http):
    body = {"agent": "weather", "metadata": {"user": "u1"}}
    first = http.post("/sessions", json=body, headers={"Idempotency-Key": "create-1"})
    retry = http.post("/sessions", json=body, headers={"Idempotency-Key": "create-1"})
    assert first.status_code == retry.status_code == 201
    assert retry.json()["session_id"] == first.json()["session_id"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    listed = http.get("/sessions", params={"agent": "weather"}).json()["items"]
    assert [s["session_id"] for s in listed].count(first.json()["session_id"]) == 1
    assert len(listed) == 1


def test_a_retried_run_returns_the_same_run_and_starts_nothing(http):
    session = http.post("/sessions", json={"agent": "weather"}).json()["session_id"]
    url = f"/sessions/{session}/runs"
    first = http.post(url, json={"input": WEATHER}, headers={"Idempotency-Key": "run-1"})
    retry = http.post(url, json={"input": WEATHER}, headers={"Idempotency-Key": "run-1"})
    assert first.status_code == retry.status_code == 202
    assert retry.json()["run_id"] == first.json()["run_id"]
    wait_run(http, session, first.json()["run_id"])
    headers = {"Idempotency-Key": "run-1", "Accept": "text/event-stream"}
    streamed = http.post(url, json={"input": WEATHER}, headers=headers)
    assert streamed.headers["X-Podium-Run"] == first.json()["run_id"]
    kinds = [event["type"] for _, event in sse(streamed.text)]
    assert kinds[0] == "start" and kinds[-1] == "finish"  # the first run, from its start
    runs = http.get(url).json()["items"]
    assert [r["run_id"] for r in runs] == [first.json()["run_id"]]


def test_a_key_reused_for_another_request_is_refused(http):
    session = http.post("/sessions", json={"agent": "weather"}).json()["session_id"]
    url = f"/sessions/{session}/runs"
    http.post(url, json={"input": WEATHER}, headers={"Idempotency-Key": "run-2"})
    other = http.post(url, json={"input": "something else"}, headers={"Idempotency-Key": "run-2"})
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"


def test_a_key_whose_first_request_is_at_work_answers_409(http, live):
    from podium.api.idempotency import fingerprint_of
    from podium.api.schemas import CreateSession

    body = CreateSession(agent="weather")
    at_work = fingerprint_of("POST", "/sessions", body.model_dump_json())
    live.podium.store.claim_idempotency_key("api:acme", "busy-1", fingerprint=at_work)
    answer = http.post("/sessions", json=body.model_dump(), headers={"Idempotency-Key": "busy-1"})
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "idempotency_in_progress"
    assert int(answer.headers["Retry-After"]) >= 1


def test_a_failed_first_request_lets_the_retry_run(http):
    bad = http.post("/sessions", json={"agent": "no-such-agent"},
                    headers={"Idempotency-Key": "create-2"})  # fmt: skip
    assert bad.status_code == 404
    again = http.post("/sessions", json={"agent": "no-such-agent"},
                      headers={"Idempotency-Key": "create-2"})  # fmt: skip
    assert again.status_code == 404  # tried again, not a replay of a failure
    assert "Idempotent-Replayed" not in again.headers


def test_a_malformed_key_is_a_clear_400(http):
    too_long = "k" * 256
    answer = http.post(
        "/sessions", json={"agent": "weather"}, headers={"Idempotency-Key": too_long}
    )
    assert answer.status_code == 400
    assert "Idempotency-Key" in answer.json()["error"]["message"]
