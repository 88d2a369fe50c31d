"""Running python and http tools, and shaping their outputs."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from podium.engine.tools import (
    HttpToolError,
    call_http,
    cap_text,
    load_python_function,
    to_jsonable,
)
from podium.errors import ToolError
from podium.protocol.agent import HttpImpl


def test_two_agents_tools_modules_never_collide(tmp_path):
    for name, value in (("a", 1), ("b", 2)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "tools.py").write_text(f"def f():\n    return {value}\n")
    assert load_python_function("tools:f", tmp_path / "a")() == 1
    assert load_python_function("tools:f", tmp_path / "b")() == 2


def test_missing_function_is_a_tool_error(tmp_path):
    (tmp_path / "tools.py").write_text("x = 1\n")
    with pytest.raises(ToolError, match="no callable 'nope'"):
        load_python_function("tools:nope", tmp_path)
    with pytest.raises(ToolError, match="cannot be imported"):
        load_python_function("no_such_module_anywhere:f", tmp_path)


def test_cap_text_keeps_head_and_tail_within_the_limit():
    text = "a" * 5000 + "b" * 5000
    capped = cap_text(text, 1000)
    assert len(capped.encode()) <= 1000
    assert capped.startswith("aaa") and capped.endswith("bbb")
    assert "9" in capped and "omitted" in capped
    assert cap_text("short", 1000) == "short"


def test_to_jsonable_handles_models_and_dataclasses():
    from dataclasses import dataclass

    from pydantic import BaseModel

    class M(BaseModel):
        x: int

    @dataclass
    class D:
        y: str

    assert to_jsonable(M(x=1)) == {"x": 1}
    assert to_jsonable(D(y="z")) == {"y": "z"}
    assert to_jsonable({"s": {1, 2}}) == {"s": str({1, 2})}


class _Echo(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if self.path.startswith("/fail"):
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b"busy")
            return
        payload = json.dumps(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer  # noqa: N815

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def echo_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_http_tool_fills_the_url_sends_the_body_and_the_secret(echo_server, monkeypatch):
    monkeypatch.setenv("ORDERS_TOKEN", "s3cr3t")
    impl = HttpImpl.model_validate(
        {
            "url": echo_server + "/orders/{order_id}",
            "method": "POST",
            "auth": {"secret": "ORDERS_TOKEN"},
        }
    )
    answer = call_http(impl, {"order_id": "A/1", "note": "hi"}, timeout_s=5)
    assert answer["path"] == "/orders/A%2F1"
    assert json.loads(answer["body"]) == {"note": "hi"}
    assert answer["auth"] == "Bearer s3cr3t"


def test_http_tool_get_uses_the_query_and_errors_raise(echo_server, monkeypatch):
    impl = HttpImpl.model_validate({"url": echo_server + "/search", "method": "GET"})
    assert call_http(impl, {"q": "tea"}, timeout_s=5)["path"] == "/search?q=tea"
    failing = HttpImpl.model_validate({"url": echo_server + "/fail", "method": "GET"})
    with pytest.raises(HttpToolError, match="answered 503"):
        call_http(failing, {}, timeout_s=5)
    secret = HttpImpl.model_validate({"url": echo_server + "/x", "auth": {"secret": "UNSET_X"}})
    monkeypatch.delenv("UNSET_X", raising=False)
    with pytest.raises(ToolError, match="is not set"):
        call_http(secret, {}, timeout_s=5)
