"""`podium run AGENT "message"`, `podium chat AGENT` and `podium follow RUN`: runs on the
embedded defaults (SQLite under PODIUM_HOME, the local runner, the agents folder), or on a
running Podium (`--url`), streamed to the terminal.

Every way out leaves the runs it held ended or resumable: Ctrl-C cancels the run in flight
and says so (with `--url` it detaches: the run goes on, and `podium follow` picks it up
again); SIGTERM, a closed pipe (`| head`) or an error let the local runner go without ending
its run, which the next runner here resumes at once."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from podium import settings
from podium.errors import InputError

_HELP_VAR = "a session variable, NAME=VALUE (JSON values are parsed: n=3, ok=true)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("agent", help="the agent's name, or its folder (agents/weather)")
    parser.add_argument("message", help="the input to run")
    _common(parser)


def configure_chat(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("agent", help="the agent's name, or its folder (agents/weather)")
    _common(parser)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--session", help="continue this session instead of starting one")
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help=_HELP_VAR)
    parser.add_argument("--tenant", default="local", help="tenant for local runs (default local)")
    parser.add_argument("--home", help=f"local state folder (default ${settings.ENV_HOME} or "
                        f"{settings.DEFAULT_HOME})")  # fmt: skip
    parser.add_argument("--agents", type=Path, help="folder of agents (default ./agents)")
    parser.add_argument("--approve", choices=["ask", "all", "none"], default="ask",
                        help="approval requests: ask interactively (default), approve all, "
                        "or deny all")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print events as JSON lines")
    parser.add_argument("--url", help="a running Podium API instead of the embedded runtime")
    parser.add_argument("--key", help="API key for --url")


def configure_follow(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id", help="the run to follow")
    parser.add_argument("--session", help="the run's session (found locally when omitted)")
    parser.add_argument("--tenant", default="local", help="tenant for local runs (default local)")
    parser.add_argument("--home", help="local state folder")
    parser.add_argument("--json", action="store_true", help="print events as JSON lines")
    parser.add_argument("--url", help="a running Podium API instead of the local store")
    parser.add_argument("--key", help="API key for --url")


def run(args: argparse.Namespace) -> int:
    with _terminated_as_exit():
        session = _Session.open(args)
        try:
            return session.send(args.message)
        finally:
            session.close()


def chat(args: argparse.Namespace) -> int:
    with _terminated_as_exit():
        session = _Session.open(args)
        print(f"chatting with {session.agent} (session {session.session_id}); Ctrl-D to quit")
        status = 0
        try:
            while True:
                try:
                    line = input("you> ").strip()
                except EOFError:
                    print()
                    break
                if line:
                    status = session.send(line)
        finally:
            session.close()
        return status


def follow(args: argparse.Namespace) -> int:
    """Stream a run's events from its start to its end (a run detached from, or started
    elsewhere), then its outcome."""
    printer = _Printer(sys.stdout, as_json=args.json)
    if args.url:
        if not args.key:
            raise InputError("--url needs --key (an API key of that server)")
        from podium.client import Podium  # noqa: PLC0415

        client = Podium(args.url, args.key)
        try:
            if not args.session:
                raise InputError("--url needs --session (the run's session)")
            for event in client.events(args.session, args.run_id):
                printer.show(event.data)
            final = client.get_run(args.session, args.run_id)
        finally:
            client.close()
        printer.newline()
        print(f"[{final.status}] run {args.run_id}", file=sys.stderr)
        return 0 if final.status == "succeeded" else 1
    from podium.cli.observe import _session_of  # noqa: PLC0415
    from podium.store.factory import build_store  # noqa: PLC0415

    store = build_store("sqlite", home=args.home)
    try:
        session_id = args.session or _session_of(store, args.run_id)
        status = _follow_log(store, args.tenant, session_id, args.run_id, printer)
    finally:
        store.close()
    return status


def _follow_log(store: Any, tenant: str, session_id: str, run_id: str, printer: _Printer) -> int:
    """Print a run's events from the store until its `finish` (the runner may be elsewhere:
    the log is polled)."""
    import time  # noqa: PLC0415

    after: str | None = None
    while True:
        for event in store.list_events(tenant, session_id, run_id=run_id, after=after, limit=500):
            after = event.event_id
            part = event.data if isinstance(event.data, dict) else {}
            printer.show(part)
            if part.get("type") == "finish":
                run = store.get_run(tenant, session_id, run_id)
                printer.newline()
                print(f"[{run.status}] run {run_id}", file=sys.stderr)
                return 0 if run.status == "succeeded" else 1
        time.sleep(0.2)


@contextlib.contextmanager
def _terminated_as_exit() -> Iterator[None]:
    """SIGTERM ends the command as an error would (its `finally` blocks run: the runner
    lets its run go for the next one to resume) rather than killing it outright."""

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread (tests call the command in-process)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Session:
    """An embedded runtime with one session, and a printer for its runs' events."""

    def __init__(self, args: argparse.Namespace) -> None:
        from podium.engine.agents import AgentRegistry  # noqa: PLC0415
        from podium.engine.local import LocalRunner  # noqa: PLC0415
        from podium.engine.runs import RunService  # noqa: PLC0415
        from podium.engine.runtime import Runtime  # noqa: PLC0415
        from podium.store.factory import build_store  # noqa: PLC0415

        agents_dir, self.agent = _agent_location(args.agent, args.agents)
        self.store = build_store("sqlite", home=args.home)
        self.runtime = Runtime(store=self.store, agents=AgentRegistry(self.store, agents_dir))
        self.runner = LocalRunner(self.runtime)
        self.runner.start()
        self.service = RunService(self.runtime)
        self.tenant = args.tenant
        self.approve = args.approve
        self.as_json = args.json
        if args.session:
            found = self.store.get_session(self.tenant, args.session)
            self.agent = found.agent
            self.session_id = found.session_id
        else:
            variables = dict(_parse_var(item) for item in args.var)
            self.session_id = self.service.create_session(
                self.tenant, self.agent, variables=variables
            ).session_id

    @classmethod
    def open(cls, args: argparse.Namespace) -> _Session | _RemoteSession:
        return _RemoteSession(args) if args.url else cls(args)

    def close(self) -> None:
        """Let the runner go: a run it had not finished stays stored, resumable at once by
        the next runner here (this process's lease is given up)."""
        executor = self.runner.executor
        executor.drain()  # a queued input handed the session now is left for the next runner
        for name in executor.running():  # a closed run's execution is ending: let it end
            checkpoint = self.store.get_checkpoint(name)
            run = self.store.get_run(checkpoint.tenant, checkpoint.session_id, name)
            if run.terminal:
                executor.wait(name, 10)
        unfinished = executor.running()
        self.runner.stop()
        self.store.close()
        for run_id in unfinished:
            print(f"(run {run_id} was left unfinished: the next Podium runner here resumes "
                  "it)", file=sys.stderr)  # fmt: skip

    def send(self, message: str) -> int:
        from podium.engine.eventlog import BUS  # noqa: PLC0415

        wake = threading.Event()
        unsubscribe = BUS.subscribe(self.tenant, self.session_id, lambda *_: wake.set())
        try:
            started = self.service.start_run(self.tenant, self.session_id, message)
            run_id = started.run.run_id
            if started.disposition == "queued":
                print(f"(queued behind the active run; run {run_id})", file=sys.stderr)
            try:
                return self._follow(run_id, wake)
            except KeyboardInterrupt:
                self.service.cancel(self.tenant, self.session_id, run_id)
                self.runner.executor.wait(run_id, 30)  # its end is written before we go
                print(f"\n(cancelled run {run_id})", file=sys.stderr)
                return 130
        finally:
            unsubscribe()

    def _follow(self, run_id: str, wake: threading.Event) -> int:
        after: str | None = None
        printer = _Printer(sys.stdout, as_json=self.as_json)
        while True:
            wake.wait(1.0)
            wake.clear()
            events = self.store.list_events(
                self.tenant, self.session_id, run_id=run_id, after=after, limit=500
            )
            for event in events:
                after = event.event_id
                part = event.data if isinstance(event.data, dict) else {}
                printer.show(part)
                self._answer(run_id, part)
                if part.get("type") == "finish":
                    return self._summary(run_id, printer)

    def _answer(self, run_id: str, part: dict[str, Any]) -> None:
        kind = part.get("type")
        if kind == "tool-approval-request":
            call_id = str(part["toolCallId"])
            approved = self.approve == "all" or (
                self.approve == "ask" and _ask(f"approve call {call_id}? [y/N] ") in {"y", "yes"}
            )  # fmt: skip
            self._retry(
                lambda: self.service.decide(
                    self.tenant,
                    self.session_id,
                    run_id,
                    call_id,
                    approved=approved,
                    reason=None if approved else "denied",
                )
            )
        elif kind == "tool-input-available":
            run = self.store.get_run(self.tenant, self.session_id, run_id)
            pinned = self.runtime.agents.pinned(run.agent, run.agent_hash)
            tool = pinned.agent.tool(str(part.get("toolName")))
            if tool is not None and tool.kind == "client":
                text = _ask(f"result of client tool {tool.name} (JSON or text): ")
                try:
                    output: Any = json.loads(text)
                except json.JSONDecodeError:
                    output = text
                call_id = str(part["toolCallId"])
                self._retry(lambda: self.service.submit_tool_result(
                    self.tenant, self.session_id, run_id, call_id, output=output))  # fmt: skip

    @staticmethod
    def _retry(action: Any) -> None:
        """A call may not be parked on its token yet: wait for it briefly."""
        import time  # noqa: PLC0415

        from podium.errors import ConflictError  # noqa: PLC0415

        for _ in range(100):
            try:
                action()
                return
            except ConflictError as exc:
                if "retry" not in exc.message:
                    raise
                time.sleep(0.05)
        action()

    def _summary(self, run_id: str, printer: _Printer) -> int:
        run = self.store.get_run(self.tenant, self.session_id, run_id)
        usage = run.usage
        if self.as_json:
            print(
                json.dumps(
                    {
                        "run_id": run_id,
                        "status": run.status,
                        "error": run.error,
                        "usage": usage.model_dump(),
                    }
                )
            )
        else:
            printer.newline()
            print(f"[{run.status}] run {run_id} · {usage.requests} model call(s) · "
                  f"{usage.input_tokens} in / {usage.output_tokens} out tokens · "
                  f"${usage.cost_usd:.6f}", file=sys.stderr)  # fmt: skip
        return 0 if run.status == "succeeded" else 1


