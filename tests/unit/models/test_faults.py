"""Each fault of the fake server, with the expected retry / fallback / error outcome, on both
call paths. Retries are Podium's own (litellm runs with `num_retries=0`, `max_retries=0`)."""

from __future__ import annotations

import pytest

from podium.errors import ModelError
from podium.models import ModelRequest, RetryPolicy, call_model, call_with_fallbacks
from podium.testing import Fault, Reply

USER = [{"role": "user", "content": "Hello"}]


def request(server, path, **kwargs):
    return ModelRequest(
        model="openai/primary-model", messages=USER, api_base=server.base_url, path=path, **kwargs
    )


def test_429_retry_after_is_honoured(fake_openai, path, run, events):
    """The client asks to wait the provider's Retry-After (not its own shorter backoff), and
    the server's own clock sees the retry arrive no sooner."""
    fake_openai.script(Fault.rate_limit(retry_after=0.3), Reply("ok"))
    policy = RetryPolicy(base_delay_s=0.01, jitter=0.0)

    result = run(call_model(request(fake_openai, path), retry=policy, on_event=events.append))

    [notice] = [e for e in events.of("notice") if e.kind == "retry"]
    assert notice.detail["wait_s"] == 0.3
    first, second = fake_openai.chat_requests
    assert second.monotonic - first.monotonic >= notice.detail["wait_s"]
    assert result.text == "ok"
    assert [(a.outcome, a.error, a.status, a.retry_after_s) for a in result.attempts] == [
        ("retry", "rate_limit", 429, 0.3),
        ("ok", None, None, None),
    ]


def test_a_retry_after_over_the_cap_moves_on_at_once(fake_openai, make_agent, path, run, events):
    """A Retry-After past the cap is not waited for: no retry is asked, the fallback is."""
    agent = make_agent(fallbacks=["backup"])
    fake_openai.script(Fault.rate_limit(retry_after=120), Reply("from backup"))

    result = run(call_with_fallbacks(agent, "primary", USER, path=path, on_event=events.append))

    assert [e.kind for e in events.of("notice")] == ["fallback"]
    assert [r.model for r in fake_openai.chat_requests] == ["primary-model", "backup-model"]
    assert result.text == "from backup"
    assert result.model == "openai/backup-model"
    assert [(a.model, a.outcome) for a in result.attempts] == [
        ("openai/primary-model", "fallback"),
        ("openai/backup-model", "ok"),
    ]


def test_500_is_retried_then_succeeds(fake_openai, path, fast_retry, run, events):
    fake_openai.script(Fault.server_error(500), Reply("recovered"))

    result = run(call_model(request(fake_openai, path), retry=fast_retry, on_event=events.append))

    assert result.text == "recovered"
    assert [(a.outcome, a.error, a.status) for a in result.attempts] == [
        ("retry", "server_error", 500),
        ("ok", None, None),
    ]
    assert [n.kind for n in events.of("notice")] == ["retry"]


def test_persistent_500_falls_back_to_the_next_model(
    fake_openai, make_agent, path, *, fast_retry, run, events
):
    agent = make_agent(fallbacks=["backup"])
    fake_openai.script(*[Fault.server_error(500)] * 3, Reply("backup answer"))

    result = run(
        call_with_fallbacks(
            agent, "primary", USER, path=path, retry=fast_retry, on_event=events.append
        )
    )

    assert result.text == "backup answer"
    assert [r.model for r in fake_openai.chat_requests] == ["primary-model"] * 3 + ["backup-model"]
    assert [a.outcome for a in result.attempts] == ["retry", "retry", "fallback", "ok"]
    assert [n.kind for n in events.of("notice")] == ["retry", "retry", "fallback"]


def test_every_model_failing_raises_a_retryable_error(
    fake_openai, make_agent, path, fast_retry, run
):
    agent = make_agent(fallbacks=["backup"])
    fake_openai.script(*[Fault.server_error(503)] * 6)

    with pytest.raises(ModelError) as caught:
        run(call_with_fallbacks(agent, "primary", USER, path=path, retry=fast_retry))

    assert caught.value.retryable
    assert caught.value.details["error"] == "server_error"
    assert caught.value.details["streamed"] is False
    assert len(caught.value.details["attempts"]) == 6


