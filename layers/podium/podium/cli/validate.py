"""`podium validate [PATH...]`: check agents, print every problem at once."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from podium import settings
from podium.protocol.loader import check_agent, discover


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="agent files, agent folders, or folders of agents (default: ./agents)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON report for CI")
    parser.add_argument(
        "--strict", action="store_true", help="treat warnings as errors (exit status 1)"
    )


def run(args: argparse.Namespace) -> int:
    paths = args.paths or [settings.agents_dir()]
    reports = [check_agent(file) for file in discover(paths)]
    problems = [p for report in reports for p in report.problems]
    failing = [p for p in problems if p.severity == "error" or args.strict]
    if args.json:
        body = {
            "ok": not failing,
            "agents": [
                {
                    "file": str(r.file),
                    "name": r.loaded.name if r.loaded else None,
                    "content_hash": r.loaded.content_hash if r.loaded else None,
                    "ok": r.ok,
                }
                for r in reports
            ],
            "problems": [p.model_dump() for p in problems],
        }
        json.dump(body, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for problem in problems:
            print(problem.format())
        for report in reports:
            status = "ok" if report.ok else f"{len(report.errors)} error(s)"
            print(f"{report.file}: {status}")
        errors = sum(p.severity == "error" for p in problems)
        warnings = len(problems) - errors
        print(f"{len(reports)} agent(s), {errors} error(s), {warnings} warning(s)")
    return 1 if failing else 0
