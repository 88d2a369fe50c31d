"""The DynamoDB store's runs, events, spans, keys, usage, agent versions and checkpoints."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from podium.errors import ConflictError, NotFoundError
from podium.store._dynamodb_base import (
    CAS_RETRIES,
    GSI1,
    TRANSACT_MAX,
    ConditionFailed,
    DynamoBase,
)
from podium.store.dynamodb_codec import (
    META,
    RUN_TOP,
    Item,
    body,
    check_size,
    data_item,
    key,
    run_from,
    run_item,
    session_pk,
    to_av,
    usage_add_expression,
    usage_from,
    values,
)
from podium.store.idempotency import claimed, key_digest
from podium.store.ids import check_model_name, check_name, content_hash, utc_day
from podium.store.models import (
    AgentVersion,
    ApiKey,
    Checkpoint,
    Event,
    IdempotencyRecord,
    Page,
    PendingApproval,
    Run,
    RunnerLease,
    Span,
    Usage,
    UsageRecord,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

CHECKPOINTS_PK = "CKPT"  # local executor only: one partition, listed on runner start
RUNNERS_PK = "RUNNER"


def usage_pk(tenant: str) -> str:
    """Partition of a tenant's usage counters."""
    return f"T#{tenant}#USAGE"


def usage_sk(day: str, agent: str, model: str) -> str:
    """Sort key of one counter: day first, so a date range is one Query."""
    return f"{day}#{agent}#{model}"


