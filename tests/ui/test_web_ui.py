"""The web UI in headless Chromium against a live API: sign in, chat with streaming and tool
cards, approve a pending call, read the trace's waterfall, find the session again.

Screenshots go to `test-artifacts/ui/`.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

import httpx
from playwright.sync_api import expect

from support.api_helpers import REFUND, WEATHER

GROWTH = """() => {
  window.__textLengths = [];
  const log = document.querySelector('#pg-log');
  new MutationObserver(() => {
    const text = log.querySelector('.turn.assistant .text');
    if (text) window.__textLengths.push(text.textContent.length);
  }).observe(log, {subtree: true, childList: true, characterData: true});
}"""


def sign_in(page, live_ui, key: str) -> None:
    page.goto(f"{live_ui.url}/ui")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Sections")).to_be_visible()


def send(page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()


def test_the_shell_is_public_and_the_data_is_not(live_ui):
    with httpx.Client(base_url=live_ui.url) as http:
        redirect = http.get("/ui")
        assert redirect.status_code == 307 and redirect.headers["location"] == "ui/"
        index = http.get("/ui/")
        assert index.status_code == 200 and "text/html" in index.headers["content-type"]
        assert "script-src 'self'" in index.headers["content-security-policy"]
        assert "http" not in re.sub(r'xmlns="[^"]+"', "", index.text)  # nothing from elsewhere
        script = http.get("/ui/app.js")
        assert script.headers["content-type"].startswith("text/javascript")
        assert http.get("/ui/..%2fui.py").status_code == 404
        assert http.get("/ui/missing.js").status_code == 404
        assert http.get("/agents").status_code == 401


def test_weather_chat_streams_text_and_tool_cards_then_the_trace(page, live_ui, ui_key, artifacts):
    page.goto(f"{live_ui.url}/ui")
    page.get_by_label("API key").fill("pk_not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-error")).to_contain_text("not accepted")
    sign_in(page, live_ui, ui_key)

    page.locator("#view-playground").get_by_label("Agent", exact=True).select_option("weather")
    expect(page.locator("#pg-tools")).to_contain_text("get_time")
    page.evaluate(GROWTH)
    send(page, WEATHER)

    reply = page.locator(".turn.assistant").first
    weather = reply.locator('.tool-card[data-tool="get_weather"]')
    clock = reply.locator('.tool-card[data-tool="get_time"]')
    expect(weather.locator(".tool-args")).to_have_text('{"city":"Paris"}')
    expect(weather.locator(".tool-result")).to_contain_text("temperature_c")
    expect(clock.locator(".tool-result")).to_contain_text("Europe/Paris")
    expect(reply.locator(".text")).to_contain_text("Here is what I found")
    expect(reply.locator(".badge").last).to_have_text("succeeded")
    expect(reply.locator(".usage")).to_contain_text("2 model call(s)")
    assert page.locator("#pg-cancel").is_hidden()
    lengths = page.evaluate("window.__textLengths")
    assert len(set(lengths)) > 5, f"the text did not stream: {lengths}"  # it grew in steps
    page.screenshot(path=str(artifacts / "playground-weather.png"))

    session_id = page.locator("#pg-session").inner_text()
    send(page, "And in Tokyo?")  # a follow-up in the same session
    expect(page.locator(".turn.assistant")).to_have_count(2)
    expect(page.locator(".turn.assistant").last.locator(".badge").last).to_have_text("succeeded")
    assert page.locator("#pg-session").inner_text() == session_id

    reply.get_by_role("link", name="Trace").click()
    waterfall = page.locator("#tr-waterfall")
    expect(waterfall.locator(".wf-row")).not_to_have_count(0)
    kinds = waterfall.locator(".wf-row").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    assert kinds[0] == "run"
    assert {"run", "step", "model", "tool", "attempt"} <= set(kinds)
    assert kinds.count("tool") == 2 and kinds.count("model") == 2 and kinds.count("step") == 2
    names = waterfall.locator(".wf-row .wf-title").all_inner_texts()
    assert {"get_weather", "get_time", "step 1", "step 2"} <= set(names)
    expect(page.locator("#tr-totals")).to_contain_text("Tokens in / out")
    expect(page.locator("#tr-totals")).to_contain_text("succeeded")

    run_box = waterfall.locator('.wf-row[data-kind="run"] .wf-bar').bounding_box()
    step2_box = waterfall.locator('.wf-row[data-kind="step"] .wf-bar').nth(1).bounding_box()
    assert step2_box["x"] > run_box["x"] + 5 and step2_box["width"] < run_box["width"]

    waterfall.locator('.wf-row[data-kind="model"]').first.click()
    detail = page.locator("#tr-detail")
    expect(detail).to_be_visible()
    for attribute in ("input_tokens", "output_tokens", "cost_usd", "routing_reason"):
        expect(detail).to_contain_text(attribute)
    page.screenshot(path=str(artifacts / "trace-weather.png"))
    page.keyboard.press("ArrowDown")  # the rows are keyboard-navigable
    page.keyboard.press("Enter")
    expect(detail.locator("h2")).to_contain_text("attempt")


def test_key_in_fragment_then_approve_a_refund_and_find_the_session(
    page, live_ui, ui_key, artifacts
):
    with httpx.Client(base_url=live_ui.url, headers=live_ui.headers(ui_key)) as http:
        weather = http.post("/sessions", json={"agent": "weather"})  # found again below
        assert weather.status_code == 201
    page.goto(f"{live_ui.url}/ui#key={ui_key}")
    expect(page.get_by_role("navigation", name="Sections")).to_be_visible()
    assert ui_key not in page.url and urlparse(page.url).path == "/ui/"

    page.locator("#view-playground").get_by_label("Agent", exact=True).select_option("support")
    company = page.get_by_label("company")
    expect(company).to_have_attribute("required", "")
    company.fill("Acme")
    send(page, REFUND)

    refund = page.locator('.tool-card[data-tool="issue_refund"]')
    expect(refund.locator(".badge")).to_have_text("needs approval")
    expect(page.locator('.tool-card[data-tool="lookup_order"] .badge')).to_have_text(
        re.compile("running|done")
    )
    page.screenshot(path=str(artifacts / "playground-approval.png"))
    refund.get_by_role("button", name="Approve").click()
    expect(refund.locator(".tool-result")).to_contain_text("refunded_usd")
    expect(refund.get_by_role("button", name="Approve")).to_have_count(0)
    reply = page.locator(".turn.assistant").last
    expect(reply.locator(".badge").last).to_have_text("succeeded")
    expect(reply.locator(".text")).to_contain_text("refunded usd 19.99")
    session_id = page.locator("#pg-session").inner_text()

    reply.get_by_role("link", name="Trace").click()
    expect(page.locator("#tr-title")).to_contain_text("Trace of run")
    expect(page.locator("#tr-waterfall .wf-row")).not_to_have_count(0)
    kinds = set(page.locator("#tr-waterfall .wf-row").evaluate_all(
        "rows => rows.map(r => r.dataset.kind)"))  # fmt: skip
    assert {"run", "step", "model", "tool"} <= kinds
    page.locator('#tr-waterfall .wf-row[data-kind="model"]').nth(1).click()
    expect(page.locator("#tr-detail")).to_contain_text("after_tool_results")  # routed to smart
    page.screenshot(path=str(artifacts / "trace-refund.png"))

    page.get_by_role("link", name="Sessions").click()
    page.locator("#ss-filter").get_by_label("Agent").select_option("support")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#ss-table tbody tr")
    expect(rows).to_have_count(1)
    assert rows.first.get_attribute("data-session") == session_id
    page.locator("#ss-filter").get_by_label("Agent").select_option("weather")
    page.get_by_role("button", name="Search").click()
    expect(rows.first).to_have_attribute("data-agent", "weather")
    page.get_by_label("Updated from").fill("2001-01-01")
    page.get_by_label("Updated to").fill("2001-01-02")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#ss-empty")).to_be_visible()
    page.get_by_role("button", name="Clear").click()
    page.locator("#ss-filter").get_by_label("Agent").select_option("support")
    page.get_by_role("button", name="Search").click()
    rows.first.click()
    detail = page.locator("#ss-detail")
    expect(detail.locator(".runs tbody tr")).to_have_count(1)
    expect(detail.locator(".messages")).to_contain_text(REFUND)
    page.screenshot(path=str(artifacts / "sessions.png"))

    detail.get_by_role("link", name="Continue in playground").click()
    expect(page.locator("#pg-session")).to_have_text(session_id)
    expect(page.locator('.tool-card[data-tool="issue_refund"] .tool-result')).to_contain_text(
        "refunded_usd"
    )  # replayed from the event log
    expect(page.get_by_label("company")).to_have_value("Acme")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('podium.key')") is None


def test_a_rejected_key_returns_to_sign_in_and_a_narrow_window_fits(
    page, live_ui, ui_key, artifacts
):
    page.goto(f"{live_ui.url}/ui#key=pk_revoked")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#signin-error")).to_contain_text("not accepted")
    assert "pk_revoked" not in page.url

    page.set_viewport_size({"width": 400, "height": 800})
    sign_in(page, live_ui, ui_key)
    page.locator("#view-playground").get_by_label("Agent", exact=True).select_option("weather")
    send(page, WEATHER)
    expect(page.locator(".turn.assistant .badge").last).to_have_text("succeeded")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    page.locator(".turn.assistant .usage").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "playground-narrow.png"))
    page.locator(".turn.assistant").get_by_role("link", name="Trace").click()
    page.locator('#tr-waterfall .wf-row[data-kind="tool"]').first.click()
    expect(page.locator("#tr-detail")).to_contain_text("call_id")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.screenshot(path=str(artifacts / "trace-narrow.png"), full_page=True)

    page.evaluate("sessionStorage.setItem('podium.key', 'pk_revoked')")  # the key stops working
    page.get_by_role("link", name="Sessions").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#signin-error")).to_contain_text("401")


def test_deny_a_refund_then_answer_a_client_tool(page, live_ui, ui_key):
    sign_in(page, live_ui, ui_key)
    page.locator("#view-playground").get_by_label("Agent", exact=True).select_option("support")
    expect(page.locator("#pg-tools")).to_contain_text("get_customer_screen")
    page.get_by_label("company").fill("Acme")
    send(page, "Please refund 5 on order CD-5678")
    refund = page.locator('.tool-card[data-tool="issue_refund"]')
    refund.get_by_role("button", name="Deny").click()
    expect(refund.locator(".badge")).to_have_text("denied")
    expect(page.locator(".turn.assistant").last.locator(".badge").last).to_have_text("succeeded")

    send(page, "What is on my screen right now?")  # the same session: a follow-up
    screen = page.locator('.tool-card[data-tool="get_customer_screen"]')
    expect(screen.locator(".badge")).to_have_text("waiting for you")
    screen.get_by_label("Result of get_customer_screen").fill('{"page": "cart", "items": 2}')
    screen.get_by_role("button", name="Send result").click()
    expect(screen.locator(".tool-result")).to_contain_text('"page":"cart"')
    reply = page.locator(".turn.assistant").last
    expect(reply.locator(".badge").last).to_have_text("succeeded")
    expect(reply.locator(".text")).to_contain_text("cart")


def test_cancel_a_run_while_it_streams(page, live_ui, ui_key, monkeypatch):
    monkeypatch.setenv("PODIUM_DEMO_TOKEN_DELAY_MS", "150")  # read on each model call
    sign_in(page, live_ui, ui_key)
    page.locator("#view-playground").get_by_label("Agent", exact=True).select_option("weather")
    send(page, "Tell me a long story about lighthouses")
    reply = page.locator(".turn.assistant").last
    expect(reply.locator(".text")).not_to_be_empty()
    page.get_by_role("button", name="Cancel").click()
    expect(reply.locator(".badge").last).to_have_text("cancelled")
    expect(reply.locator(".notice")).to_contain_text("Cancelled")
    expect(page.get_by_role("button", name="Cancel")).to_be_hidden()
    expect(page.get_by_role("button", name="Send")).to_be_enabled()


def test_a_dropped_stream_resumes_with_last_event_id(page, live_ui, ui_key):
    """The first events response is cut after 25 events: the page reconnects with
    Last-Event-ID and shows every part exactly once."""
    seen: list[str | None] = []

    def cut_first(route):
        seen.append(route.request.headers.get("last-event-id"))
        if len(seen) > 1:
            route.continue_()
            return
        whole = route.fetch().text()
        blocks = [b for b in whole.split("\n\n") if b.strip()][:25]
        route.fulfill(status=200, headers={"content-type": "text/event-stream"},
                      body="\n\n".join(blocks) + "\n\n")  # fmt: skip

    page.route(re.compile(r".*/runs/[^/]+/events$"), cut_first)
    sign_in(page, live_ui, ui_key)
    page.locator("#view-playground").get_by_label("Agent", exact=True).select_option("weather")
    send(page, WEATHER)
    reply = page.locator(".turn.assistant").last
    expect(reply.locator(".badge").last).to_have_text("succeeded")
    assert len(seen) >= 2 and seen[0] is None and seen[1], seen  # resumed after an id
    expect(reply.locator(".tool-card")).to_have_count(2)
    expect(reply.locator(".text")).to_have_count(1)
    text = reply.locator(".text").inner_text()
    assert text.startswith("Here is what I found.") and text.count("get_weather:") == 1
    assert text.endswith(".")
