"""The package's surface: cheap import, the factory, frozen item fixtures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from podium.errors import InputError
from podium.store import models
from podium.store.factory import build_store
from podium.store.sqlite import SqliteStore

FIXTURES = Path(__file__).parent / "fixtures"


def test_import_does_not_pull_boto3_or_litellm():
    code = (
        "import sys, podium.store, podium.store.base, podium.store.sqlite, "
        "podium.store.dynamodb, podium.store.context, podium.store.factory; "
        "print(sorted(m for m in ('boto3', 'botocore', 'litellm', 'moto') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_factory_defaults_to_sqlite_under_home(tmp_path, monkeypatch):
    monkeypatch.delenv("PODIUM_STORE", raising=False)
    monkeypatch.setenv("PODIUM_HOME", str(tmp_path))
    store = build_store()
    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / "podium.db"
    store.close()


def test_factory_needs_table_and_bucket_for_dynamodb(monkeypatch):
    monkeypatch.setenv("PODIUM_STORE", "dynamodb")
    monkeypatch.delenv("PODIUM_TABLE", raising=False)
    with pytest.raises(InputError):
        build_store()
    with pytest.raises(InputError):
        build_store("cassandra")


def test_factory_builds_dynamodb_from_settings(monkeypatch):
    from podium.store.dynamodb import DynamoStore

    monkeypatch.setenv("PODIUM_TABLE", "t")
    monkeypatch.setenv("PODIUM_BUCKET", "b")
    monkeypatch.setenv("PODIUM_BLOB_THRESHOLD", "1000")
    store = build_store("dynamodb", dynamodb_client=object(), s3_client=object())
    assert isinstance(store, DynamoStore)
    assert store.table == "t"
    assert store.blob_threshold == 1000


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("v*/*.json")), ids=lambda p: p.stem)
def test_frozen_items_still_load(path):
    """Items written by schema version N must stay readable: one frozen fixture per model."""
    model = getattr(models, path.stem)
    data = json.loads(path.read_text())
    loaded = model.model_validate(data)
    assert loaded.schema_version == int(path.parent.name[1:])
