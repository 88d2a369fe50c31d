"""Rules that need the whole agent file or its folder: references between fields, prompt
files, python functions, JSON Schemas.

They run on the raw parsed data, next to pydantic's validation rather than after it, so that
a typo in one tool does not hide a dangling alias elsewhere: every problem is reported at once.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from podium.protocol.agent import TEMPLATE_VARIABLE
from podium.protocol.problems import Problem, Severity, format_path
from podium.protocol.source import Path, SourceDocument


@dataclass
class _Finding:
    path: Path
    message: str
    code: str
    hint: str | None = None
    severity: Severity = "error"
    on_key: bool = False


def check_agent_data(
    data: dict[str, Any], folder: FsPath, document: SourceDocument, file: str
) -> list[Problem]:
    """Cross-field and filesystem checks on a parsed agent file."""
    findings = [
        *_duplicate_keys(document),
        *_name_matches_folder(data, folder),
        *_model_references(data),
        *_tools(data, folder),
        *_prompt_and_variables(data, folder),
        *_schemas(data),
    ]
    problems = []
    for finding in findings:
        where = document.locate(finding.path, prefer_key=finding.on_key)
        problems.append(
            Problem(
                file=file,
                line=where.line,
                column=where.column,
                path=format_path(finding.path),
                message=finding.message,
                hint=finding.hint,
                severity=finding.severity,
                code=finding.code,
            )
        )
    return problems


def _duplicate_keys(document: SourceDocument) -> Iterator[_Finding]:
    for path in document.duplicate_keys:
        yield _Finding(
            path,
            f"key `{path[-1]}` appears twice",
            "duplicate_key",
            "remove one: only the last would count",
            on_key=True,
        )


def _name_matches_folder(data: dict[str, Any], folder: FsPath) -> Iterator[_Finding]:
    name = data.get("name")
    if isinstance(name, str) and name != folder.name:
        yield _Finding(
            ("name",),
            f"name `{name}` differs from the agent's folder `{folder.name}`",
            "name_mismatch",
            f"rename the folder or set `name: {folder.name}`",
        )


def _aliases(data: dict[str, Any]) -> list[str]:
    models = data.get("models")
    return [str(key) for key in models] if isinstance(models, dict) else []


def _unknown_alias(path: Path, ref: str, aliases: list[str], *, allow_model: bool) -> _Finding:
    close = difflib.get_close_matches(ref, aliases, n=1, cutoff=0.6)
    if close:
        hint = f"did you mean `{close[0]}`?"
    elif aliases:
        hint = "declared aliases: " + ", ".join(aliases)
    else:
        hint = "declare it under `models:`"
    if allow_model:
        hint += " (or write a litellm 'provider/model' string)"
    return _Finding(path, f"unknown model alias `{ref}`", "unknown_alias", hint)


def _model_references(data: dict[str, Any]) -> Iterator[_Finding]:
    aliases = _aliases(data)
    model = data.get("model")
    if isinstance(model, str) and model not in aliases and "/" not in model:
        yield _unknown_alias(("model",), model, aliases, allow_model=True)
    refs: list[tuple[Path, Any]] = []
    fallbacks = data.get("fallbacks")
    if isinstance(fallbacks, list):
        refs += [(("fallbacks", i), ref) for i, ref in enumerate(fallbacks)]
    routing = data.get("routing")
    if isinstance(routing, list):
        refs += [
            (("routing", i, "use"), rule.get("use"))
            for i, rule in enumerate(routing)
            if isinstance(rule, dict)
        ]
    limits = data.get("limits")
    if isinstance(limits, dict):
        refs.append((("limits", "downgrade_to"), limits.get("downgrade_to")))
    context = data.get("context")
    if isinstance(context, dict):
        refs.append((("context", "summary_model"), context.get("summary_model")))
    for path, ref in refs:
        if isinstance(ref, str) and ref not in aliases:
            yield _unknown_alias(path, ref, aliases, allow_model=False)
    if isinstance(fallbacks, list):
        seen: set[str] = set()
        for i, ref in enumerate(fallbacks):
            if isinstance(ref, str) and ref in seen:
                yield _Finding(
                    ("fallbacks", i),
                    f"fallback `{ref}` is listed twice",
                    "duplicate_fallback",
                    "list each alias once",
                )
            seen.add(str(ref))


def _tools(data: dict[str, Any], folder: FsPath) -> Iterator[_Finding]:
    tools = data.get("tools")
    if not isinstance(tools, list):
        return
    first_seen: dict[str, int] = {}
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict):
            continue
        name = tool.get("name")
        if isinstance(name, str):
            if name in first_seen:
                yield _Finding(
                    (("tools", index, "name")),
                    f"duplicate tool name `{name}` (also tools[{first_seen[name]}])",
                    "duplicate_tool",
                    "give each tool a unique name",
                )
            else:
                first_seen[name] = index
        ref = tool.get("python")
        if isinstance(ref, str) and ":" in ref:
            problem = python_function_problem(ref, folder)
            if problem:
                yield _Finding(
                    ("tools", index, "python"),
                    problem,
                    "missing_python_function",
                    "create the function, or fix 'module:function' "
                    "(modules resolve in the agent's folder first)",
                )


def python_function_problem(ref: str, folder: FsPath) -> str | None:
    """Why `module:function` cannot be found, or None when it can (without importing it)."""
    module, _, function = ref.partition(":")
    source = _module_source(module, folder)
    if source is None:
        return f"module `{module}` not found in {folder} or among installed packages"
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    except (SyntaxError, UnicodeDecodeError) as exc:
        return f"module `{module}` ({source}) cannot be parsed: {exc}"
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
            return None
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == function for t in targets):
                return None
        if isinstance(node, ast.ImportFrom | ast.Import) and any(
            (alias.asname or alias.name) == function for alias in node.names
        ):
            return None
    return f"function `{function}` not found in module `{module}` ({source})"


def _module_source(module: str, folder: FsPath) -> FsPath | None:
    relative = FsPath(*module.split("."))
    for candidate in (folder / f"{relative}.py", folder / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return FsPath(spec.origin)


def _prompt_and_variables(data: dict[str, Any], folder: FsPath) -> Iterator[_Finding]:
    system = data.get("system")
    text: str | None = system if isinstance(system, str) else None
    if isinstance(system, dict) and isinstance(system.get("file"), str):
        text, finding = _read_prompt(system["file"], folder)
        if finding:
            yield finding
    declared = data.get("variables")
    names = set(declared) if isinstance(declared, dict) else set()
    used = set(TEMPLATE_VARIABLE.findall(text or ""))
    for name in sorted(used - names):
        yield _Finding(
            ("system",),
            f"the system prompt uses `{{{{{name}}}}}` but no variable `{name}` is declared",
            "undeclared_variable",
            f"declare it under `variables:` (e.g. `{name}: {{type: string, required: true}}`)",
        )
    if text is not None:
        for name in sorted(names - used):
            yield _Finding(
                ("variables", name),
                f"variable `{name}` is never used in the system prompt",
                "unused_variable",
                f"use `{{{{{name}}}}}` or remove it",
                severity="warning",
                on_key=True,
            )


def _read_prompt(relative: str, folder: FsPath) -> tuple[str | None, _Finding | None]:
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder.resolve()):
        return None, _Finding(
            ("system", "file"),
            f"prompt file `{relative}` is outside the agent's folder",
            "prompt_outside",
            "keep prompts in the folder",
        )
    if not path.is_file():
        return None, _Finding(
            ("system", "file"),
            f"prompt file `{relative}` does not exist",
            "missing_prompt_file",
            f"create {folder / relative}",
        )
    return path.read_text(encoding="utf-8"), None


def _schemas(data: dict[str, Any]) -> Iterator[_Finding]:
    from jsonschema import exceptions, validators  # noqa: PLC0415 - only validation needs it

    targets: list[tuple[Path, Any]] = [(("output",), data.get("output"))]
    tools = data.get("tools")
    if isinstance(tools, list):
        targets += [
            (("tools", i, "parameters"), tool.get("parameters"))
            for i, tool in enumerate(tools)
            if isinstance(tool, dict)
        ]
    for path, schema in targets:
        if not isinstance(schema, dict):
            continue
        validator = validators.validator_for(schema, default=validators.Draft202012Validator)
        try:
            validator.check_schema(schema)
        except exceptions.SchemaError as exc:
            inner = format_path(tuple(exc.path)) or "(root)"
            yield _Finding(
                path,
                f"invalid JSON Schema at {inner}: {exc.message}",
                "invalid_json_schema",
                "see https://json-schema.org/understanding-json-schema",
            )
