"""Sessions and runs as a caller sees them: create a session, send an input (with the agent's
double-texting policy), cancel, approve or deny a call, post a client tool's result.

One function for the CLI now and the API later. A run is admitted *before* its execution
starts — the session's lease taken and the RUN item written — so a conflicting input is
answered at once by `on_conflict`.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from podium.engine.context import RunIds, change_run, end_wait
from podium.engine.tools import output_key, package_output, to_jsonable
from podium.errors import ConflictError, InputError, NotFoundError, PodiumError
from podium.protocol.bounds import lease_seconds
from podium.protocol.failures import CANCELLED_ERROR, CLIENT_TOOL_ERROR, DENIED_ERROR
from podium.protocol.variables import resolve_variables
from podium.store.ids import new_run_id
from podium.store.models import QueuedInput, Run, Session

if TYPE_CHECKING:
    from podium.engine.runtime import Runtime

log = logging.getLogger(__name__)

MAX_INPUT_CHARS = 200_000


@dataclass(frozen=True)
class StartedRun:
    """A run admitted: started now, or queued behind the active one (`enqueue`)."""

    run: Run
    disposition: Literal["started", "queued"]
    interrupted: str | None = None
    """The run that was cancelled to make room (`interrupt`)."""


def execution_payload(run: Run) -> dict[str, str]:
    return RunIds(run.tenant, run.session_id, run.run_id, run.agent, run.agent_hash).payload()


def start_execution(
    rt: Runtime, tenant: str, session_id: str, run_id: str, *, known: Run | None = None
) -> Run:
    """Start the execution of an admitted run (its lease is held). `known`: the run as the
    caller just wrote it."""
    if rt.orchestrator is None:
        raise PodiumError("no orchestrator is configured to start runs")
    run = known if known is not None else rt.store.get_run(tenant, session_id, run_id)
    reference = rt.orchestrator.start(run_id, execution_payload(run))
    return change_run(
        rt,
        tenant,
        session_id,
        run_id,
        lambda run: None if run.execution_ref == reference else {"execution_ref": reference},
        known=run,
    )


class RunService:
    """The operations on sessions and runs, over one runtime."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    # --------------------------------------------------------------- sessions

    def create_session(
        self,
        tenant: str,
        agent: str,
        *,
        variables: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        session_id: str | None = None,
    ) -> Session:
        pinned = self.rt.agents.current(agent)
        values = resolve_variables(pinned.agent, variables)
        return self.rt.store.create_session(
            tenant, agent=agent, agent_hash=pinned.content_hash, session_id=session_id,
            input_vars=values, metadata=metadata,
            retention_s=pinned.agent.retention.days * 86_400.0,
        )  # fmt: skip

    # --------------------------------------------------------------- runs

    def start_run(
        self,
        tenant: str,
        session_id: str,
        user_input: Any,
        *,
        metadata: dict[str, Any] | None = None,
    ) -> StartedRun:
        """Admit an input: start it, or follow the agent's `on_conflict` if a run is active.
        All or nothing: bad input is refused before anything is stored, and a failure after
        the lease was taken gives it back (a queued input that cannot be queued is closed)."""
        _check_input(user_input)
        check_storable(metadata, "the metadata")
        session = self.rt.store.get_session(tenant, session_id)
        pinned = self.rt.agents.current(session.agent)
        agent = pinned.agent
        ttl = lease_seconds(agent)
        now = self.rt.clock()
        run_id = new_run_id(now)
        run = Run(
            tenant=tenant,
            session_id=session_id,
            run_id=run_id,
            agent=agent.name,
            agent_hash=pinned.content_hash,
            status="queued",
            input=user_input,
            created_at=now,
            updated_at=now,
        )
        interrupted = None
        try:
            self.rt.store.acquire_session_lease(tenant, session_id, run.run_id, ttl)
        except ConflictError as conflict:
            holder = str(conflict.details.get("holder") or "")
            if agent.on_conflict == "reject":
                raise ConflictError(
                    f"a run is already active on this session ({holder}); the agent rejects "
                    "a second input (on_conflict: reject)", active_run=holder,
                ) from None  # fmt: skip
            if agent.on_conflict == "enqueue":
                return self._enqueue(run, metadata)
            interrupted = holder
            self._interrupt(tenant, session_id, holder)
            self._take_over(run, holder, ttl)
        if self.rt.orchestrator is not None:  # written now: starting it writes nothing more
            run = run.model_copy(update={"execution_ref": self.rt.orchestrator.reference(run_id)})
        try:
            created = self.rt.store.create_run(run)
        except Exception:
            with contextlib.suppress(ConflictError, NotFoundError):  # the lease goes back
                self.rt.store.release_session_lease(tenant, session_id, run.run_id)
            raise
        try:
            started = start_execution(self.rt, tenant, session_id, run.run_id, known=created)
        except Exception as exc:
            self._abandon(run, exc)
            raise
        return StartedRun(started, "started", interrupted)

    def _enqueue(self, run: Run, metadata: dict[str, Any] | None) -> StartedRun:
        self.rt.store.create_run(run)
        try:
            self.rt.store.enqueue_input(run.tenant, run.session_id, QueuedInput(
                run_id=run.run_id, input=run.input, queued_at=self.rt.clock(),
                metadata=metadata or {}))  # fmt: skip
        except Exception as exc:  # not queued: the run must not wait for a turn forever
            from podium.engine.step_run import finish_execution  # noqa: PLC0415

            finish_execution(self.rt, execution_payload(run), "FAILED", "Podium.NotQueued",
                             str(exc)[:1000])  # fmt: skip
            raise
        self._kick(run.tenant, run.session_id)
        return StartedRun(self.rt.store.get_run(run.tenant, run.session_id, run.run_id), "queued")

    def _kick(self, tenant: str, session_id: str) -> None:
        """If the active run ended while this input was being queued, nobody would start
        the queue: take the lease for its head and start it."""
        session = self.rt.store.get_session(tenant, session_id)
        if session.lease_holder(self.rt.clock()) is not None or not session.queue:
            return
        head = session.queue[0]
        run = self.rt.store.get_run(tenant, session_id, head.run_id)
        ttl = lease_seconds(self.rt.agents.pinned(run.agent, run.agent_hash).agent)
        try:
            self.rt.store.acquire_session_lease(tenant, session_id, head.run_id, ttl)
        except ConflictError:
            return
        popped = self.rt.store.pop_queued_input(tenant, session_id)
        if popped is not None:
            start_execution(self.rt, tenant, session_id, popped.run_id)

    def _interrupt(self, tenant: str, session_id: str, holder: str) -> None:
        """Cancel the active run at once: its unanswered calls get their results first (so
        the new input follows a valid conversation), then its execution stops; one that no
        process runs here is closed now."""
        from podium.engine.step_run import complete_interrupted  # noqa: PLC0415

        self.rt.cancelled.add(holder)
        complete_interrupted(self.rt, tenant, session_id, holder)
        if self.rt.orchestrator is None:
            return
        try:
            self.rt.orchestrator.stop(holder, cause="interrupted by a new input")
        except NotFoundError:
            with contextlib.suppress(NotFoundError):
                current = self.rt.store.get_run(tenant, session_id, holder)
                if not current.terminal:
                    self._close_unstarted(current)

    def _take_over(self, run: Run, holder: str, ttl: float) -> None:
        """The lease, from the interrupted run — or free, if that run already closed and gave
        it back. ConflictError if another run took it meanwhile."""
        try:
            self.rt.store.steal_session_lease(
                run.tenant, run.session_id, run.run_id, expected_holder=holder, ttl_s=ttl
            )
        except ConflictError:
            try:
                self.rt.store.acquire_session_lease(run.tenant, run.session_id, run.run_id, ttl)
            except ConflictError:
                raise ConflictError(
                    "the session moved on to another run meanwhile; send the input again",
                    retry_after=1,
                ) from None

    def _abandon(self, run: Run, exc: Exception) -> None:
        """The execution could not start: the run fails now, and gives its lease back."""
        from podium.engine.step_run import finish_execution  # noqa: PLC0415

        log.error("run_id=%s error=%s | the execution did not start", run.run_id, exc)
        finish_execution(
            self.rt, execution_payload(run), "FAILED", "Podium.StartFailed", str(exc)[:1000]
        )

    def cancel(self, tenant: str, session_id: str, run_id: str) -> Run:
        """Stop a run; what it streamed so far is kept as its partial output."""
        run = self.rt.store.get_run(tenant, session_id, run_id)
        if run.terminal:
            return run
        self.rt.cancelled.add(run_id)
        if run.status == "queued" and run.execution_ref is None:
            self._drop_queued(tenant, session_id, run_id)
            self._close_unstarted(run)
        elif self.rt.orchestrator is not None:
            try:
                self.rt.orchestrator.stop(run_id, cause="cancelled")
            except NotFoundError:
                # no execution runs it here: not started (or never will be: its starter
                # died), or its runner died. Close it now; an execution that runs it later
                # (started late, resumed, or in another process) finds it closed and ends
                current = self.rt.store.get_run(tenant, session_id, run_id)
                if not current.terminal:
                    self._close_unstarted(current)
        return self.rt.store.get_run(tenant, session_id, run_id)

    def _close_unstarted(self, run: Run) -> None:
        """Close a cancelled run no execution runs here (a closed run stays as is)."""
        from podium.engine.step_run import finish_execution  # noqa: PLC0415

        cause = "cancelled before it started" if run.status == "queued" else "cancelled"
        finish_execution(self.rt, execution_payload(run), "ABORTED", CANCELLED_ERROR, cause)

    def _drop_queued(self, tenant: str, session_id: str, run_id: str) -> None:
        session = self.rt.store.get_session(tenant, session_id)
        if any(item.run_id == run_id for item in session.queue):
            kept = [item for item in session.queue if item.run_id != run_id]
            while self.rt.store.pop_queued_input(tenant, session_id) is not None:
                pass
            for item in kept:
                self.rt.store.enqueue_input(tenant, session_id, item)

    # --------------------------------------------------------------- waits

    def decide(
        self, tenant: str, session_id: str, run_id: str, call_id: str, *, approved: bool,
        reason: str | None = None,
    ) -> None:  # fmt: skip
        """Approve or deny a call waiting for a person."""
        pending = self._pending(tenant, session_id, run_id, call_id, "approval")
        resolved = self.rt.store.resolve_pending_approval(tenant, session_id, run_id, call_id)
        assert self.rt.orchestrator is not None
        if approved:
            self.rt.orchestrator.send_task_success(resolved.task_token, {"approved": True})
        else:
            self.rt.orchestrator.send_task_failure(
                resolved.task_token, DENIED_ERROR, reason or "denied"
            )
        log.info(
            "run_id=%s call_id=%s approved=%s | decision recorded",
            run_id,
            pending.call_id,
            approved,
        )
        self._running_again(tenant, session_id, run_id)

    def submit_tool_result(
        self, tenant: str, session_id: str, run_id: str, call_id: str, *, output: Any = None,
        error: str | None = None,
    ) -> None:  # fmt: skip
        """A client tool's result (or its error), posted by the caller."""
        self._pending(tenant, session_id, run_id, call_id, "client")
        resolved = self.rt.store.resolve_pending_approval(tenant, session_id, run_id, call_id)
        assert self.rt.orchestrator is not None
        if error is not None:
            self.rt.orchestrator.send_task_failure(
                resolved.task_token, CLIENT_TOOL_ERROR, error[:10_000]
            )
        else:
            key = output_key(tenant, session_id, run_id, call_id)
            packed = package_output(to_jsonable(output), blobs=self.rt.store.blobs, key=key)
            self.rt.orchestrator.send_task_success(
                resolved.task_token, {"call_id": call_id, "outcome": "ok", **packed}
            )
        self._running_again(tenant, session_id, run_id)

    def _pending(self, tenant: str, session_id: str, run_id: str, call_id: str, kind: str) -> Any:
        run = self.rt.store.get_run(tenant, session_id, run_id)
        pending = run.pending_approvals.get(call_id)
        if pending is not None and pending.kind == kind:
            return pending
        if run.terminal:
            raise ConflictError(f"the run is {run.status}: nothing is waiting any more")
        calls = (run.step_result or {}).get("calls", [])
        in_step = run.step_result is None or any(c.get("call_id") == call_id for c in calls)
        if pending is None and in_step:
            raise ConflictError("the call is not waiting yet; retry in a moment", retry_after=1)
        what = "an approval" if kind == "approval" else "a client tool's result"
        raise NotFoundError(f"call {call_id!r} of run {run_id} is not waiting for {what}")

    def _running_again(self, tenant: str, session_id: str, run_id: str) -> None:
        """The last waiting call was answered: the run works again, and its clock runs."""
        now = self.rt.clock()
        change_run(self.rt, tenant, session_id, run_id, lambda run: None
                   if run.terminal or run.pending_approvals or run.status != "waiting"
                   else {"status": "running", **end_wait(run, now)})  # fmt: skip


def check_storable(value: Any, what: str) -> None:
    """InputError unless `value` is plain JSON that encodes as UTF-8 (no lone surrogate, no
    NaN or Infinity): refused before anything is stored."""
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{what} is not valid Unicode text (it holds a lone surrogate)") from None
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} is not plain JSON: {exc}") from None


def _check_input(user_input: Any) -> None:
    check_storable(user_input, "the input")
    if isinstance(user_input, str):
        if not user_input.strip():
            raise InputError("the input is empty")
        if len(user_input) > MAX_INPUT_CHARS:
            raise InputError(f"the input is longer than {MAX_INPUT_CHARS} characters")
        return
    if (
        isinstance(user_input, list)
        and user_input
        and all(isinstance(part, dict) and "type" in part for part in user_input)
    ):
        return
    raise InputError("the input must be text or a non-empty list of content parts")
