"""Build the configured store: SQLite under PODIUM_HOME by default, DynamoDB + S3 in AWS."""

from __future__ import annotations

import logging
from typing import Any

from podium.errors import InputError
from podium.settings import (
    DEFAULT_BLOB_THRESHOLD,
    DEFAULT_SQLITE_FILE,
    ENV_BLOB_THRESHOLD,
    ENV_BUCKET,
    ENV_STORE,
    ENV_TABLE,
    home_dir,
    resolve,
)
from podium.store.base import Store

logger = logging.getLogger(__name__)


def build_store(
    kind: str | None = None,
    *,
    home: str | None = None,
    table: str | None = None,
    bucket: str | None = None,
    blob_threshold: int | None = None,
    dynamodb_client: Any = None,
    s3_client: Any = None,
    **options: Any,
) -> Store:
    """Return the store the settings name (explicit argument → environment → default).

    - `sqlite` (default): `$PODIUM_HOME/podium.db`, blobs in `$PODIUM_HOME/blobs`.
    - `dynamodb`: table `$PODIUM_TABLE`, blobs in bucket `$PODIUM_BUCKET`.
    """
    kind = resolve(kind, ENV_STORE, "sqlite")
    threshold = blob_threshold or int(
        resolve(None, ENV_BLOB_THRESHOLD, str(DEFAULT_BLOB_THRESHOLD))
    )
    if kind == "sqlite":
        from podium.store.blobs import DiskBlobStore  # noqa: PLC0415
        from podium.store.sqlite import SqliteStore  # noqa: PLC0415

        root = home_dir(home)
        logger.info("store=sqlite path=%s | store ready", root / DEFAULT_SQLITE_FILE)
        return SqliteStore(
            root / DEFAULT_SQLITE_FILE,
            blobs=DiskBlobStore(root / "blobs"),
            blob_threshold=threshold,
            **options,
        )
    if kind == "dynamodb":
        from podium.store.blobs import S3BlobStore  # noqa: PLC0415
        from podium.store.dynamodb import DynamoStore  # noqa: PLC0415

        table_name = resolve(table, ENV_TABLE, "")
        bucket_name = resolve(bucket, ENV_BUCKET, "")
        if not table_name or not bucket_name:
            raise InputError(f"the dynamodb store needs {ENV_TABLE} and {ENV_BUCKET}")
        logger.info("store=dynamodb table=%s bucket=%s | store ready", table_name, bucket_name)
        return DynamoStore(
            table_name,
            dynamodb_client,
            blobs=S3BlobStore(bucket_name, s3_client),
            blob_threshold=threshold,
            **options,
        )
    raise InputError(f"unknown store {kind!r} (set {ENV_STORE} to sqlite or dynamodb)")
