"""One model call with Podium's retries: `call_model`.

An attempt goes through the lean path (the demo model, and `openai/` models litellm would
send unchanged) or through litellm; both feed the same accumulator and raise the same
`ProviderError`, so events, usage, cost and errors do not depend on the path.

A transient failure (429, 5xx, timeout, connection, malformed response) is retried with
exponential backoff, waiting at least the provider's `Retry-After` — but only while nothing
has been emitted. After the first output event a failure ends the call at once with a
retryable `ModelError` (`details["streamed"] is True`): retrying would show the user a
second, different answer.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass

from podium import settings
from podium.models import _lean
from podium.models._errors import ProviderError
from podium.models._litellm import run_litellm
from podium.models._stream import Accumulator, EventSink
from podium.models.cost import is_demo_model
from podium.models.keys import install_log_redaction, redact, resolve_api_key
from podium.models.tokens import estimate_text_tokens, estimate_tokens
from podium.models.types import Attempt, AttemptOutcome, Finish, ModelRequest, ModelResult, Notice

__all__ = ["RetryPolicy", "call_model", "choose_path"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of one model. Delays: `base_delay_s × multiplier^n` (± `jitter`), capped at
    `max_delay_s`, and never shorter than the provider's `Retry-After`. A `Retry-After`
    longer than `max_retry_after_s` is not waited for: the call moves on (to a fallback).
    `time_scale` multiplies every wait (tests use a small one)."""

    max_attempts: int = 3
    base_delay_s: float = 0.5
    multiplier: float = 2.0
    max_delay_s: float = 8.0
    max_retry_after_s: float = 30.0
    jitter: float = 0.2
    time_scale: float = 1.0

    def delay(self, retry: int, retry_after_s: float | None) -> float | None:
        """Seconds before retry number `retry` (0-based); None: do not wait that long."""
        if retry_after_s is not None and retry_after_s > self.max_retry_after_s:
            return None
        backoff = min(self.base_delay_s * self.multiplier**retry, self.max_delay_s)
        backoff *= 1.0 + random.uniform(-self.jitter, self.jitter)  # noqa: S311 - not crypto
        return max(backoff, retry_after_s or 0.0) * self.time_scale


def choose_path(request: ModelRequest) -> str:
    """`lean` or `litellm` for this request (explicit, then `PODIUM_MODEL_CALL_PATH`, then
    auto: lean when eligible)."""
    wanted = request.path
    if wanted == "auto":
        wanted = settings.resolve(None, settings.ENV_MODEL_CALL_PATH, "auto")  # type: ignore[assignment]
    if wanted == "litellm":
        return "litellm"
    if wanted == "lean" and _lean.lean_eligible(request):
        return "lean"
    return "lean" if wanted == "auto" and _lean.lean_eligible(request) else "litellm"


async def _attempt(request: ModelRequest, acc: Accumulator, stream: bool, path: str) -> None:
    if path == "lean":
        if is_demo_model(request.model):
            await _lean.run_demo(request, acc, stream)
        else:
            await _lean.run_openai(request, acc, stream, resolve_api_key("openai"))
        return
    provider = request.model.partition("/")[0]
    await run_litellm(request, acc, stream, resolve_api_key(provider))


def _log_context(request: ModelRequest) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(request.metadata.items()))


