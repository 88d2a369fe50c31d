"""Blob stores: a directory locally, S3 in AWS."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from podium.errors import InputError, NotFoundError
from podium.store.blobs import DiskBlobStore, S3BlobStore
from podium.store.payloads import decode_cursor, encode_cursor, offload, preview


def exercise(blobs) -> None:
    blobs.put("t/a/s/1/msg/x", b"one")
    blobs.put("t/a/s/1/evt/y", b"two")
    blobs.put("t/a/s/2/msg/z", b"three")
    assert blobs.get("t/a/s/1/msg/x") == b"one"
    assert blobs.list_keys("t/a/s/1/") == ["t/a/s/1/evt/y", "t/a/s/1/msg/x"]
    assert blobs.delete_prefix("t/a/s/1/") == 2
    assert blobs.list_keys("t/a/") == ["t/a/s/2/msg/z"]
    with pytest.raises(NotFoundError):
        blobs.get("t/a/s/1/msg/x")


def test_disk_blob_store(tmp_path):
    blobs = DiskBlobStore(tmp_path)
    exercise(blobs)
    assert not (tmp_path / "t" / "a" / "s" / "1").exists()


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "..", "a/."])
def test_disk_blob_store_refuses_escaping_keys(tmp_path, key):
    with pytest.raises(InputError):
        DiskBlobStore(tmp_path).put(key, b"x")


def test_s3_blob_store(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="blobs-bucket")
        exercise(S3BlobStore("blobs-bucket", s3, prefix="podium/"))
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="blobs-bucket")["Contents"]]
        assert keys == ["podium/t/a/s/2/msg/z"]


def test_offload_keeps_small_values_and_previews_large_ones(tmp_path):
    blobs = DiskBlobStore(tmp_path)
    assert offload("small", blobs=blobs, prefix="p/", kind="msg", threshold=100) == ("small", None)
    text = "H" * 2000 + "m" * 10_000 + "T" * 2000
    value, ref = offload(
        text, blobs=blobs, prefix="p/", kind="msg", threshold=100, preview_text=text
    )
    assert value is None
    assert ref is not None
    assert ref.preview.startswith("H" * 1000 + "\n…[12000 characters omitted]…\n")
    assert ref.preview.endswith("T" * 1000)
    assert ref.size == len(text) + 2  # its JSON encoding: quoted
    assert preview("short") == "short"


def test_cursors_are_bound_to_their_scope():
    cursor = encode_cursor("messages|acme|s1|asc", 42)
    assert decode_cursor(cursor, "messages|acme|s1|asc") == 42
    assert decode_cursor(None, "x") is None
    for wrong in ("messages|globex|s1|asc", "messages|acme|s2|asc"):
        with pytest.raises(InputError):
            decode_cursor(cursor, wrong)
    with pytest.raises(InputError):
        decode_cursor("%%%", "x")
