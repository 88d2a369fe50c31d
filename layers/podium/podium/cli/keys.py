"""`podium keys create|list|revoke`: API keys, stored hashed in the configured store."""

from __future__ import annotations

import argparse
import json

from podium import settings
from podium.errors import InputError


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = sub.add_parser("create", help="create a key (shown once)")
    create.add_argument("--tenant", required=True)
    create.add_argument("--scope", action="append", dest="scopes",
                        help="runs, sessions:read or admin (repeatable; default runs + "
                        "sessions:read)")  # fmt: skip
    create.add_argument("--name", default="")
    create.add_argument("--rate-limit", type=int, help="requests a minute for this key")
    listing = sub.add_parser("list", help="a tenant's keys (hashes, never secrets)")
    listing.add_argument("--tenant", required=True)
    revoke = sub.add_parser("revoke", help="revoke a key by its hash (or a unique prefix)")
    revoke.add_argument("key_hash")
    revoke.add_argument("--tenant", required=True)
    for command in (create, listing, revoke):
        command.add_argument("--home", help="local state folder (default .podium)")
        command.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from podium.api.auth import create_key  # noqa: PLC0415
    from podium.store.factory import build_store  # noqa: PLC0415

    store = build_store(home=args.home or str(settings.home_dir()))
    try:
        if args.action == "create":
            secret, record = create_key(
                store,
                args.tenant,
                scopes=args.scopes,
                name=args.name,
                rate_limit_per_min=args.rate_limit,
            )
            shown = {"key": secret, "key_hash": record.key_hash, "tenant": record.tenant,
                     "scopes": record.scopes}  # fmt: skip
            print(json.dumps(shown) if args.json else
                  f"{secret}\n(tenant {record.tenant}, scopes {', '.join(record.scopes)}; "
                  "shown once: store it now)")  # fmt: skip
        elif args.action == "list":
            keys = store.list_api_keys(args.tenant)
            rows = [k.model_dump(exclude={"schema_version"}) for k in keys]
            if args.json:
                print(json.dumps(rows))
            for row in [] if args.json else rows:
                state = "revoked" if row["revoked"] else "active"
                print(f"{row['key_hash'][:16]}  {state:8} {','.join(row['scopes'])}  {row['name']}")
        else:
            matches = [k for k in store.list_api_keys(args.tenant)
                       if k.key_hash.startswith(args.key_hash)]  # fmt: skip
            if len(matches) != 1:
                raise InputError(
                    f"{len(matches)} keys of tenant {args.tenant} match "
                    f"{args.key_hash!r}: give more of the hash"
                )
            store.revoke_api_key(matches[0].key_hash)
            print(f"revoked {matches[0].key_hash[:16]}")
    finally:
        store.close()
    return 0
