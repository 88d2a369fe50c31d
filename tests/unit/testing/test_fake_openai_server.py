"""The fake server's own behaviour over raw HTTP: routes, recording, scripting, latency,
keep-alive, shutdown, the benchmark workload."""

from __future__ import annotations

import http.client
import json
import threading
import time

import httpx
import pytest

from podium.testing import FakeOpenAI, Fault, Reply, ToolCall, weather_bench

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}


def post(server: FakeOpenAI, body: dict, **kwargs) -> httpx.Response:
    return httpx.post(server.base_url + "/chat/completions", json=body, **kwargs)


def sse_events(response: httpx.Response) -> list[str]:
    return [
        line[len("data: ") :] for line in response.text.splitlines() if line.startswith("data:")
    ]


def test_url_and_base_url(fake_openai):
    assert fake_openai.url.startswith("http://127.0.0.1:")
    assert fake_openai.base_url == fake_openai.url + "/v1"


def test_requests_are_recorded_with_masked_secrets(fake_openai):
    before = time.time()
    post(
        fake_openai, {**CHAT, "tools": []}, headers={"authorization": "Bearer sk-live-abcdefgh1234"}
    )
    httpx.get(fake_openai.base_url + "/models?limit=1")

    chat, models = fake_openai.requests
    assert (chat.method, chat.path, chat.query) == ("POST", "/v1/chat/completions", "")
    assert chat.body == {**CHAT, "tools": []}
    assert chat.model == "m"
    assert chat.headers["authorization"] == "Bearer sk-…1234"
    assert before <= chat.timestamp <= time.time()
    assert isinstance(chat.step, Reply)
    assert (models.method, models.path, models.query, models.body) == (
        "GET",
        "/v1/models",
        "limit=1",
        None,
    )
    assert fake_openai.chat_requests == [chat]


def test_script_is_a_fifo_then_the_responder_answers(fake_openai):
    fake_openai.script(Reply("first"), Reply("second"))
    fake_openai.responder = lambda request: Reply(f"fallback for {request['model']}")

    texts = [post(fake_openai, CHAT).json()["choices"][0]["message"]["content"] for _ in range(3)]

    assert texts == ["first", "second", "fallback for m"]
    assert fake_openai.pending_steps == 0


def test_a_responder_that_raises_is_a_500_and_is_kept(fake_openai):
    def broken(request):
        raise ValueError("oops")

    fake_openai.responder = broken
    response = post(fake_openai, CHAT)

    assert response.status_code == 500
    assert "ValueError: oops" in response.json()["error"]["message"]
    assert [type(e) for e in fake_openai.errors] == [ValueError]


def test_reset_forgets_everything(fake_openai):
    fake_openai.script(Reply("left over"))
    fake_openai.responder = lambda request: Reply("custom")
    post(fake_openai, CHAT)
    fake_openai.ttft_ms = 1000

    fake_openai.reset()

    assert (fake_openai.requests, fake_openai.pending_steps, fake_openai.ttft_ms) == ([], 0, 0.0)
    assert post(fake_openai, CHAT).json()["choices"][0]["message"]["content"] == "hello"


def test_script_rejects_what_is_not_a_step(fake_openai):
    with pytest.raises(TypeError):
        fake_openai.script("hello")


def test_errors_for_unknown_routes_and_bad_bodies(fake_openai):
    missing = httpx.get(fake_openai.url + "/v1/nothing")
    assert missing.status_code == 404
    assert "error" in missing.json()
    bad = httpx.post(fake_openai.base_url + "/chat/completions", content=b"{not json")
    assert bad.status_code == 400
    assert fake_openai.requests[-1].raw_body == b"{not json"


def test_chunked_request_bodies_are_read(fake_openai):
    body = json.dumps(CHAT).encode()
    response = httpx.post(
        fake_openai.base_url + "/chat/completions", content=iter([body[:10], body[10:]])
    )
    assert response.json()["choices"][0]["message"]["content"] == "hello"


