"""A browser's own EventSource (headless Chromium) follows a run to its end with a token."""

from __future__ import annotations

from support.api_helpers import WEATHER
from support.browser import chromium

WATCH = """async ([url]) => new Promise((resolve, reject) => {
  const types = [];
  const source = new EventSource(url);
  const timer = setTimeout(() => { source.close(); reject(new Error("timeout " + types)); }, 20000);
  source.onmessage = (event) => {
    if (event.data === "[DONE]") return;
    const part = JSON.parse(event.data);
    types.push(part.type);
    if (part.type === "finish") { clearTimeout(timer); source.close();
      resolve({types, lastEventId: event.lastEventId}); }
  };
  source.onerror = () => {};
})"""


def test_eventsource_in_chromium_sees_the_run_complete(live, http, tmp_path):
    session = http.post("/sessions", json={"agent": "weather"}).json()["session_id"]
    run_id = http.post(f"/sessions/{session}/runs", json={"input": WEATHER}).json()["run_id"]
    token = http.post(f"/sessions/{session}/events-token").json()["token"]
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{live.url}/health")
        seen = page.evaluate(WATCH, [f"/sessions/{session}/runs/{run_id}/events?token={token}"])
        page.screenshot(path=str(tmp_path / "eventsource.png"))
    assert seen["types"][0] == "start" and seen["types"][-1] == "finish"
    assert "tool-output-available" in seen["types"]
    assert seen["lastEventId"].startswith(run_id)
