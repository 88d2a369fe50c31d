"""DynamoStore: the Store on one DynamoDB table (GSI1, TTL), large payloads in S3.

Layout (see docs/sessions.md): a session's items share the partition `T#<tenant>#S#<id>`
(META, MSG#<seq>, RUN#<run>, EVT#<event>, SPAN#<run>#<span>, SUM#<seq>, IDEM#…); GSI1
(`T#<tenant>`, `<updated ms>#<id>`) lists a tenant's sessions newest first.
"""

from __future__ import annotations

import logging
from typing import Any

from podium.errors import ConflictError
from podium.store._dynamodb_base import (
    CAS_RETRIES,
    GSI1,
    ConditionFailed,
)
from podium.store.dynamodb_codec import (
    META,
    SESSION_TOP,
    Item,
    body,
    check_size,
    data_item,
    key,
    msg_sk,
    session_from,
    session_item,
    session_pk,
    sessions_sk,
    tenant_pk,
    to_av,
    values,
)
from podium.store.dynamodb_runs import DynamoRunsMixin
from podium.store.ids import check_name, new_session_id
from podium.store.models import Message, Page, QueuedInput, Session, Summary

logger = logging.getLogger(__name__)

ALIVE = "(attribute_not_exists(#exp) OR #exp > :now)"
ACQUIRE_CONDITION = (
    "attribute_exists(pk) AND (attribute_not_exists(#exp) OR #exp > :now) AND "
    "(attribute_not_exists(lease_run) OR lease_exp <= :now OR lease_run = :run)"
)
"""Lease acquisition: the session exists and is alive, and the lease is free, expired or ours."""


def create_table(client: Any, name: str) -> None:
    """Create the single table with GSI1 and TTL on `ttl` (for tests and local setups;
    `template.yaml` declares the same table in AWS)."""
    client.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gsi1pk", "gsi1sk")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": GSI1,
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=name)
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
    )


