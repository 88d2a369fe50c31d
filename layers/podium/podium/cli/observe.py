"""`podium trace`, `podium sessions list|show`, `podium usage`: what happened, in the terminal.

Each reads the local store (`--home`), or a running API with `--url` and `--key`; each
prints `--json` for scripts.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from podium import settings
from podium.errors import InputError, NotFoundError


def _source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", default="local", help="tenant (local store; default local)")
    parser.add_argument("--home", help="local state folder (default .podium)")
    parser.add_argument("--url", help="a running Podium API instead of the local store")
    parser.add_argument("--key", help="API key for --url")
    parser.add_argument("--json", action="store_true", help="print JSON")


def configure_trace(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id")
    parser.add_argument("--session", help="the run's session (found locally when omitted)")
    _source(parser)


def configure_sessions(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="sessions, newest first")
    listing.add_argument("--agent")
    listing.add_argument("--limit", type=int, default=20)
    _source(listing)
    show = sub.add_parser("show", help="a session: messages and runs")
    show.add_argument("session_id")
    _source(show)


def configure_usage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="since", help="first day, YYYY-MM-DD (default: 30 days)")
    parser.add_argument("--to", dest="until", help="last day, YYYY-MM-DD (default: today)")
    parser.add_argument(
        "--group-by", default="agent", choices=["tenant", "day", "agent", "model", "session"]
    )
    _source(parser)


class _Reader:
    """The same reads over the local store or the HTTP API."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.tenant = args.tenant
        self.client: Any = None
        self.store: Any = None
        if args.url:
            import httpx  # noqa: PLC0415

            self.client = httpx.Client(
                base_url=args.url, timeout=30, headers={"Authorization": f"Bearer {args.key}"}
            )
        else:
            from podium.store.factory import build_store  # noqa: PLC0415

            self.store = build_store(home=args.home or str(settings.home_dir()))

    def close(self) -> None:
        (self.client or self.store).close()

    def get(self, path: str, **params: Any) -> Any:
        from podium.client.client import _check  # noqa: PLC0415

        return _check(
            self.client.get(path, params={k: v for k, v in params.items() if v is not None})
        )


def trace(args: argparse.Namespace) -> int:
    reader = _Reader(args)
    try:
        if reader.client is not None:
            if not args.session:
                raise InputError("--session is needed with --url")
            data = reader.get(f"/sessions/{args.session}/runs/{args.run_id}/trace")
            spans = data["spans"]
        else:
            session = args.session or _session_of(reader.store, args.run_id)
            spans = [
                s.model_dump() for s in reader.store.list_spans(reader.tenant, session, args.run_id)
            ]
        if not spans:
            raise NotFoundError(f"no trace for run {args.run_id}")
        print(json.dumps(spans, indent=2) if args.json else render_tree(spans))
    finally:
        reader.close()
    return 0


def _session_of(store: Any, run_id: str) -> str:
    try:
        return str(store.get_checkpoint(run_id).session_id)
    except NotFoundError:
        raise InputError(f"run {run_id} is not in the local store: give --session") from None


def render_tree(spans: list[dict[str, Any]]) -> str:
    """The span tree with durations, tokens, cost and outcomes, one line per span."""
    children: dict[str | None, list[dict[str, Any]]] = {}
    ids = {s["span_id"] for s in spans}
    for span in sorted(spans, key=lambda s: (s["start"], s["span_id"])):
        parent = span.get("parent_id") if span.get("parent_id") in ids else None
        children.setdefault(parent, []).append(span)
    lines: list[str] = []

    def walk(parent: str | None, prefix: str) -> None:
        items = children.get(parent, [])
        for index, span in enumerate(items):
            last = index == len(items) - 1
            branch = "" if parent is None else ("└─ " if last else "├─ ")
            lines.append(prefix + branch + _describe(span))
            walk(span["span_id"], prefix + ("" if parent is None else ("   " if last else "│  ")))

    walk(None, "")
    return "\n".join(lines)