def test_stream_wire_format_ends_with_done(fake_openai):
    fake_openai.script(Reply("a b", chunks=2))

    response = post(
        fake_openai, {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    )

    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response)
    assert events[-1] == "[DONE]"
    parsed = [json.loads(e) for e in events[:-1]]
    assert parsed[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert parsed[-2]["choices"][0]["finish_reason"] == "stop"
    assert parsed[-1]["choices"] == [] and parsed[-1]["usage"]["total_tokens"] > 0
    assert all(p["usage"] is None for p in parsed[:-1])


def test_connections_are_kept_alive_across_plain_and_streamed_responses(fake_openai):
    conn = http.client.HTTPConnection("127.0.0.1", int(fake_openai.url.rsplit(":", 1)[1]))
    try:
        bodies = [CHAT, {**CHAT, "stream": True}, CHAT]
        sockets = []
        for body in bodies:
            conn.request(
                "POST",
                "/v1/chat/completions",
                json.dumps(body),
                {"content-type": "application/json"},
            )
            response = conn.getresponse()
            assert response.status == 200
            response.read()
            sockets.append(conn.sock)
        assert sockets[0] is not None and sockets[0] is sockets[1] is sockets[2]
    finally:
        conn.close()


def test_latency_ttft_and_chunk_delays(fake_openai):
    """The first content chunk waits ttft_ms, each further one chunk_ms: the server says what
    it was asked to wait and what its own clock measured; the chunks arrive in order."""
    fake_openai.script(Reply("one two three four", ttft_ms=80, chunk_ms=20))
    words = []
    with httpx.stream(
        "POST", fake_openai.base_url + "/chat/completions", json={**CHAT, "stream": True}
    ) as response:
        for line in response.iter_lines():
            if '"content":"' in line and '"content":""' not in line:
                words.append(json.loads(line[6:])["choices"][0]["delta"]["content"].strip())

    assert words == ["one", "two", "three", "four"]
    [request] = fake_openai.chat_requests
    assert [p.requested_s for p in request.pauses] == pytest.approx([0.08, 0.02, 0.02, 0.02])
    assert all(p.slept_s >= p.requested_s for p in request.pauses)


def test_non_streaming_waits_for_the_whole_generation(fake_openai):
    fake_openai.ttft_ms, fake_openai.chunk_ms = 50, 10
    post(fake_openai, {**CHAT, "messages": [{"role": "user", "content": "a b c d e f"}]})
    [request] = fake_openai.chat_requests
    [pause] = request.pauses  # the whole stream's time, before the one response
    assert pause.requested_s == pytest.approx(0.05 + 5 * 0.01)
    assert pause.slept_s >= pause.requested_s


def test_stop_does_not_wedge_on_a_hung_request():
    server = FakeOpenAI().start()
    server.script(Fault.hang())
    failures = []

    def hang():
        try:
            post(server, CHAT, timeout=30)
        except httpx.HTTPError as exc:
            failures.append(exc)

    thread = threading.Thread(target=hang)
    thread.start()
    while not server.requests:
        time.sleep(0.005)
    server.stop()  # returns: a hung request does not hold it
    thread.join(30)

    assert not thread.is_alive()
    assert len(failures) == 1


def test_reset_releases_a_hung_request(fake_openai):
    fake_openai.script(Fault.hang())
    failures = []

    def hang():
        try:
            post(fake_openai, CHAT, timeout=30)
        except httpx.HTTPError as exc:
            failures.append(exc)

    thread = threading.Thread(target=hang)
    thread.start()
    while not fake_openai.requests:
        time.sleep(0.005)
    fake_openai.reset()
    thread.join(5)

    assert not thread.is_alive()
    assert len(failures) == 1


def test_malformed_and_dropped_non_streaming_requests(fake_openai):
    fake_openai.script(Fault.malformed_chunk(), Fault.bad_json_body())
    for _ in range(2):
        response = post(fake_openai, CHAT)
        assert response.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            response.json()


def test_weather_bench_workload_turn(fake_openai):
    fake_openai.responder = weather_bench
    messages = [{"role": "user", "content": "What's the weather like in Tokyo right now?"}]

    first = post(fake_openai, {"model": "m", "messages": messages}).json()
    message = first["choices"][0]["message"]
    calls = message["tool_calls"]
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == [
        ("get_weather", {"city": "Tokyo"}),
        ("get_time", {"timezone": "Asia/Tokyo"}),
    ]
    messages += [
        message,
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "22 °C, clear"},
        {"role": "tool", "tool_call_id": calls[1]["id"], "content": "14:05"},
    ]

    answer = post(fake_openai, {"model": "m", "messages": messages, "stream": True})
    deltas = [json.loads(e)["choices"][0]["delta"].get("content") for e in sse_events(answer)[:-1]]
    text_chunks = [d for d in deltas if d]
    assert len(text_chunks) == 20
    assert "22 °C, clear" in "".join(text_chunks) and "14:05" in "".join(text_chunks)


def test_tool_call_arguments_may_be_raw_strings(fake_openai):
    fake_openai.script(Reply(tool_calls=[ToolCall("f", '{"broken": ')]))
    call = post(fake_openai, CHAT).json()["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["arguments"] == '{"broken": '