class DynamoStore(DynamoRunsMixin):
    """The Store on DynamoDB: `DynamoStore(table, client, blobs=S3BlobStore(bucket, s3))`.

    The boto3 client is taken in the constructor (created lazily if omitted), so callers
    share clients and tests can wrap them to inspect what is sent.
    """

    # ----------------------------------------------------------------- sessions

    def create_session(
        self,
        tenant: str,
        *,
        agent: str,
        agent_hash: str,
        session_id: str | None = None,
        input_vars: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        retention_s: float | None = None,
    ) -> Session:
        """See `Store.create_session`."""
        now = self.clock()
        session_id = session_id or new_session_id(now)
        self._check_session_key(tenant, session_id)
        check_name(agent, "agent")
        session = Session(
            tenant=tenant,
            session_id=session_id,
            agent=agent,
            agent_hash=agent_hash,
            input_vars=input_vars or {},
            metadata=metadata or {},
            created_at=now,
            updated_at=now,
            expires_at=None if retention_s is None else now + retention_s,
        )
        for attempt in range(2):
            try:
                self._call(
                    "put_item",
                    Item=session_item(session),
                    ConditionExpression="attribute_not_exists(pk)",
                )
                break
            except ConditionFailed:
                existing = self._get(session_pk(tenant, session_id), META)
                if attempt or existing is None or self._alive_item(existing, now):
                    raise ConflictError("session exists", session_id=session_id) from None
                # An expired session not yet removed by TTL: purge it, then create afresh.
                self._purge(tenant, session_id)
        logger.info("tenant=%s session=%s agent=%s | session created", tenant, session_id, agent)
        return session

    def get_session(self, tenant: str, session_id: str) -> Session:
        """See `Store.get_session`."""
        return self._session(tenant, session_id)

    def list_sessions(
        self,
        tenant: str,
        *,
        agent: str | None = None,
        updated_after: float | None = None,
        updated_before: float | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Session]:
        """See `Store.list_sessions` (GSI1, newest first)."""
        check_name(tenant, "tenant")
        self._check_limit(limit)
        condition = "gsi1pk = :t"
        vals: dict[str, Any] = {"t": tenant_pk(tenant)}
        if updated_after is not None or updated_before is not None:
            low = 0 if updated_after is None else int(updated_after * 1000)
            high = 10**15 - 1 if updated_before is None else int(updated_before * 1000) - 1
            condition += " AND gsi1sk BETWEEN :lo AND :hi"
            vals.update(lo=f"{low:015d}", hi=f"{high:015d}~")
        query: dict[str, Any] = {}
        if agent is not None:
            query["FilterExpression"] = "#agent = :agent"
            query["ExpressionAttributeNames"] = {"#agent": "agent"}
            vals["agent"] = agent
        now = self.clock()
        items, next_cursor = self._query_page(
            scope=f"sessions|{tenant}|{agent}|{updated_after}|{updated_before}",
            partition=("gsi1pk", tenant_pk(tenant)),
            cursor=cursor,
            limit=limit,
            keep=lambda item: self._alive_item(item, now),
            key_attrs=("pk", "sk", "gsi1pk", "gsi1sk"),
            IndexName=GSI1,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values(**vals),
            ScanIndexForward=False,
            **query,
        )
        return Page(items=[session_from(i) for i in items], cursor=next_cursor)

    def update_session(
        self,
        tenant: str,
        session_id: str,
        *,
        expected_version: int,
        metadata: dict[str, Any] | None = None,
        agent_hash: str | None = None,
    ) -> Session:
        """See `Store.update_session`."""
        session = self._session(tenant, session_id)
        if session.version != expected_version:
            raise ConflictError(
                "session version moved", expected=expected_version, actual=session.version
            )
        now = self.clock()
        updates: dict[str, Any] = {}
        if metadata is not None:
            updates["metadata"] = metadata
        if agent_hash is not None:
            updates["agent_hash"] = agent_hash
        new = session.model_copy(update=updates)
        data = data_item("", "", new, exclude=SESSION_TOP)["data"]
        try:
            response = self._call(
                "update_item",
                Key=key(session_pk(tenant, session_id), META),
                UpdateExpression="SET #data = :data, version = :new, updated_at = :now, "
                "gsi1sk = :g",
                ConditionExpression="version = :expected",
                ExpressionAttributeNames={"#data": "data"},
                ExpressionAttributeValues={
                    ":data": data,
                    **values(
                        new=expected_version + 1,
                        now=now,
                        g=sessions_sk(now, session_id),
                        expected=expected_version,
                    ),
                },
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed:
            actual = self._session(tenant, session_id).version
            raise ConflictError(
                "session version moved", expected=expected_version, actual=actual
            ) from None
        return session_from(response["Attributes"])

    def delete_session(self, tenant: str, session_id: str) -> None:
        """See `Store.delete_session`: META first (the session is gone at once), then every
        item of its partition in batches of 25, its checkpoints, then its blobs."""
        self._session_item(tenant, session_id)
        self._purge(tenant, session_id)

    def _purge(self, tenant: str, session_id: str) -> None:
        pk = session_pk(tenant, session_id)
        self._call("delete_item", Key=key(pk, META))
        items = self._query_all(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=values(pk=pk),
            ProjectionExpression="pk, sk",
            ConsistentRead=True,
        )
        items += self._query_all(
            KeyConditionExpression="pk = :pk",
            FilterExpression="tenant = :t AND session_id = :s",
            ExpressionAttributeValues=values(pk="CKPT", t=tenant, s=session_id),
            ProjectionExpression="pk, sk",
            ConsistentRead=True,
        )
        self._batch_delete([{"pk": i["pk"], "sk": i["sk"]} for i in items])
        self.blobs.delete_prefix(self._prefix(tenant, session_id))
        logger.info(
            "tenant=%s session=%s items=%d | session deleted", tenant, session_id, len(items)
        )

    # ------------------------------------------------------------ lease & queue

    def _lease_conflict(self, tenant: str, session_id: str, message: str) -> ConflictError:
        session = self._session(tenant, session_id)  # NotFoundError if it is gone
        holder = session.lease.run_id if session.lease else None
        return ConflictError(message, holder=holder)

    def acquire_session_lease(
        self, tenant: str, session_id: str, run_id: str, ttl_s: float, *, now: float | None = None
    ) -> Session:
        """See `Store.acquire_session_lease`: one conditional UpdateItem."""
        self._check_session_key(tenant, session_id)
        now = self._now(now)
        try:
            response = self._call(
                "update_item",
                Key=key(session_pk(tenant, session_id), META),
                UpdateExpression="SET lease_run = :run, lease_exp = :exp, version = version + :one",
                ConditionExpression=ACQUIRE_CONDITION,
                ExpressionAttributeNames={"#exp": "exp"},
                ExpressionAttributeValues=values(run=run_id, exp=now + ttl_s, now=now, one=1),
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed:
            raise self._lease_conflict(tenant, session_id, "session is busy") from None
        return session_from(response["Attributes"])

    def renew_session_lease(
        self, tenant: str, session_id: str, run_id: str, ttl_s: float, *, now: float | None = None
    ) -> Session:
        """See `Store.renew_session_lease`: one UpdateItem, conditional on the holder and on
        extending the lease (a read follows only when it already lasts long enough)."""
        self._check_session_key(tenant, session_id)
        now = self._now(now)
        try:
            response = self._call(
                "update_item",
                Key=key(session_pk(tenant, session_id), META),
                UpdateExpression="SET lease_exp = :exp",
                ConditionExpression=f"attribute_exists(pk) AND {ALIVE} AND lease_run = :run "
                "AND lease_exp < :exp",
                ExpressionAttributeNames={"#exp": "exp"},
                ExpressionAttributeValues=values(run=run_id, exp=now + ttl_s, now=now),
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed:
            session = self._session(tenant, session_id)  # NotFoundError if it is gone
            if session.lease is None or session.lease.run_id != run_id:
                holder = session.lease.run_id if session.lease else None
                raise ConflictError(
                    "lease not held by this run", run_id=run_id, holder=holder
                ) from None
            return session  # held, and already lasting at least that long
        return session_from(response["Attributes"])

    def _cas_session(
        self, session: Session, sets: list[str], vals: dict[str, Any], removes: tuple[str, ...] = ()
    ) -> bool:
        """SET `sets` (and REMOVE `removes`) if the session's version is unchanged; False if
        it moved."""
        update = "SET " + ", ".join([*sets, "version = :new"])
        if removes:
            update += " REMOVE " + ", ".join(removes)
        names = {"ExpressionAttributeNames": {"#q": "queue"}} if "#q" in update else {}
        try:
            self._call(
                "update_item",
                Key=key(session_pk(session.tenant, session.session_id), META),
                UpdateExpression=update,
                ConditionExpression="version = :version",
                **names,
                ExpressionAttributeValues={
                    **vals,
                    **values(version=session.version, new=session.version + 1),
                },
            )
        except ConditionFailed:
            return False
        return True

    def release_session_lease(
        self,
        tenant: str,
        session_id: str,
        run_id: str,
        *,
        handoff_ttl_s: float | None = None,
        now: float | None = None,
    ) -> QueuedInput | None:
        """See `Store.release_session_lease` (read, then write conditional on version)."""
        now = self._now(now)
        for _ in range(CAS_RETRIES):
            session = self._session(tenant, session_id)
            if session.lease is None or session.lease.run_id != run_id:
                raise ConflictError("lease not held by this run", run_id=run_id)
            if handoff_ttl_s is not None and session.queue:
                head, *rest = session.queue
                done = self._cas_session(
                    session,
                    ["lease_run = :run", "lease_exp = :exp", "#q = :queue"],
                    {
                        **_queue_value(rest),
                        **values(run=head.run_id, exp=now + handoff_ttl_s),
                    },
                )
                if done:
                    return self._unpack_queued(head)
            elif self._cas_session(session, [], {}, ("lease_run", "lease_exp")):
                return None
        raise ConflictError("session too contended to release the lease", session_id=session_id)

    def steal_session_lease(
        self,
        tenant: str,
        session_id: str,
        run_id: str,
        *,
        expected_holder: str,
        ttl_s: float,
        now: float | None = None,
    ) -> Session:
        """See `Store.steal_session_lease`: conditional on the current holder's run id."""
        self._check_session_key(tenant, session_id)
        now = self._now(now)
        try:
            response = self._call(
                "update_item",
                Key=key(session_pk(tenant, session_id), META),
                UpdateExpression="SET lease_run = :run, lease_exp = :exp, version = version + :one",
                ConditionExpression=f"attribute_exists(pk) AND {ALIVE} AND lease_run = :holder",
                ExpressionAttributeNames={"#exp": "exp"},
                ExpressionAttributeValues=values(
                    run=run_id, exp=now + ttl_s, now=now, one=1, holder=expected_holder
                ),
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed:
            raise self._lease_conflict(tenant, session_id, "lease moved") from None
        return session_from(response["Attributes"])

    def enqueue_input(self, tenant: str, session_id: str, queued: QueuedInput) -> Session:
        """See `Store.enqueue_input`: list_append conditional on the queue's size."""
        self._check_session_key(tenant, session_id)
        queued = self._pack_queued(tenant, session_id, queued)
        now = self.clock()
        if not queued.queued_at:
            queued = queued.model_copy(update={"queued_at": now})
        try:
            response = self._call(
                "update_item",
                Key=key(session_pk(tenant, session_id), META),
                UpdateExpression="SET #q = list_append(#q, :item), version = version + :one",
                ConditionExpression=f"attribute_exists(pk) AND {ALIVE} AND size(#q) < :cap",
                ExpressionAttributeNames={"#q": "queue", "#exp": "exp"},
                ExpressionAttributeValues={
                    ":item": {"L": [{"S": queued.model_dump_json()}]},
                    **values(one=1, cap=self.max_queue, now=now),
                },
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed:
            self._session(tenant, session_id)
            raise ConflictError(
                "queue is full", reason="queue_full", limit=self.max_queue
            ) from None
        return session_from(response["Attributes"])

    def pop_queued_input(self, tenant: str, session_id: str) -> QueuedInput | None:
        """See `Store.pop_queued_input` (read, then write conditional on version)."""
        for _ in range(CAS_RETRIES):
            session = self._session(tenant, session_id)
            if not session.queue:
                return None
            head, *rest = session.queue
            if self._cas_session(session, ["#q = :queue"], _queue_value(rest)):
                return self._unpack_queued(head)
        raise ConflictError("session too contended to pop its queue", session_id=session_id)

    # ----------------------------------------------------------------- messages

    def append_message(
        self, tenant: str, session_id: str, message: Message, *, idempotency_key: str | None = None
    ) -> Message:
        """See `Store.append_message`: one transaction bumps `last_seq` on META (conditional
        on its old value), puts MSG#<seq> and, with a key, the idempotency marker."""
        self._check_session_key(tenant, session_id)
        packed = self._pack_message(tenant, session_id, message)
        pk = session_pk(tenant, session_id)
        marker = None if idempotency_key is None else f"IDEM#MSG#{idempotency_key}"
        for _ in range(CAS_RETRIES):
            session = self._session(tenant, session_id)
            now = self.clock()
            seq = session.last_seq + 1
            stored = packed.model_copy(
                update={"seq": seq, "created_at": now, "expires_at": session.expires_at}
            )
            item = check_size(data_item(pk, msg_sk(seq), stored))
            writes: list[dict[str, Any]] = [
                {
                    "Update": {
                        "Key": key(pk, META),
                        "UpdateExpression": "SET last_seq = :seq, updated_at = :now, gsi1sk = :g",
                        "ConditionExpression": "last_seq = :prev",
                        "ExpressionAttributeValues": values(
                            seq=seq, now=now, g=sessions_sk(now, session_id), prev=seq - 1
                        ),
                    }
                },
                {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
            ]
            if marker is not None:
                marker_item = {**key(pk, marker), "seq": to_av(seq)}
                if session.expires_at is not None:
                    marker_item["ttl"] = item["ttl"]
                writes.append(
                    {
                        "Put": {
                            "Item": marker_item,
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    }
                )
            try:
                self._transact(writes)
            except ConditionFailed as failed:
                if marker is not None and failed.reasons[2:3] == ["ConditionalCheckFailed"]:
                    existing = self._get(pk, marker)
                    if existing is not None:
                        first = self._get(pk, msg_sk(int(existing["seq"]["N"])))
                        if first is not None:
                            return self._unpack_message(Message(**body(first)), True)
                continue
            return self._unpack_message(stored, True)
        raise ConflictError("session too contended to append", session_id=session_id)

    def list_messages(
        self,
        tenant: str,
        session_id: str,
        *,
        limit: int = 50,
        cursor: str | None = None,
        newest_first: bool = False,
        hydrate: bool = True,
    ) -> Page[Message]:
        """See `Store.list_messages`: a Query with Limit, so a page reads ~`limit` items."""
        self._check_limit(limit)
        self._session_item(tenant, session_id)
        pk = session_pk(tenant, session_id)
        now = self.clock()
        items, next_cursor = self._query_page(
            scope=f"messages|{tenant}|{session_id}|{'desc' if newest_first else 'asc'}",
            partition=("pk", pk),
            cursor=cursor,
            limit=limit,
            keep=lambda item: self._alive_item(item, now),
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues=values(pk=pk, p="MSG#"),
            ScanIndexForward=not newest_first,
            ConsistentRead=True,
        )
        messages = [self._unpack_message(Message(**body(i)), hydrate) for i in items]
        return Page(items=messages, cursor=next_cursor)

    def get_messages(
        self, tenant: str, session_id: str, from_seq: int, to_seq: int, *, hydrate: bool = True
    ) -> list[Message]:
        """See `Store.get_messages`."""
        self._session_item(tenant, session_id)
        if to_seq < from_seq:
            return []
        pk = session_pk(tenant, session_id)
        items = self._query_all(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues=values(pk=pk, lo=msg_sk(from_seq), hi=msg_sk(to_seq)),
            ConsistentRead=True,
        )
        now = self.clock()
        return [
            self._unpack_message(Message(**body(i)), hydrate)
            for i in items
            if self._alive_item(i, now)
        ]

    def put_summary(self, tenant: str, session_id: str, summary: Summary) -> Summary:
        """See `Store.put_summary`."""
        session = self._session(tenant, session_id)
        summary = summary.model_copy(
            update={
                "created_at": summary.created_at or self.clock(),
                "expires_at": session.expires_at,
            }
        )
        item = data_item(session_pk(tenant, session_id), f"SUM#{summary.to_seq:012d}", summary)
        self._call("put_item", Item=check_size(item))
        return summary

    def get_summary(self, tenant: str, session_id: str) -> Summary | None:
        """See `Store.get_summary`: the newest SUM# item."""
        self._session_item(tenant, session_id)
        pk = session_pk(tenant, session_id)
        response = self._call(
            "query",
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues=values(pk=pk, p="SUM#"),
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items: list[Item] = response.get("Items", [])
        if not items or not self._alive_item(items[0]):
            return None
        return Summary(**body(items[0]))


def _queue_value(queue: list[QueuedInput]) -> dict[str, Any]:
    return {":queue": {"L": [{"S": q.model_dump_json()} for q in queue]}}