def _describe(span: dict[str, Any]) -> str:
    attributes = span.get("attributes") or {}
    end = span.get("end")
    duration = f"{(end - span['start']) * 1000:.0f} ms" if end else "running"
    name = str(span["name"])
    title = name if name.startswith(str(span["kind"])) else f"{span['kind']} {name}"
    parts = [title, duration, span.get("status", "")]
    if "cost_usd" in attributes:
        parts.append(f"${float(attributes['cost_usd']):.6f}")
    if "input_tokens" in attributes:
        parts.append(
            f"{attributes['input_tokens']} in / {attributes.get('output_tokens', 0)} out tok"
        )
    if attributes.get("ttft_ms") is not None:
        parts.append(f"ttft {attributes['ttft_ms']} ms")
    if "routing_reason" in attributes:
        parts.append(f"({attributes['routing_reason']})")
    if span.get("error"):
        parts.append(f"error: {span['error'].get('Error')}")
    return "  ".join(str(p) for p in parts if p)


def sessions(args: argparse.Namespace) -> int:
    reader = _Reader(args)
    try:
        if args.action == "list":
            if reader.client is not None:
                items = reader.get("/sessions", agent=args.agent, limit=args.limit)["items"]
            else:
                page = reader.store.list_sessions(reader.tenant, agent=args.agent, limit=args.limit)
                items = [{"session_id": s.session_id, "agent": s.agent,
                          "updated_at": s.updated_at, "usage": {"cost_usd": s.usage.cost_usd}}
                         for s in page.items]  # fmt: skip
            if args.json:
                print(json.dumps(items, indent=2))
            for item in [] if args.json else items:
                when = datetime.fromtimestamp(item["updated_at"], UTC).strftime("%Y-%m-%d %H:%M")
                print(
                    f"{item['session_id']:28} {item['agent']:12} {when}  "
                    f"${item['usage']['cost_usd']:.6f}"
                )
        else:
            _show(reader, args)
    finally:
        reader.close()
    return 0


def _show(reader: _Reader, args: argparse.Namespace) -> None:
    if reader.client is not None:
        base = f"/sessions/{args.session_id}"
        shown = {"session": reader.get(base), "messages": reader.get(f"{base}/messages")["items"],
                 "runs": reader.get(f"{base}/runs")["items"]}  # fmt: skip
    else:
        store = reader.store
        session = store.get_session(reader.tenant, args.session_id)
        shown = {
            "session": session.model_dump(exclude={"schema_version"}),
            "messages": [m.model_dump(exclude={"schema_version", "content_ref"})
                         for m in store.list_messages(reader.tenant, args.session_id,
                                                      limit=200).items],
            "runs": [{"run_id": r.run_id, "status": r.status, "step": r.step,
                      "usage": {"cost_usd": r.usage.cost_usd}}
                     for r in store.list_runs(reader.tenant, args.session_id).items],
        }  # fmt: skip
    if args.json:
        print(json.dumps(shown, indent=2, default=str))
        return
    session = shown["session"]
    print(f"session {session['session_id']} · agent {session['agent']}")
    for message in shown["messages"]:
        content = message.get("content")
        text = content if isinstance(content, str) else json.dumps(content)
        calls = message.get("tool_calls") or []
        named = ", ".join(c["function"]["name"] for c in calls) if calls else ""
        print(f"  {message['role']:9} {(text or '')[:100]}{' → ' + named if named else ''}")
    for run in shown["runs"]:
        print(f"  run {run['run_id']} {run['status']} ${run['usage']['cost_usd']:.6f}")


def usage(args: argparse.Namespace) -> int:
    reader = _Reader(args)
    try:
        if reader.client is not None:
            report = reader.get(
                "/usage", **{"from": args.since, "to": args.until, "group_by": args.group_by}
            )
        else:
            from podium.observe.usage import rollup  # noqa: PLC0415

            report = rollup(
                reader.store,
                reader.tenant,
                since=args.since,
                until=args.until,
                group_by=args.group_by,
            ).model_dump()
    finally:
        reader.close()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"usage of {report['tenant']} from {report['since']} to {report['until']}")
    for row in [*report["rows"], {**report["total"], "key": {"": "total"}}]:
        label = ", ".join(row["key"].values())
        print(
            f"  {label:40} {row['model_calls']:6} calls  {row['input_tokens']:9} in  "
            f"{row['output_tokens']:9} out  ${row['cost_usd']:.6f}"
        )
    return 0