class _RemoteSession:
    """The same, through a running Podium API (`--url`, `--key`)."""

    def __init__(self, args: argparse.Namespace) -> None:
        from podium.client import Podium  # noqa: PLC0415

        if not args.key:
            raise InputError("--url needs --key (an API key of that server)")
        self.client = Podium(args.url, args.key)
        self.url = args.url
        self.approve = args.approve
        self.as_json = args.json
        if args.session:
            found = self.client.get_session(args.session)
        else:
            variables = dict(_parse_var(item) for item in args.var)
            found = self.client.create_session(Path(args.agent).name, variables=variables)
        self.agent = found.agent
        self.session_id = found.session_id
        tools = self.client.http.get(f"/agents/{self.agent}").json().get("tools", [])
        self.client_tools = {t["name"] for t in tools if t.get("kind") == "client"}

    def close(self) -> None:
        self.client.close()

    def send(self, message: str) -> int:
        run = self.client.start_run(self.session_id, message)
        if run.model_extra and run.model_extra.get("disposition") == "queued":
            print(f"(queued behind the active run; run {run.run_id})", file=sys.stderr)
        printer = _Printer(sys.stdout, as_json=self.as_json)
        try:
            for event in self.client.events(self.session_id, run.run_id):
                printer.show(event.data)
                self._answer(run.run_id, event.data)
        except KeyboardInterrupt:
            printer.newline()
            print(f"(detached: run {run.run_id} goes on. Follow it again with: podium follow "
                  f"{run.run_id} --session {self.session_id} --url {self.url} --key "
                  "$PODIUM_KEY)", file=sys.stderr)  # fmt: skip
            return 130
        final = self.client.get_run(self.session_id, run.run_id)
        usage = final.model_extra.get("usage", {}) if final.model_extra else {}
        if self.as_json:
            print(
                json.dumps(
                    {
                        "run_id": run.run_id,
                        "status": final.status,
                        "error": final.error,
                        "usage": usage,
                    }
                )
            )
        else:
            printer.newline()
            print(f"[{final.status}] run {run.run_id} · {usage.get('model_calls', 0)} model "
                  f"call(s) · {usage.get('input_tokens', 0)} in / "
                  f"{usage.get('output_tokens', 0)} out tokens · "
                  f"${usage.get('cost_usd', 0.0):.6f}", file=sys.stderr)  # fmt: skip
        return 0 if final.status == "succeeded" else 1

    def _answer(self, run_id: str, part: dict[str, Any]) -> None:
        from podium.client import PodiumAPIError  # noqa: PLC0415

        kind = part.get("type")
        call_id = str(part.get("toolCallId", ""))
        action: Any = None
        if kind == "tool-approval-request":
            approved = self.approve == "all" or (
                self.approve == "ask" and _ask(f"approve call {call_id}? [y/N] ") in {"y", "yes"}
            )  # fmt: skip

            def action() -> None:
                self.client.decide(
                    self.session_id,
                    run_id,
                    call_id,
                    approved=approved,
                    reason=None if approved else "denied",
                )

        elif kind == "tool-input-available" and part.get("toolName") in self.client_tools:
            text = _ask(f"result of client tool {part.get('toolName')} (JSON or text): ")
            try:
                output: Any = json.loads(text)
            except json.JSONDecodeError:
                output = text

            def action() -> None:
                self.client.submit_tool_result(self.session_id, run_id, call_id, output=output)

        if action is None:
            return
        import time  # noqa: PLC0415

        for _ in range(100):  # the call may not be parked on its token yet
            try:
                action()
                return
            except PodiumAPIError as exc:
                if exc.status != 409 or "retry" not in exc.message:
                    raise
                time.sleep(0.05)


