"""Time-sortable ids and deterministic event ids."""

from __future__ import annotations

import pytest

from podium.errors import InputError
from podium.store.ids import (
    MAX_STEP,
    check_name,
    content_hash,
    event_id,
    new_run_id,
    parse_event_id,
    ulid_time,
)


def test_run_ids_are_26_crockford_chars_and_sort_by_time():
    ids = [new_run_id(1_767_225_600 + i * 0.5) for i in range(50)]
    assert all(len(i) == 26 for i in ids)
    assert all(set(i) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for i in ids)
    assert ids == sorted(ids)
    assert ulid_time(ids[0]) == pytest.approx(1_767_225_600, abs=0.001)


def test_ids_made_in_the_same_millisecond_stay_ordered():
    ids = [new_run_id(1_767_225_600.0) for _ in range(1000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 1000


def test_event_ids_are_zero_padded_and_sort_causally():
    early, late = new_run_id(1_767_225_600), new_run_id(1_767_225_601)
    ids = [
        event_id(early, 2, 0, 5),
        event_id(early, 10, 0, 0),
        event_id(early, 10, 1, 0),
        event_id(early, 10, 1, 11),
        event_id(late, 0, 0, 0),
    ]
    assert ids == sorted(ids)
    assert event_id(early, 3, 1, 7) == f"{early}.0003.01.000007"
    assert parse_event_id(ids[3]) == (early, 10, 1, 11)


@pytest.mark.parametrize(
    ("step", "attempt", "seq"), [(MAX_STEP + 1, 0, 0), (0, 100, 0), (0, 0, 10**6), (-1, 0, 0)]
)
def test_event_ids_out_of_range_are_refused(step, attempt, seq):
    with pytest.raises(InputError):
        event_id(new_run_id(), step, attempt, seq)


def test_event_ids_need_a_run_id():
    with pytest.raises(InputError):
        event_id("not-a-ulid", 0, 0, 0)
    with pytest.raises(InputError):
        parse_event_id("x.0001.00.000001")


@pytest.mark.parametrize("name", ["acme", "tenant-1", "a.b:c@d_e", "0"])
def test_safe_names(name):
    assert check_name(name, "tenant") == name


@pytest.mark.parametrize("name", ["", "a#b", "a/b", "-x", " a", "é", "x" * 129])
def test_unsafe_names(name):
    with pytest.raises(InputError):
        check_name(name, "tenant")


def test_content_hash_ignores_key_order():
    assert content_hash({"a": 1, "b": [1, 2]}) == content_hash({"b": [1, 2], "a": 1})
    assert content_hash({"a": 1}) != content_hash({"a": 2})
