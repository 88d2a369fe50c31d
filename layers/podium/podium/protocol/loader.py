"""Find agent folders, load `agent.yaml`, and report every problem with its location."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from podium.errors import AgentConfigError
from podium.protocol import AGENT_FILE
from podium.protocol.agent import Agent, PromptFile
from podium.protocol.bounds import deployment_problems
from podium.protocol.checks import check_agent_data
from podium.protocol.problems import Problem, format_path
from podium.protocol.pydantic_problems import problems_from_validation
from podium.protocol.source import SourceDocument, SourceError, parse_yaml


@dataclass(frozen=True)
class LoadedAgent:
    """A valid agent with its folder, its resolved system prompt and its content hash."""

    agent: Agent
    folder: Path
    system_template: str
    content_hash: str

    @property
    def name(self) -> str:
        return self.agent.name

    def definition(self) -> dict[str, Any]:
        """The self-contained definition stored by content hash (runs load it by hash)."""
        return _definition(self.agent, self.system_template)


@dataclass
class AgentReport:
    """The outcome of checking one agent file."""

    file: Path
    problems: list[Problem] = field(default_factory=list)
    loaded: LoadedAgent | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors


def _definition(agent: Agent, system_template: str) -> dict[str, Any]:
    return {
        "agent": agent.model_dump(mode="json", by_alias=True),
        "system_template": system_template,
    }


def content_hash(definition: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of a definition (key order and spacing do not matter)."""
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def agent_file(path: Path) -> Path:
    """`agents/weather` or `agents/weather/agent.yaml` → the agent file."""
    return path / AGENT_FILE if path.is_dir() else path


def discover(paths: list[Path]) -> list[Path]:
    """Agent files under the given paths: an agent file, an agent folder, or a folder of them.

    Raises AgentConfigError for a path that does not exist or holds no agent.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif (path / AGENT_FILE).is_file():
            found.append(path / AGENT_FILE)
        elif path.is_dir():
            inner = sorted(p for p in path.glob(f"*/{AGENT_FILE}") if p.is_file())
            if not inner:
                raise AgentConfigError(f"no agents in {path}: expected {path}/<name>/{AGENT_FILE}")
            found.extend(inner)
        else:
            raise AgentConfigError(f"{path} does not exist")
    return list(dict.fromkeys(found))


def check_agent(path: Path) -> AgentReport:
    """Parse and validate one agent; every problem found is in the report."""
    file = agent_file(path)
    report = AgentReport(file=file)
    shown = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        report.problems.append(
            Problem(
                file=shown,
                line=1,
                column=1,
                path="",
                message=f"cannot read: {exc.strerror}",
                code="unreadable",
            )
        )
        return report
    except UnicodeDecodeError:
        report.problems.append(
            Problem(
                file=shown, line=1, column=1, path="", message="not UTF-8 text", code="not_utf8"
            )
        )
        return report
    try:
        document = parse_yaml(text)
    except SourceError as exc:
        report.problems.append(
            Problem(
                file=shown,
                line=exc.location.line,
                column=exc.location.column,
                path="",
                message=exc.message,
                code="yaml_syntax",
                hint="check indentation and quoting",
            )
        )
        return report
    if not isinstance(document.data, dict):
        report.problems.append(
            Problem(
                file=shown,
                line=1,
                column=1,
                path="",
                message="an agent file must be a mapping of fields",
                code="not_a_mapping",
                hint="start with `name: <agent>`",
            )
        )
        return report
    folder = file.parent
    agent: Agent | None = None
    try:
        agent = Agent.model_validate(document.data)
    except ValidationError as exc:
        report.problems.extend(problems_from_validation(exc, document, shown))
    report.problems.extend(check_agent_data(document.data, folder, document, shown))
    if agent is not None:
        report.problems.extend(_bound_problems(agent, document, shown))
    report.problems.sort(key=lambda p: (p.line, p.column, p.path, p.message))
    if agent is not None and report.ok:
        template = _system_template(agent, folder)
        report.loaded = LoadedAgent(
            agent=agent,
            folder=folder.resolve(),
            system_template=template,
            content_hash=content_hash(_definition(agent, template)),
        )
    return report


def _bound_problems(agent: Agent, document: SourceDocument, shown: str) -> list[Problem]:
    """What in a valid agent Step Functions cannot honour (`podium.protocol.bounds`)."""
    problems = []
    for found in deployment_problems(agent):
        where = document.locate(found.path)
        problems.append(
            Problem(
                file=shown,
                line=where.line,
                column=where.column,
                path=format_path(found.path),
                message=found.message,
                hint=found.hint,
                severity=found.severity,
                code=found.code,
            )
        )
    return problems


def _system_template(agent: Agent, folder: Path) -> str:
    if isinstance(agent.system, PromptFile):
        return (folder / agent.system.file).read_text(encoding="utf-8")
    return agent.system


def load_agent(path: Path | str) -> LoadedAgent:
    """Load a valid agent, or raise AgentConfigError listing every problem."""
    report = check_agent(Path(path))
    if report.loaded is None:
        listing = "\n".join(p.format() for p in report.errors)
        raise AgentConfigError(
            f"{report.file} has {len(report.errors)} error(s):\n{listing}",
            problems=[p.model_dump() for p in report.errors],
        )
    return report.loaded


def load_agents(directory: Path | str) -> dict[str, LoadedAgent]:
    """Every agent in a folder of agent folders, by name; any invalid one raises."""
    return {loaded.name: loaded for loaded in map(load_agent, discover([Path(directory)]))}