async def call_model(
    request: ModelRequest,
    *,
    on_event: EventSink | None = None,
    stream: bool = True,
    retry: RetryPolicy | None = None,
    attempts: list[Attempt] | None = None,
) -> ModelResult:
    """Call one model, retrying transient failures before anything was emitted.

    `on_event` receives every event (sync or async callable). `attempts`, if given, is
    appended to as attempts end (the fallback layer passes one list through every model).
    Raises `ModelError`: `retryable` for transient failures (and for any failure after
    output), with `details` `model`, `error`, `status`, `streamed`, `attempts`.
    """
    install_log_redaction()
    policy = retry or RetryPolicy()
    history: list[Attempt] = attempts if attempts is not None else []
    path = choose_path(request)
    context = _log_context(request)
    retry_number = 0
    while True:
        started = time.perf_counter()
        acc = Accumulator(request, on_event, started)
        try:
            await _attempt(request, acc, stream, path)
        except ProviderError as failure:
            duration = (time.perf_counter() - started) * 1000
            if acc.emitted:
                history.append(_record(request, "failed", failure, duration, path))
                logger.warning(
                    "%s model=%s error=%s status=%s | provider failed after output was streamed",
                    context, request.model, failure.error, failure.status,
                )  # fmt: skip
                await _emit(on_event, Notice(kind="stream-error", message=_safe(failure)))
                await _emit(on_event, Finish(reason="error"))
                raise failure.to_model_error(
                    request.model, streamed=True, attempts=_dump(history)
                ) from None
            wait = policy.delay(retry_number, failure.retry_after_s)
            retry_number += 1
            if not failure.transient or wait is None or retry_number >= policy.max_attempts:
                history.append(_record(request, "failed", failure, duration, path))
                logger.warning(
                    "%s model=%s error=%s status=%s attempts=%d | model call failed",
                    context, request.model, failure.error, failure.status, retry_number,
                )  # fmt: skip
                raise failure.to_model_error(request.model, attempts=_dump(history)) from None
            history.append(_record(request, "retry", failure, duration, path))
            logger.info(
                "%s model=%s error=%s status=%s retry_in_s=%.3f | retrying the model call",
                context, request.model, failure.error, failure.status, wait,
            )  # fmt: skip
            await _emit(
                on_event,
                Notice(
                    kind="retry",
                    message=f"{request.model}: {failure.error}, retrying",
                    detail={"model": request.model, "error": failure.error, "wait_s": wait},
                ),
            )
            await asyncio.sleep(wait)
            continue
        return await _finish(
            request, acc=acc, stream=stream, path=path, started=started, history=history
        )


async def _finish(
    request: ModelRequest,
    *,
    acc: Accumulator,
    stream: bool,
    path: str,
    started: float,
    history: list[Attempt],
) -> ModelResult:
    def counted() -> tuple[int, int]:
        output = estimate_text_tokens("".join(acc.text)) + estimate_text_tokens(
            "".join(acc.reasoning)
        )
        for call in acc.tool_results():
            output += estimate_text_tokens(call.name) + estimate_text_tokens(call.arguments_json)
        return estimate_tokens(request.messages, request.tools), output

    usage = acc.compute_usage(counted)
    reason = await acc.close(usage)
    ended = time.perf_counter()
    latency = (ended - started) * 1000
    history.append(Attempt(model=request.model, outcome="ok", duration_ms=latency, path=path))
    ttft = (acc.first_output - started) * 1000 if acc.first_output is not None else None
    logger.debug(
        "%s model=%s path=%s stream=%s latency_ms=%.1f input_tokens=%d output_tokens=%d "
        "cost_usd=%.6f | model call done",
        _log_context(request), request.model, path, stream, latency,
        usage.input_tokens, usage.output_tokens, usage.cost_usd,
    )  # fmt: skip
    return ModelResult(
        text="".join(acc.text),
        reasoning="".join(acc.reasoning),
        tool_calls=acc.tool_results(),
        usage=usage,
        finish_reason=reason,
        model=request.model,
        latency_ms=latency,
        ttft_ms=ttft,
        attempts=list(history),
    )


def _record(
    request: ModelRequest,
    outcome: AttemptOutcome,
    failure: ProviderError,
    duration: float,
    path: str,
) -> Attempt:
    return Attempt(
        model=request.model,
        outcome=outcome,
        error=failure.error,
        status=failure.status,
        retry_after_s=failure.retry_after_s,
        duration_ms=duration,
        path=path,
    )


def _dump(history: list[Attempt]) -> list[dict[str, object]]:
    return [attempt.model_dump() for attempt in history]


def _safe(failure: ProviderError) -> str:
    return redact(f"{failure.error}: {failure.message}")[:300]


async def _emit(sink: EventSink | None, event: Notice | Finish) -> None:
    if sink is None:
        return
    result = sink(event)
    if result is not None:
        await result
