"""Small builders shared by the contract tests."""

from __future__ import annotations

from typing import Any

from podium.store.base import Store
from podium.store.ids import new_run_id
from podium.store.models import Message, Run, Session

TENANT = "acme"
OTHER = "globex"


def new_session(store: Store, tenant: str = TENANT, **kwargs: Any) -> Session:
    kwargs.setdefault("agent", "helper")
    kwargs.setdefault("agent_hash", "hash-1")
    return store.create_session(tenant, **kwargs)


def new_run(store: Store, session: Session, run_id: str | None = None, **kwargs: Any) -> Run:
    return store.create_run(
        Run(
            tenant=session.tenant,
            session_id=session.session_id,
            run_id=run_id or new_run_id(),
            agent=session.agent,
            agent_hash=session.agent_hash,
            **kwargs,
        )
    )


def user(text: str) -> Message:
    return Message(role="user", content=text)


def all_pages(fetch: Any) -> list[Any]:
    """Follow cursors until the end; returns every item."""
    items: list[Any] = []
    cursor = None
    while True:
        page = fetch(cursor)
        items.extend(page.items)
        if page.cursor is None:
            return items
        cursor = page.cursor
