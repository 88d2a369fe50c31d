"""The DynamoDB store's foundation: calls, error mapping, paged queries, session reads."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from podium.errors import InputError, NotFoundError, StoreError
from podium.store.base import Store
from podium.store.dynamodb_codec import META, Item, key, session_from, session_pk
from podium.store.models import Session
from podium.store.payloads import decode_cursor, encode_cursor

if TYPE_CHECKING:
    from podium.store.blobs import BlobStore

logger = logging.getLogger(__name__)

GSI1 = "GSI1"
BATCH_WRITE_MAX = 25  # BatchWriteItem: at most 25 requests per call (moto accepts 26)
TRANSACT_MAX = 25  # events written per TransactWriteItems call (AWS allows 100 / 4 MB)
CAS_RETRIES = 50  # read-modify-write attempts before giving up with ConflictError


class ConditionFailed(Exception):  # noqa: N818 — a signal between our own methods
    """A conditional write (or a transaction) was refused; `reasons` per transaction item."""

    def __init__(self, reasons: list[str] | None = None) -> None:
        super().__init__("condition failed")
        self.reasons = reasons or []


class DynamoBase(Store):
    """Client calls and helpers shared by the DynamoDB store's parts."""

    def __init__(
        self,
        table: str,
        client: Any = None,
        *,
        blobs: BlobStore | None = None,
        **options: Any,
    ) -> None:
        if client is None:
            import boto3  # noqa: PLC0415 — boto3 is only needed in AWS

            client = boto3.client("dynamodb")
        if blobs is None:
            raise InputError("DynamoStore needs a blob store (S3BlobStore in AWS)")
        super().__init__(blobs=blobs, **options)
        self.table = table
        self.client = client

    # -------------------------------------------------------------------- calls

    def _batch_delete(self, keys: list[Item]) -> None:
        self._batch_write([{"DeleteRequest": {"Key": k}} for k in keys])

    def _batch_put(self, items: list[Item]) -> None:
        self._batch_write([{"PutRequest": {"Item": item}} for item in items])

    def _batch_write(self, requests: list[Any]) -> None:
        """BatchWriteItem in requests of 25, resending what DynamoDB left unprocessed; a
        StoreError if some is still unprocessed after the retries."""
        for start in range(0, len(requests), BATCH_WRITE_MAX):
            chunk = requests[start : start + BATCH_WRITE_MAX]
            for attempt in range(CAS_RETRIES):
                response = self._call("batch_write_item", RequestItems={self.table: chunk})
                chunk = response.get("UnprocessedItems", {}).get(self.table, [])
                if not chunk:
                    break
                time.sleep(min(0.05 * 2**attempt, 1.0))
            else:
                raise StoreError("DynamoDB left writes unprocessed", count=len(chunk))

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """Call the client; condition failures become ConditionFailed, the rest StoreError."""
        if operation not in ("transact_write_items", "batch_write_item"):
            kwargs["TableName"] = self.table
        try:
            result: dict[str, Any] = getattr(self.client, operation)(**kwargs)
        except Exception as exc:
            response = getattr(exc, "response", None)
            if not isinstance(response, dict):
                raise
            code = response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                raise ConditionFailed() from None
            if code == "TransactionCanceledException":
                reasons = [r.get("Code", "None") for r in response.get("CancellationReasons", [])]
                # TransactionConflict: another transaction touched an item at the same time;
                # callers retry those items like a failed condition.
                if {"ConditionalCheckFailed", "TransactionConflict"} & set(reasons):
                    raise ConditionFailed(reasons) from None
            logger.warning("operation=%s code=%s | dynamodb call failed", operation, code)
            raise StoreError(f"dynamodb {operation} failed", code=code, error=str(exc)) from exc
        return result

    def _get(self, pk: str, sk: str) -> Item | None:
        item: Item | None = self._call("get_item", Key=key(pk, sk), ConsistentRead=True).get("Item")
        return item

    def _transact(self, items: list[dict[str, Any]]) -> None:
        for entry in items:
            next(iter(entry.values()))["TableName"] = self.table
        self._call("transact_write_items", TransactItems=items)

    def _query_page(
        self,
        *,
        scope: str,
        partition: tuple[str, str],
        cursor: str | None,
        limit: int,
        keep: Callable[[Item], bool],
        key_attrs: tuple[str, ...] = ("pk", "sk"),
        **query: Any,
    ) -> tuple[list[Item], str | None]:
        """Query until `limit` kept items (reading one more to know if more follow).

        The cursor is the last returned item's key, bound to `scope`; its partition
        attribute must be the one queried, so a forged cursor cannot reach another
        partition (another tenant's).
        """
        start = decode_cursor(cursor, scope)
        if start is not None:
            name, value = partition
            if not isinstance(start, dict) or start.get(name) != {"S": value}:
                raise InputError("invalid cursor: it belongs to another listing")
        kept: list[Item] = []
        while len(kept) <= limit:
            params = dict(query, Limit=limit + 1 - len(kept))
            if start is not None:
                params["ExclusiveStartKey"] = start
            response = self._call("query", **params)
            kept.extend(item for item in response.get("Items", []) if keep(item))
            start = response.get("LastEvaluatedKey")
            if start is None:
                break
        if len(kept) <= limit:
            return kept, None
        kept = kept[:limit]
        position = {name: kept[-1][name] for name in key_attrs}
        return kept, encode_cursor(scope, position)

    def _query_all(self, **query: Any) -> list[Item]:
        items: list[Item] = []
        while True:
            response = self._call("query", **query)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _alive_item(self, item: Item, now: float | None = None) -> bool:
        exp = item.get("exp")
        return exp is None or float(exp["N"]) > (self.clock() if now is None else now)

    # ------------------------------------------------------------------ helpers

    def _session_item(self, tenant: str, session_id: str) -> Item:
        self._check_session_key(tenant, session_id)
        item = self._get(session_pk(tenant, session_id), META)
        if item is None or not self._alive_item(item):
            raise NotFoundError("session not found", session_id=session_id)
        return item

    def _session(self, tenant: str, session_id: str) -> Session:
        return session_from(self._session_item(tenant, session_id))
