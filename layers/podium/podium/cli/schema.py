"""`podium schema [--write]`: the agent file's JSON Schema, for editors."""

from __future__ import annotations

import argparse
from pathlib import Path

from podium.protocol.schema import agent_json_schema_text

DEFAULT_OUTPUT = Path("schemas/agent.schema.json")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--write",
        nargs="?",
        const=DEFAULT_OUTPUT,
        type=Path,
        metavar="FILE",
        help=f"write the schema to FILE (default {DEFAULT_OUTPUT}) instead of printing it",
    )


def run(args: argparse.Namespace) -> int:
    text = agent_json_schema_text()
    if args.write is None:
        print(text, end="")
        return 0
    args.write.parent.mkdir(parents=True, exist_ok=True)
    args.write.write_text(text, encoding="utf-8")
    print(f"wrote {args.write}")
    return 0
