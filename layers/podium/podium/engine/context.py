"""What every step handler starts from: the run's ids from the state, and the run itself."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from podium.errors import ConflictError, InputError, NotFoundError
from podium.protocol.failures import LeaseLost, RunCancelled

if TYPE_CHECKING:
    from podium.engine.runtime import Runtime
    from podium.protocol.agent import Agent
    from podium.store.models import Message, Run, Session


@dataclass(frozen=True)
class RunIds:
    """The ids every state of the run machine carries."""

    tenant: str
    session_id: str
    run_id: str
    agent: str
    agent_hash: str

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> RunIds:
        try:
            return cls(
                *(
                    str(payload[key])
                    for key in ("tenant", "session_id", "run_id", "agent", "agent_hash")
                )
            )
        except KeyError as exc:
            raise InputError(f"the step's input lacks {exc.args[0]!r}") from None

    def payload(self) -> dict[str, str]:
        return {
            "tenant": self.tenant,
            "session_id": self.session_id,
            "run_id": self.run_id,
            "agent": self.agent,
            "agent_hash": self.agent_hash,
        }


def load_run(rt: Runtime, ids: RunIds) -> Run:
    return rt.store.get_run(ids.tenant, ids.session_id, ids.run_id)


def change_run(
    rt: Runtime, tenant: str, session_id: str, run_id: str,
    change: Callable[[Run], dict[str, Any] | None], *, tries: int = 5, known: Run | None = None,
) -> Run:  # fmt: skip
    """Write `change(run)` (the fields to set, or None to leave the run as it is) under the
    run's optimistic version, reading it again after a lost race (usage, approvals and the
    execution reference are written concurrently). Gives up after `tries` lost races and
    returns the run as last read. `known`: the run as the caller last read or wrote it,
    tried first instead of reading it again (a stale copy only costs a lost race)."""
    run = known if known is not None else rt.store.get_run(tenant, session_id, run_id)
    for _ in range(tries):
        fields = change(run)
        if fields is None:
            return run
        try:
            return rt.store.update_run(
                run.model_copy(update={**fields, "updated_at": rt.clock()}),
                expected_version=run.version,
            )
        except ConflictError:
            run = rt.store.get_run(tenant, session_id, run_id)
    return run


def hold_lease(rt: Runtime, ids: RunIds, ttl_s: float) -> Session:
    """No step of a run executes without its session's lease: renew it for `ttl_s` (never
    shortening it), or fail the step with Podium.LeaseLost when another run holds it, or
    none does (the run was interrupted, or closed). Returns the session as renewed."""
    try:
        return rt.store.renew_session_lease(ids.tenant, ids.session_id, ids.run_id, ttl_s)
    except ConflictError as lost:
        holder = lost.details.get("holder")
        raise LeaseLost(f"the session's lease is held by {holder or 'no run'}") from None


def usage_key(run_id: str, step: int, attempt: int) -> str:
    """What a model call's usage is counted under: each call once."""
    return f"{run_id}:{step}:{attempt}"


def settle_usage(rt: Runtime, ids: RunIds, run: Run) -> Run:
    """Count every model call the run's trace shows and its usage does not: a step cut
    between writing a call's span and counting the call (each is counted once, by its key).
    Returns the run as it now is."""
    from podium.store.models import Usage  # noqa: PLC0415

    spans = [s for s in rt.store.list_spans(ids.tenant, ids.session_id, ids.run_id)
             if s.kind == "model" and "input_tokens" in (s.attributes or {})]  # fmt: skip
    if len(spans) <= run.usage.requests:
        return run
    for span in spans:
        found = span.attributes
        usage = Usage(
            requests=1, input_tokens=int(found.get("input_tokens", 0)),
            output_tokens=int(found.get("output_tokens", 0)),
            cached_tokens=int(found.get("cached_tokens", 0)),
            reasoning_tokens=int(found.get("reasoning_tokens", 0)),
            cost_micro_usd=round(float(found.get("cost_usd", 0.0)) * 1_000_000),
        )  # fmt: skip
        rt.store.add_run_usage(
            ids.tenant, ids.session_id, ids.run_id, usage, agent=ids.agent,
            model=str(found.get("model", span.name)),
            idempotency_key=usage_key(ids.run_id, int(found.get("step", 0)),
                                      int(found.get("attempt", 0))),
        )  # fmt: skip
    return load_run(rt, ids)


def clear_pending(rt: Runtime, ids: RunIds, run: Run) -> None:
    """Nothing of the run waits any more (its waits timed out, or it ended): every pending
    approval and client tool is resolved (each by one writer only)."""
    for call_id in list(run.pending_approvals):
        with contextlib.suppress(NotFoundError):
            rt.store.resolve_pending_approval(ids.tenant, ids.session_id, ids.run_id, call_id)


def begin_wait(run: Run, now: float) -> dict[str, Any]:
    """The fields that mark the run waiting on a person or the caller (if it is not yet)."""
    return {} if run.waiting_since is not None else {"waiting_since": now}


def end_wait(run: Run, now: float) -> dict[str, Any]:
    """The fields that end the run's current wait, if it has one: its time is added to what
    the run clock leaves out."""
    if run.waiting_since is None:
        return {}
    return {"waited_s": run.waited_s + max(0.0, now - run.waiting_since), "waiting_since": None}


def mark_cancelled_if_requested(rt: Runtime, run: Run) -> None:
    """A step of a run already cancelled does nothing: it fails the execution at once."""
    if run.status == "cancelled" or run.run_id in rt.cancelled:
        raise RunCancelled("the run was cancelled")


def counted(message: Message, agent: Agent) -> Message:
    """The message with its token count (for the agent's default model), counted once here
    so that context windows only add numbers up."""
    from podium.models.tokens import count_tokens  # noqa: PLC0415

    model = agent.resolve_model(agent.model).model
    return message.model_copy(update={"tokens": count_tokens(model, [message.to_chat()])})