def test_a_hang_times_out_and_is_retried(fake_openai, path, fast_retry, run):
    fake_openai.script(Fault.hang(), Reply("after the hang"))

    result = run(call_model(request(fake_openai, path, timeout_s=0.3), retry=fast_retry))

    assert result.text == "after the hang"
    assert [(a.outcome, a.error) for a in result.attempts] == [("retry", "timeout"), ("ok", None)]
    assert result.attempts[0].duration_ms >= 300  # the attempt was given its whole timeout
    hung, retried = fake_openai.chat_requests
    assert retried.monotonic - hung.monotonic >= 0.3


@pytest.mark.parametrize(
    "fault",
    [Fault.malformed_chunk(after=1), Fault.drop(after=1)],
    ids=["malformed", "drop"],
)
def test_a_broken_stream_before_any_output_is_retried(fake_openai, path, fast_retry, run, fault):
    # after=1: only the role chunk was sent, which carries no output
    fake_openai.script(fault, Reply("clean"))

    result = run(call_model(request(fake_openai, path), retry=fast_retry))

    assert result.text == "clean"
    assert result.attempts[0].outcome == "retry"
    assert result.attempts[0].error in ("bad_response", "connection")


@pytest.mark.parametrize(
    "fault",
    [Fault.malformed_chunk(after=4), Fault.drop(after=4), Fault.drop(after=4, reset=True)],
    ids=["malformed", "drop", "reset"],
)
def test_a_failure_after_the_first_delta_ends_the_step_with_a_retryable_error(
    fake_openai, make_agent, path, *, fast_retry, run, events, fault
):
    agent = make_agent(fallbacks=["backup"])
    fake_openai.script(fault, Reply("a second, different answer"))

    with pytest.raises(ModelError) as caught:
        run(
            call_with_fallbacks(
                agent, "primary", USER, path=path, retry=fast_retry, on_event=events.append
            )
        )

    assert caught.value.retryable
    assert caught.value.details["streamed"] is True
    assert len(fake_openai.chat_requests) == 1  # neither retried nor fallen back
    assert fake_openai.pending_steps == 1
    streamed = "".join(e.delta for e in events.of("text-delta"))
    assert streamed == "This answer is "  # role chunk + three words, then the fault
    assert events.types[-2:] == ["notice", "finish"]
    assert events.of("finish")[0].reason == "error"


def test_a_malformed_non_streaming_body_is_retried(fake_openai, path, fast_retry, run):
    fake_openai.script(Fault.bad_json_body(), Reply("fine"))

    result = run(call_model(request(fake_openai, path), retry=fast_retry, stream=False))

    assert result.text == "fine"
    assert result.attempts[0].error in ("bad_response", "connection")


def test_a_dropped_non_streaming_request_is_retried(fake_openai, path, fast_retry, run):
    fake_openai.script(Fault.drop(), Reply("fine"))

    result = run(call_model(request(fake_openai, path), retry=fast_retry, stream=False))

    assert result.text == "fine"
    assert result.attempts[0].error == "connection"


def test_a_client_error_is_neither_retried_nor_fallen_back(
    fake_openai, make_agent, path, fast_retry, run
):
    agent = make_agent(fallbacks=["backup"])
    fake_openai.script(Fault.error(400, "bad tool schema"), Reply("unused"))

    with pytest.raises(ModelError) as caught:
        run(call_with_fallbacks(agent, "primary", USER, path=path, retry=fast_retry))

    assert not caught.value.retryable
    assert caught.value.details["error"] == "bad_request"
    assert "bad tool schema" in caught.value.message
    assert len(fake_openai.chat_requests) == 1


def test_retries_are_bounded(fake_openai, path, fast_retry, run):
    fake_openai.script(*[Fault.rate_limit(retry_after=0.01)] * 5)

    with pytest.raises(ModelError) as caught:
        run(call_model(request(fake_openai, path), retry=fast_retry))

    assert caught.value.details["error"] == "rate_limit"
    assert len(fake_openai.chat_requests) == fast_retry.max_attempts