class DynamoRunsMixin(DynamoBase):
    """Runs, events, spans, agent versions, API keys, usage, checkpoints, runner leases."""

    # --------------------------------------------------------------------- runs

    def _run_item(self, tenant: str, session_id: str, run_id: str) -> Item:
        self._check_session_key(tenant, session_id)
        item = self._get(session_pk(tenant, session_id), f"RUN#{run_id}")
        if item is None or not self._alive_item(item):
            raise NotFoundError("run not found", run_id=run_id)
        return item

    def create_run(self, run: Run) -> Run:
        """See `Store.create_run`: a Put conditional on the run not existing."""
        check_name(run.run_id, "run id")
        session = self._session(run.tenant, run.session_id)
        now = self.clock()
        stored = self._pack_run(run).model_copy(
            update={
                "version": 1,
                "created_at": run.created_at or now,
                "updated_at": now,
                "expires_at": session.expires_at,
                "usage": Usage(),
                "pending_approvals": {},
            }
        )
        try:
            self._call(
                "put_item", Item=run_item(stored), ConditionExpression="attribute_not_exists(pk)"
            )
        except ConditionFailed:
            return self.get_run(run.tenant, run.session_id, run.run_id)
        return self._unpack_run(stored, True)

    def get_run(self, tenant: str, session_id: str, run_id: str, *, hydrate: bool = True) -> Run:
        """See `Store.get_run`."""
        return self._unpack_run(run_from(self._run_item(tenant, session_id, run_id)), hydrate)

    def list_runs(
        self, tenant: str, session_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Run]:
        """See `Store.list_runs`: run ids sort by time, so newest first is a reverse Query."""
        self._check_limit(limit)
        self._session_item(tenant, session_id)
        pk = session_pk(tenant, session_id)
        now = self.clock()
        items, next_cursor = self._query_page(
            scope=f"runs|{tenant}|{session_id}",
            partition=("pk", pk),
            cursor=cursor,
            limit=limit,
            keep=lambda item: self._alive_item(item, now),
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues=values(pk=pk, p="RUN#"),
            ScanIndexForward=False,
            ConsistentRead=True,
        )
        return Page(items=[run_from(i) for i in items], cursor=next_cursor)

    def update_run(self, run: Run, *, expected_version: int) -> Run:
        """See `Store.update_run`: the body is replaced conditional on the version; counters
        and approvals are separate attributes and stay untouched."""
        packed = self._pack_run(run).model_copy(update={"updated_at": self.clock()})
        stored = self._run_item(run.tenant, run.session_id, run.run_id)
        original = run_from(stored)
        packed = packed.model_copy(
            update={"created_at": original.created_at, "expires_at": original.expires_at}
        )
        data = data_item("", "", packed, exclude=RUN_TOP)["data"]
        try:
            response = self._call(
                "update_item",
                Key=key(session_pk(run.tenant, run.session_id), f"RUN#{run.run_id}"),
                UpdateExpression="SET #data = :data, version = :new",
                ConditionExpression="version = :expected",
                ExpressionAttributeNames={"#data": "data"},
                ExpressionAttributeValues={
                    ":data": data,
                    **values(new=expected_version + 1, expected=expected_version),
                },
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed:
            actual = run_from(self._run_item(run.tenant, run.session_id, run.run_id)).version
            raise ConflictError(
                "run version moved", expected=expected_version, actual=actual
            ) from None
        return self._unpack_run(run_from(response["Attributes"]), True)

    def add_run_usage(
        self,
        tenant: str,
        session_id: str,
        run_id: str,
        usage: Usage,
        *,
        agent: str,
        model: str,
        idempotency_key: str | None = None,
    ) -> Usage:
        """See `Store.add_run_usage`: one transaction of three ADDs (+ the marker)."""
        check_name(agent, "agent")
        check_model_name(model)
        self._check_session_key(tenant, session_id)
        pk = session_pk(tenant, session_id)
        add, add_values = usage_add_expression(usage)
        day = utc_day(self.clock())
        writes: list[dict[str, Any]] = [
            {
                "Update": {
                    "Key": key(pk, f"RUN#{run_id}"),
                    "UpdateExpression": add,
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": add_values,
                }
            },
            {
                "Update": {
                    "Key": key(pk, META),
                    "UpdateExpression": add,
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": add_values,
                }
            },
            {
                "Update": {
                    "Key": key(usage_pk(tenant), usage_sk(day, agent, model)),
                    "UpdateExpression": add
                    + " SET tenant = :t, #day = :d, #agent = :a, model = :m",
                    "ExpressionAttributeNames": {"#day": "day", "#agent": "agent"},
                    "ExpressionAttributeValues": {
                        **add_values,
                        **values(t=tenant, d=day, a=agent, m=model),
                    },
                }
            },
        ]
        if idempotency_key is not None:
            marker = {**key(pk, f"IDEM#USAGE#{run_id}#{idempotency_key}")}
            writes.append(
                {"Put": {"Item": marker, "ConditionExpression": "attribute_not_exists(pk)"}}
            )
        for _ in range(CAS_RETRIES):
            try:
                self._transact(writes)
            except ConditionFailed as failed:
                if "TransactionConflict" in failed.reasons:
                    continue
                if "ConditionalCheckFailed" in failed.reasons[:2]:
                    raise NotFoundError("run not found", run_id=run_id) from None
                # else the marker exists: this usage was already added
            break
        return usage_from(self._run_item(tenant, session_id, run_id))

    def add_pending_approval(
        self, tenant: str, session_id: str, run_id: str, approval: PendingApproval
    ) -> None:
        """See `Store.add_pending_approval`: one entry of the run's `approvals` map."""
        self._check_session_key(tenant, session_id)
        approval = approval.model_copy(
            update={"requested_at": approval.requested_at or self.clock()}
        )
        try:
            self._call(
                "update_item",
                Key=key(session_pk(tenant, session_id), f"RUN#{run_id}"),
                UpdateExpression="SET approvals.#c = if_not_exists(approvals.#c, :a)",
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_exists(approvals.#c) OR size(approvals) < :max)",
                ExpressionAttributeNames={"#c": approval.call_id},
                ExpressionAttributeValues={
                    ":a": {"S": approval.model_dump_json()},
                    **values(max=self.max_pending_approvals),
                },
            )
        except ConditionFailed:
            self._run_item(tenant, session_id, run_id)
            raise ConflictError(
                "too many pending approvals", limit=self.max_pending_approvals
            ) from None

    def resolve_pending_approval(
        self, tenant: str, session_id: str, run_id: str, call_id: str
    ) -> PendingApproval:
        """See `Store.resolve_pending_approval`: REMOVE conditional on the entry existing."""
        self._check_session_key(tenant, session_id)
        try:
            response = self._call(
                "update_item",
                Key=key(session_pk(tenant, session_id), f"RUN#{run_id}"),
                UpdateExpression="REMOVE approvals.#c",
                ConditionExpression="attribute_exists(approvals.#c)",
                ExpressionAttributeNames={"#c": call_id},
                ReturnValues="ALL_OLD",
            )
        except ConditionFailed:
            raise NotFoundError("no pending approval", call_id=call_id) from None
        entry = response["Attributes"]["approvals"]["M"][call_id]
        return PendingApproval.model_validate_json(entry["S"])

    # ------------------------------------------------------------------- events

    def append_events(
        self, tenant: str, session_id: str, events: Sequence[Event], *, ttl_s: float | None = None
    ) -> int:
        """See `Store.append_events`: transactions of conditional Puts (never overwrite);
        ids already stored are dropped and the rest retried."""
        session = self._session(tenant, session_id)
        now = self.clock()
        expires = session.expires_at
        if ttl_s is not None:
            expires = now + ttl_s if expires is None else min(expires, now + ttl_s)
        pk = session_pk(tenant, session_id)
        unique = {e.event_id: e for e in events}
        items = [
            check_size(
                data_item(
                    pk,
                    f"EVT#{e.event_id}",
                    self._pack_event(tenant, session_id, e).model_copy(
                        update={"created_at": e.created_at or now, "expires_at": expires}
                    ),
                )
            )
            for e in unique.values()
        ]
        written = 0
        for start in range(0, len(items), TRANSACT_MAX):
            chunk = items[start : start + TRANSACT_MAX]
            while chunk:
                try:
                    self._transact(
                        [
                            {"Put": {"Item": i, "ConditionExpression": "attribute_not_exists(pk)"}}
                            for i in chunk
                        ]
                    )
                except ConditionFailed as failed:
                    chunk = [
                        i
                        for i, reason in zip(chunk, failed.reasons, strict=False)
                        if reason != "ConditionalCheckFailed"
                    ]
                    continue
                written += len(chunk)
                break
        return written

    def list_events(
        self,
        tenant: str,
        session_id: str,
        *,
        after: str | None = None,
        run_id: str | None = None,
        limit: int = 100,
        hydrate: bool = True,
    ) -> list[Event]:
        """See `Store.list_events`: one range Query on `EVT#`."""
        self._check_limit(limit)
        self._session_item(tenant, session_id)
        pk = session_pk(tenant, session_id)
        low, high = "EVT#", "EVT#~"
        if run_id is not None:
            low, high = f"EVT#{run_id}.", f"EVT#{run_id}.~"
        if after is not None:
            low = max(low, f"EVT#{after}")
        now = self.clock()
        out: list[Event] = []
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": values(pk=pk, lo=low, hi=high),
            "ConsistentRead": True,
        }
        while len(out) < limit:
            response = self._call("query", Limit=limit + 1 - len(out), **query)
            for item in response.get("Items", []):
                event = Event(**body(item))
                if event.event_id != after and self._alive_item(item, now):
                    out.append(self._unpack_event(event, hydrate))
            if "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return out[:limit]

    # -------------------------------------------------------------------- spans

    def put_span(self, tenant: str, session_id: str, span: Span) -> None:
        """See `Store.put_span`."""
        session = self._session(tenant, session_id)
        span = span.model_copy(update={"expires_at": session.expires_at})
        pk = session_pk(tenant, session_id)
        item = data_item(pk, f"SPAN#{span.run_id}#{span.span_id}", span)
        self._call("put_item", Item=check_size(item))

    def put_spans(self, tenant: str, session_id: str, spans: Sequence[Span]) -> None:
        """See `Store.put_spans`: BatchWriteItem, 25 spans a request (the last write of a
        span id in `spans` wins)."""
        if len(spans) <= 1:
            for span in spans:
                self.put_span(tenant, session_id, span)
            return
        expires = self._session(tenant, session_id).expires_at
        pk = session_pk(tenant, session_id)
        latest = {span.span_id: span for span in spans}  # a batch may not repeat a key
        items = [
            check_size(
                data_item(
                    pk,
                    f"SPAN#{span.run_id}#{span.span_id}",
                    span.model_copy(update={"expires_at": expires}),
                )
            )
            for span in latest.values()
        ]
        self._batch_put(items)

    def list_spans(self, tenant: str, session_id: str, run_id: str) -> list[Span]:
        """See `Store.list_spans`."""
        self._session_item(tenant, session_id)
        pk = session_pk(tenant, session_id)
        items = self._query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues=values(pk=pk, p=f"SPAN#{run_id}#"),
            ConsistentRead=True,
        )
        now = self.clock()
        return [Span(**body(i)) for i in items if self._alive_item(i, now)]

    # ----------------------------------------------------------- agent versions

    def put_agent_version(self, name: str, definition: dict[str, Any]) -> AgentVersion:
        """See `Store.put_agent_version`."""
        check_name(name, "agent")
        version = AgentVersion(
            name=name, hash=content_hash(definition), definition=definition, created_at=self.clock()
        )
        item = {
            **key(f"AGENT#{name}", f"V#{version.hash}"),
            "data": {"S": version.model_dump_json()},
        }
        try:
            self._call(
                "put_item", Item=check_size(item), ConditionExpression="attribute_not_exists(pk)"
            )
        except ConditionFailed:
            return self.get_agent_version(name, version.hash)
        return version

    def get_agent_version(self, name: str, content_hash: str) -> AgentVersion:
        """See `Store.get_agent_version`."""
        item = self._get(f"AGENT#{name}", f"V#{content_hash}")
        if item is None:
            raise NotFoundError("agent version not found", agent=name, hash=content_hash)
        return AgentVersion(**body(item))

    # ----------------------------------------------------------------- API keys

    def _key_item(self, key_obj: ApiKey) -> Item:
        return {
            **key(f"KEY#{key_obj.key_hash}", META),
            "gsi1pk": {"S": f"T#{key_obj.tenant}#KEYS"},
            "gsi1sk": {"S": key_obj.key_hash},
            "data": {"S": key_obj.model_dump_json()},
        }

    def put_api_key(self, key: ApiKey) -> ApiKey:
        """See `Store.put_api_key`."""
        check_name(key.tenant, "tenant")
        key = key.model_copy(update={"created_at": key.created_at or self.clock()})
        try:
            self._call(
                "put_item", Item=self._key_item(key), ConditionExpression="attribute_not_exists(pk)"
            )
        except ConditionFailed:
            raise ConflictError("API key exists") from None
        return key

    def get_api_key(self, key_hash: str) -> ApiKey:
        """See `Store.get_api_key`."""
        item = self._get(f"KEY#{key_hash}", META)
        if item is None:
            raise NotFoundError("API key not found")
        return ApiKey(**body(item))

    def revoke_api_key(self, key_hash: str) -> ApiKey:
        """See `Store.revoke_api_key`."""
        revoked = self.get_api_key(key_hash).model_copy(update={"revoked": True})
        self._call("put_item", Item=self._key_item(revoked))
        return revoked

    def list_api_keys(self, tenant: str) -> list[ApiKey]:
        """See `Store.list_api_keys` (GSI1 partition `T#<tenant>#KEYS`)."""
        items = self._query_all(
            IndexName=GSI1,
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues=values(p=f"T#{tenant}#KEYS"),
        )
        return [ApiKey(**body(i)) for i in items]

    # -------------------------------------------------------------------- usage

    def add_usage(self, tenant: str, *, day: str, agent: str, model: str, usage: Usage) -> None:
        """See `Store.add_usage`: one UpdateItem with ADD (creates the counter if new)."""
        check_name(tenant, "tenant")
        check_name(agent, "agent")
        check_model_name(model)
        add, add_values = usage_add_expression(usage)
        self._call(
            "update_item",
            Key=key(usage_pk(tenant), usage_sk(day, agent, model)),
            UpdateExpression=add + " SET tenant = :t, #day = :d, #agent = :a, model = :m",
            ExpressionAttributeNames={"#day": "day", "#agent": "agent"},
            ExpressionAttributeValues={**add_values, **values(t=tenant, d=day, a=agent, m=model)},
        )

    def list_usage(self, tenant: str, *, since_day: str, until_day: str) -> list[UsageRecord]:
        """See `Store.list_usage`: one Query over the day range."""
        items = self._query_all(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues=values(pk=usage_pk(tenant), lo=since_day, hi=until_day + "~"),
        )
        return [
            UsageRecord(
                tenant=i["tenant"]["S"],
                day=i["day"]["S"],
                agent=i["agent"]["S"],
                model=i["model"]["S"],
                usage=usage_from(i),
            )
            for i in items
        ]

    # -------------------------------------------------------------- checkpoints

    def put_checkpoint(self, checkpoint: Checkpoint, *, expected_version: int | None) -> Checkpoint:
        """See `Store.put_checkpoint`: a Put conditional on the stored version."""
        check_name(checkpoint.run_id, "run id")
        stored = self._pack_checkpoint(checkpoint).model_copy(
            update={"version": (expected_version or 0) + 1, "updated_at": self.clock()}
        )
        item = {
            **key(CHECKPOINTS_PK, checkpoint.run_id),
            "tenant": {"S": stored.tenant},
            "session_id": {"S": stored.session_id},
            "version": {"N": str(stored.version)},
            "terminal": {"BOOL": stored.terminal},
            "data": {"S": stored.model_dump_json()},
        }
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        if expected_version is not None:
            condition = {
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": values(v=expected_version),
            }
        try:
            self._call("put_item", Item=check_size(item), **condition)
        except ConditionFailed:
            current = self._get(CHECKPOINTS_PK, checkpoint.run_id)
            actual = None if current is None else int(current["version"]["N"])
            raise ConflictError(
                "checkpoint version moved", expected=expected_version, actual=actual
            ) from None
        return self._unpack_checkpoint(stored)

    def get_checkpoint(self, run_id: str) -> Checkpoint:
        """See `Store.get_checkpoint`."""
        item = self._get(CHECKPOINTS_PK, run_id)
        if item is None:
            raise NotFoundError("checkpoint not found", run_id=run_id)
        return self._unpack_checkpoint(Checkpoint(**body(item)))

    def list_checkpoints(self, *, include_terminal: bool = False) -> list[Checkpoint]:
        """See `Store.list_checkpoints`."""
        query: dict[str, Any] = {"ExpressionAttributeValues": values(pk=CHECKPOINTS_PK)}
        if not include_terminal:
            query = {
                "FilterExpression": "terminal = :f",
                "ExpressionAttributeValues": values(pk=CHECKPOINTS_PK, f=False),
            }
        items = self._query_all(KeyConditionExpression="pk = :pk", ConsistentRead=True, **query)
        return [self._unpack_checkpoint(Checkpoint(**body(i))) for i in items]

    def delete_checkpoint(self, run_id: str) -> None:
        """See `Store.delete_checkpoint`."""
        self._call("delete_item", Key=key(CHECKPOINTS_PK, run_id))

    # ------------------------------------------------------------ runner leases

    # ---------------------------------------------------------- idempotency keys

    def claim_idempotency_key(
        self,
        scope: str,
        key: str,
        *,
        fingerprint: str = "",
        lease_s: float = 300.0,
        keep_s: float = 86_400.0,
        now: float | None = None,
    ) -> IdempotencyRecord:
        """See `Store.claim_idempotency_key`: the record is read, decided on, and written
        back conditional on being what was read (absent, or the same version of it)."""
        now, digest = self._now(now), key_digest(key)
        pk = f"IDEM#{scope}"
        for _ in range(10):
            item = self._get(pk, digest)
            found = None if item is None else IdempotencyRecord(**body(item))
            record = claimed(found, scope=scope, key=digest, fingerprint=fingerprint,
                             lease_s=lease_s, keep_s=keep_s, now=now)  # fmt: skip
            if record is found:
                return record
            unchanged: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
            if item is not None:  # the record as read, or nothing is written
                unchanged = {
                    "ConditionExpression": "#data = :seen",
                    "ExpressionAttributeNames": {"#data": "data"},
                    "ExpressionAttributeValues": {":seen": item["data"]},
                }
            try:
                self._call("put_item", Item=data_item(pk, digest, record), **unchanged)
                return record
            except ConditionFailed:
                continue  # another claim moved it: decide again
        raise ConflictError("the idempotency key is contended; retry", retry_after=1)

    def complete_idempotency_key(
        self, scope: str, key: str, result: dict[str, Any], *, now: float | None = None
    ) -> None:
        """See `Store.complete_idempotency_key`."""
        pk, digest = f"IDEM#{scope}", key_digest(key)
        item = self._get(pk, digest)
        if item is None:
            raise NotFoundError("no claim of this idempotency key")
        record = IdempotencyRecord(**body(item)).model_copy(
            update={"status": "completed", "result": result, "lease_until": None}
        )
        self._call("put_item", Item=data_item(pk, digest, record))

    def release_idempotency_key(self, scope: str, key: str) -> None:
        """See `Store.release_idempotency_key`: deleted only while still in progress."""
        pk, digest = f"IDEM#{scope}", key_digest(key)
        item = self._get(pk, digest)
        if item is None or IdempotencyRecord(**body(item)).status != "in_progress":
            return
        with contextlib.suppress(ConditionFailed):
            self._call(
                "delete_item", Key={"pk": {"S": pk}, "sk": {"S": digest}},
                ConditionExpression="#data = :seen",
                ExpressionAttributeNames={"#data": "data"},
                ExpressionAttributeValues={":seen": item["data"]},
            )  # fmt: skip

    def acquire_runner_lease(
        self, owner: str, ttl_s: float, *, now: float | None = None
    ) -> RunnerLease:
        """See `Store.acquire_runner_lease`."""
        check_name(owner, "owner")
        now = self._now(now)
        lease = RunnerLease(owner=owner, expires_at=now + ttl_s, heartbeat_at=now)
        item = {
            **key(RUNNERS_PK, owner),
            "expires_at": to_av(lease.expires_at),
            "data": {"S": lease.model_dump_json()},
        }
        self._call("put_item", Item=item)
        return lease

    def heartbeat(self, owner: str, ttl_s: float, *, now: float | None = None) -> RunnerLease:
        """See `Store.heartbeat`: conditional on the lease still being live."""
        now = self._now(now)
        lease = RunnerLease(owner=owner, expires_at=now + ttl_s, heartbeat_at=now)
        try:
            self._call(
                "update_item",
                Key=key(RUNNERS_PK, owner),
                UpdateExpression="SET expires_at = :exp, #data = :data",
                ConditionExpression="attribute_exists(pk) AND expires_at > :now",
                ExpressionAttributeNames={"#data": "data"},
                ExpressionAttributeValues=values(
                    exp=lease.expires_at, data=lease.model_dump_json(), now=now
                ),
            )
        except ConditionFailed:
            raise ConflictError("runner lease expired or released", owner=owner) from None
        return lease

    def release_runner_lease(self, owner: str) -> None:
        """See `Store.release_runner_lease`."""
        self._call("delete_item", Key=key(RUNNERS_PK, owner))

    def list_live_owners(self, *, now: float | None = None) -> list[str]:
        """See `Store.list_live_owners`."""
        items = self._query_all(
            KeyConditionExpression="pk = :pk",
            FilterExpression="expires_at > :now",
            ExpressionAttributeValues=values(pk=RUNNERS_PK, now=self._now(now)),
            ConsistentRead=True,
        )
        return sorted(i["sk"]["S"] for i in items)
