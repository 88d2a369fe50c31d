"""Idempotency keys, one mechanism on both stores: a claim is taken once, its work's result is
kept for later claims, a held claim is refused, a dead holder's claim is taken over, and a
key reused for another request is refused."""

from __future__ import annotations

import threading

import pytest

from podium.errors import IdempotencyInProgressError, IdempotencyKeyReusedError

SCOPE = "api:acme"


def test_a_key_is_claimed_once_and_its_result_kept(store, clock):
    first = store.claim_idempotency_key(SCOPE, "k-1", fingerprint="post /sessions {}")
    assert (first.status, first.attempts, first.result) == ("in_progress", 1, None)
    with pytest.raises(IdempotencyInProgressError) as held:
        store.claim_idempotency_key(SCOPE, "k-1", fingerprint="post /sessions {}")
    assert held.value.status == 409 and held.value.details["retry_after"] >= 1
    store.complete_idempotency_key(SCOPE, "k-1", {"session_id": "s1"})
    again = store.claim_idempotency_key(SCOPE, "k-1", fingerprint="post /sessions {}")
    assert (again.status, again.result) == ("completed", {"session_id": "s1"})
    # scopes are apart: another tenant's same key is its own
    other = store.claim_idempotency_key("api:other", "k-1", fingerprint="post /sessions {}")
    assert other.status == "in_progress"


def test_a_key_sent_with_another_request_is_refused(store):
    store.claim_idempotency_key(SCOPE, "k-2", fingerprint="one")
    with pytest.raises(IdempotencyKeyReusedError) as reused:
        store.claim_idempotency_key(SCOPE, "k-2", fingerprint="two")
    assert reused.value.status == 422
    store.complete_idempotency_key(SCOPE, "k-2", {"ok": True})
    with pytest.raises(IdempotencyKeyReusedError):
        store.claim_idempotency_key(SCOPE, "k-2", fingerprint="two")


def test_a_released_claim_starts_afresh_and_a_completed_one_stays(store):
    store.claim_idempotency_key(SCOPE, "k-3")
    store.release_idempotency_key(SCOPE, "k-3")
    assert store.claim_idempotency_key(SCOPE, "k-3").attempts == 1
    store.complete_idempotency_key(SCOPE, "k-3", {"run_id": "r"})
    store.release_idempotency_key(SCOPE, "k-3")  # done work is not undone
    assert store.claim_idempotency_key(SCOPE, "k-3").status == "completed"


def test_a_dead_holders_claim_is_taken_over_and_an_old_key_forgotten(store, clock):
    first = store.claim_idempotency_key(SCOPE, "k-4", lease_s=30, keep_s=3600)
    clock.advance(31)
    taken = store.claim_idempotency_key(SCOPE, "k-4", lease_s=30, keep_s=3600)
    assert (taken.status, taken.attempts) == ("in_progress", 2)
    assert taken.first_claimed_at == first.first_claimed_at
    store.complete_idempotency_key(SCOPE, "k-4", {"run_id": "r"})
    clock.advance(3600)
    fresh = store.claim_idempotency_key(SCOPE, "k-4", lease_s=30, keep_s=3600)
    assert (fresh.status, fresh.attempts) == ("in_progress", 1)


def test_concurrent_claims_one_wins(store):
    outcomes: list[str] = []
    gate = threading.Barrier(6)

    def claim() -> None:
        gate.wait()
        try:
            outcomes.append(store.claim_idempotency_key(SCOPE, "k-5").status)
        except IdempotencyInProgressError:
            outcomes.append("refused")

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["in_progress"] + ["refused"] * 5
