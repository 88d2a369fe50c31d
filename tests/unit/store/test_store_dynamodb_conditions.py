"""What the DynamoDB store sends: the exact conditions behind leases and idempotency."""

from __future__ import annotations

from typing import Any

import pytest

from podium.errors import ConflictError
from podium.store.blobs import DiskBlobStore
from podium.store.dynamodb import ACQUIRE_CONDITION, DynamoStore
from podium.store.dynamodb_codec import session_item
from podium.store.models import Message, Session


class ConditionFailedError(Exception):
    def __init__(self, code: str = "ConditionalCheckFailedException") -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}}


class StubClient:
    """Records every call; answers from a canned session item."""

    def __init__(self, session: Session) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.item = session_item(session)
        self.fail_updates = False

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("get_item", kwargs))
        return {"Item": self.item}

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("update_item", kwargs))
        if self.fail_updates:
            raise ConditionFailedError
        return {"Attributes": self.item}

    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("transact_write_items", kwargs))
        return {}


@pytest.fixture
def session() -> Session:
    return Session(
        tenant="acme",
        session_id="s1",
        agent="helper",
        agent_hash="h",
        created_at=100.0,
        updated_at=100.0,
    )


@pytest.fixture
def stub(session: Session) -> StubClient:
    return StubClient(session)


@pytest.fixture
def store(stub: StubClient, tmp_path) -> DynamoStore:
    return DynamoStore("table", stub, blobs=DiskBlobStore(tmp_path), clock=lambda: 500.0)


def test_lease_acquisition_sends_one_conditional_update(store, stub):
    store.acquire_session_lease("acme", "s1", "run-1", 30, now=1000.0)
    [(operation, call)] = stub.calls
    assert operation == "update_item"
    assert call["TableName"] == "table"
    assert call["Key"] == {"pk": {"S": "T#acme#S#s1"}, "sk": {"S": "META"}}
    assert call["ConditionExpression"] == (
        "attribute_exists(pk) AND (attribute_not_exists(#exp) OR #exp > :now) AND "
        "(attribute_not_exists(lease_run) OR lease_exp <= :now OR lease_run = :run)"
    )
    assert call["ConditionExpression"] == ACQUIRE_CONDITION
    assert call["UpdateExpression"] == (
        "SET lease_run = :run, lease_exp = :exp, version = version + :one"
    )
    assert call["ExpressionAttributeNames"] == {"#exp": "exp"}
    assert call["ExpressionAttributeValues"] == {
        ":run": {"S": "run-1"},
        ":exp": {"N": "1030.0"},
        ":now": {"N": "1000.0"},
        ":one": {"N": "1"},
    }


def test_a_refused_condition_is_a_conflict_naming_the_holder(store, stub, session):
    held = session.model_copy()
    stub.item = {**session_item(held), "lease_run": {"S": "other"}, "lease_exp": {"N": "2000"}}
    stub.fail_updates = True
    with pytest.raises(ConflictError) as info:
        store.acquire_session_lease("acme", "s1", "run-1", 30, now=1000.0)
    assert info.value.details == {"holder": "other"}


def test_append_is_one_transaction_guarded_by_the_last_sequence(store, stub):
    store.append_message("acme", "s1", Message(role="user", content="hi"), idempotency_key="k")
    transact = [c for op, c in stub.calls if op == "transact_write_items"]
    assert len(transact) == 1
    update, put, marker = transact[0]["TransactItems"]
    assert update["Update"]["ConditionExpression"] == "last_seq = :prev"
    assert update["Update"]["ExpressionAttributeValues"][":prev"] == {"N": "0"}
    assert put["Put"]["Item"]["sk"] == {"S": "MSG#000000000001"}
    assert put["Put"]["ConditionExpression"] == "attribute_not_exists(pk)"
    assert marker["Put"]["Item"]["sk"] == {"S": "IDEM#MSG#k"}
    assert marker["Put"]["ConditionExpression"] == "attribute_not_exists(pk)"


def test_a_transaction_conflict_is_retried(store, stub):
    attempts: list[int] = []
    original = stub.transact_write_items

    def flaky(**kwargs: Any) -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) == 1:
            error = ConditionFailedError("TransactionCanceledException")
            error.response["CancellationReasons"] = [
                {"Code": "TransactionConflict"},
                {"Code": "None"},
            ]
            raise error
        return original(**kwargs)

    stub.transact_write_items = flaky
    stored = store.append_message("acme", "s1", Message(role="user", content="hi"))
    assert stored.seq == 1
    assert len(attempts) == 2
