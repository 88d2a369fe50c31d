"""Items of the single DynamoDB table: keys, attribute values, and model ⇄ item.

An item keeps its slowly changing fields as one JSON string (`data`), and the fields that
conditions test or counters add to as top-level attributes (version, lease, queue, usage
counters, approvals, expiry). JSON avoids DynamoDB's float/Decimal pitfalls; top-level
numbers let `ADD` and `ConditionExpression` work atomically.
"""

from __future__ import annotations

import json
import math
from typing import Any

from podium.errors import PayloadTooLargeError
from podium.store.models import (
    USAGE_FIELDS,
    Lease,
    PendingApproval,
    QueuedInput,
    Run,
    Session,
    Usage,
)
from podium.store.payloads import dumps

AV = dict[str, Any]
Item = dict[str, AV]

META = "META"
MAX_ITEM_BYTES = 400 * 1024
SESSION_TOP = frozenset({"version", "last_seq", "lease", "queue", "usage", "updated_at"})
RUN_TOP = frozenset({"version", "usage", "pending_approvals"})


def session_pk(tenant: str, session_id: str) -> str:
    """Partition of a session's items."""
    return f"T#{tenant}#S#{session_id}"


def tenant_pk(tenant: str) -> str:
    """GSI1 partition listing a tenant's sessions."""
    return f"T#{tenant}"


def msg_sk(seq: int) -> str:
    """Sort key of a message: zero-padded, so lexical order is sequence order."""
    return f"MSG#{seq:012d}"


def sessions_sk(updated_at: float, session_id: str) -> str:
    """GSI1 sort key: last update in milliseconds, then the session id."""
    return f"{millis(updated_at):015d}#{session_id}"


def millis(t: float) -> int:
    """Epoch seconds as whole milliseconds."""
    return int(t * 1000)


def to_av(value: Any) -> AV:
    """A Python value as a DynamoDB attribute value."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": repr(value) if isinstance(value, float) else str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list | tuple):
        return {"L": [to_av(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {str(k): to_av(v) for k, v in value.items()}}
    raise TypeError(f"cannot store {type(value).__name__}")


def from_av(av: AV) -> Any:
    """A DynamoDB attribute value as a Python value."""
    (kind, value), *_ = av.items()
    if kind == "NULL":
        return None
    if kind in ("S", "BOOL"):
        return value
    if kind == "N":
        text = str(value)
        return float(text) if any(c in text for c in ".eE") else int(text)
    if kind == "L":
        return [from_av(v) for v in value]
    if kind == "M":
        return {k: from_av(v) for k, v in value.items()}
    raise TypeError(f"unsupported attribute type {kind}")


def values(**named: Any) -> dict[str, AV]:
    """ExpressionAttributeValues from keyword arguments (`now=1` → `{":now": {"N": "1"}}`)."""
    return {f":{k}": to_av(v) for k, v in named.items()}


def key(pk: str, sk: str) -> Item:
    """A primary key."""
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def ttl_attrs(expires_at: float | None) -> Item:
    """`ttl` (whole seconds, for DynamoDB's TTL) and the exact expiry, when there is one."""
    if expires_at is None:
        return {}
    return {"ttl": {"N": str(math.ceil(expires_at))}, "exp": to_av(float(expires_at))}


def check_size(item: Item) -> Item:
    """Refuse an item DynamoDB would reject (payloads over the threshold go to blobs)."""
    size = sum(len(k) + len(json.dumps(v)) for k, v in item.items())
    if size > MAX_ITEM_BYTES:
        raise PayloadTooLargeError("item too large for DynamoDB", size=size, limit=MAX_ITEM_BYTES)
    return item


def data_item(pk: str, sk: str, model: Any, *, exclude: frozenset[str] = frozenset()) -> Item:
    """An item whose body is the model's JSON (minus top-level fields)."""
    body = model.model_dump(mode="json", exclude=set(exclude))
    return {**key(pk, sk), "data": {"S": dumps(body)}, **ttl_attrs(model.expires_at)}


def body(item: Item) -> dict[str, Any]:
    """The JSON body of an item."""
    loaded: dict[str, Any] = json.loads(item["data"]["S"])
    return loaded


def usage_attrs(usage: Usage) -> Item:
    """Usage counters as top-level numbers (`u_input_tokens`…)."""
    return {f"u_{name}": {"N": str(getattr(usage, name))} for name in USAGE_FIELDS}


def usage_from(item: Item) -> Usage:
    """Usage counters read back from top-level numbers."""
    return Usage(**{n: int(item[f"u_{n}"]["N"]) for n in USAGE_FIELDS if f"u_{n}" in item})


def usage_add_expression(usage: Usage) -> tuple[str, dict[str, AV]]:
    """`ADD u_x :u_x, …` and its values, for an atomic increment."""
    clause = ", ".join(f"u_{n} :u_{n}" for n in USAGE_FIELDS)
    return f"ADD {clause}", {f":u_{n}": {"N": str(getattr(usage, n))} for n in USAGE_FIELDS}


# ------------------------------------------------------------------- sessions


def session_item(session: Session) -> Item:
    """The META item of a new session."""
    item = data_item(
        session_pk(session.tenant, session.session_id), META, session, exclude=SESSION_TOP
    )
    item.update(
        {
            "gsi1pk": {"S": tenant_pk(session.tenant)},
            "gsi1sk": {"S": sessions_sk(session.updated_at, session.session_id)},
            "agent": {"S": session.agent},
            "version": {"N": str(session.version)},
            "last_seq": {"N": str(session.last_seq)},
            "updated_at": to_av(session.updated_at),
            "queue": {"L": [{"S": q.model_dump_json()} for q in session.queue]},
            **usage_attrs(session.usage),
        }
    )
    return check_size(item)


def session_from(item: Item) -> Session:
    """A Session from its META item."""
    lease = None
    if "lease_run" in item and "lease_exp" in item:
        lease = Lease(run_id=item["lease_run"]["S"], expires_at=from_av(item["lease_exp"]))
    return Session(
        **body(item),
        version=int(item["version"]["N"]),
        last_seq=int(item["last_seq"]["N"]),
        updated_at=from_av(item["updated_at"]),
        lease=lease,
        queue=[QueuedInput.model_validate_json(q["S"]) for q in item.get("queue", {"L": []})["L"]],
        usage=usage_from(item),
    )


# ----------------------------------------------------------------------- runs


def run_item(run: Run) -> Item:
    """The RUN item of a new run."""
    item = data_item(
        session_pk(run.tenant, run.session_id), f"RUN#{run.run_id}", run, exclude=RUN_TOP
    )
    item.update(
        {
            "version": {"N": str(run.version)},
            "approvals": {
                "M": {k: {"S": v.model_dump_json()} for k, v in run.pending_approvals.items()}
            },
            **usage_attrs(run.usage),
        }
    )
    return check_size(item)


def run_from(item: Item) -> Run:
    """A Run from its item."""
    approvals = {
        k: PendingApproval.model_validate_json(v["S"])
        for k, v in item.get("approvals", {"M": {}})["M"].items()
    }
    return Run(
        **body(item),
        version=int(item["version"]["N"]),
        usage=usage_from(item),
        pending_approvals=approvals,
    )