class _Printer:
    def __init__(self, out: TextIO, *, as_json: bool) -> None:
        self.out = out
        self.as_json = as_json
        self.mid_line = False

    def newline(self) -> None:
        if self.mid_line:
            self.out.write("\n")
            self.mid_line = False

    def show(self, part: dict[str, Any]) -> None:
        if self.as_json:
            self.out.write(json.dumps(part) + "\n")
            self.out.flush()
            return
        kind = part.get("type")
        if kind == "text-delta":
            self.out.write(str(part.get("delta", "")))
            self.mid_line = True
        elif kind == "tool-input-available":
            self.newline()
            arguments = json.dumps(part.get("input"), ensure_ascii=False)
            self.out.write(f"→ {part.get('toolName')}({arguments})\n")
        elif kind == "tool-output-available":
            text = json.dumps(part.get("output"), ensure_ascii=False)
            self.out.write(f"← {text[:300]}{'…' if len(text) > 300 else ''}\n")
        elif kind in {"tool-output-error", "tool-input-error"}:
            self.out.write(f"← error: {part.get('errorText')}\n")
        elif kind == "tool-output-denied":
            self.out.write("← denied\n")
        elif kind == "data-notice":
            self.newline()
            self.out.write(f"({part.get('data', {}).get('message')})\n")
        elif kind == "error":
            self.newline()
            self.out.write(f"error: {part.get('errorText')}\n")
        self.out.flush()


def _ask(prompt: str) -> str:
    try:
        return input(prompt).strip().lower()
    except EOFError:
        return ""


def _parse_var(item: str) -> tuple[str, Any]:
    name, sep, raw = item.partition("=")
    if not sep or not name:
        raise InputError(f"--var takes NAME=VALUE, got {item!r}")
    try:
        return name, json.loads(raw)
    except json.JSONDecodeError:
        return name, raw


def _agent_location(agent: str, agents_dir: Path | None) -> tuple[Path, str]:
    """`weather` (in the agents folder) or a path to an agent folder."""
    path = Path(agent)
    if agents_dir is None and (path / "agent.yaml").is_file():
        return path.resolve().parent, path.resolve().name
    return (agents_dir or settings.agents_dir()), agent
