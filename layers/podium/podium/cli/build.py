"""`podium build`: compile every agent into the run state machine and its function map."""

from __future__ import annotations

import argparse
from pathlib import Path

from podium import settings
from podium.protocol.compile import compile_machine, function_map, render
from podium.protocol.loader import load_agents

DEFAULT_OUT = Path("statemachines")
DEFINITION = "run.asl.json"
FUNCTIONS = "run.functions.json"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--agents", type=Path, default=None, help="folder of agents (default: ./agents)"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when the files in --out are missing or stale",
    )


def build_files(agents_dir: Path) -> dict[str, str]:
    """File name → content of the generated state machine files."""
    agents = list(load_agents(agents_dir).values())
    return {
        DEFINITION: render(compile_machine(agents)),
        FUNCTIONS: render(function_map(agents)),
    }


def run(args: argparse.Namespace) -> int:
    files = build_files(args.agents or settings.agents_dir())
    stale = [
        name
        for name, text in files.items()
        if not (args.out / name).is_file() or (args.out / name).read_text("utf-8") != text
    ]
    if args.check:
        for name in stale:
            print(f"{args.out / name} is stale: run `podium build`")
        if not stale:
            print(f"{args.out}: up to date")
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_text(text, encoding="utf-8")
        print(f"wrote {args.out / name}")
    return 0
