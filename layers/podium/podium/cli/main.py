"""The `podium` command: one sub-command per module, each imported only when it runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import import_module

from podium import __version__
from podium.errors import PodiumError

# name → (module, one-line help). Each module defines `configure(parser)` and `run(args)`.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("podium.cli.validate", "check agent files and print every problem"),
    "schema": ("podium.cli.schema", "print or write the agent file's JSON Schema"),
    "build": ("podium.cli.build", "compile agents into statemachines/run.asl.json"),
    "run": ("podium.cli.run", "run one input through an agent and stream the answer"),
    "chat": ("podium.cli.run", "chat with an agent interactively"),
    "follow": ("podium.cli.run", "stream a run's events to its end (after a detach)"),
    "dev": ("podium.cli.dev", "serve the API locally on the embedded defaults"),
    "keys": ("podium.cli.keys", "create, list and revoke API keys"),
    "trace": ("podium.cli.observe", "print a run's trace as a tree with timings and costs"),
    "sessions": ("podium.cli.observe", "list sessions, or show one's messages and runs"),
    "usage": ("podium.cli.observe", "usage and cost over a range of days"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="podium",
        description="Podium runs AI agents from declarative agent files.",
    )
    parser.add_argument("--version", action="version", version=f"podium {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(_module=module, _command=name)
        loaded = import_module(module)
        configure: Callable[[argparse.ArgumentParser], None] = (
            getattr(loaded, f"configure_{name}", None) or loaded.configure
        )
        configure(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    loaded = import_module(args._module)
    run: Callable[[argparse.Namespace], int] = getattr(loaded, args._command, None) or loaded.run
    try:
        return run(args)
    except PodiumError as exc:
        print(f"podium: error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `podium run … | head`: the reader went away
        _silence_stdout()
        return 141


def _silence_stdout() -> None:
    """Point stdout at /dev/null: what is left to flush at exit cannot fail again."""
    import os  # noqa: PLC0415

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
