"""Running `python` and `http` tools, and shaping what any tool returns.

A tool's output is kept whole (in the blob store when large) and handed to the model as text
capped at the tool's `max_output_bytes`: the head and the tail, with a note saying how much
was left out. The state machine only ever carries a small reference.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import importlib
import importlib.util
import inspect
import json
import os
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from podium.errors import ToolError
from podium.store.models import BlobRef
from podium.store.payloads import dumps, preview, session_prefix

if TYPE_CHECKING:
    from podium.engine.agents import PinnedAgent
    from podium.protocol.agent import HttpImpl, Tool
    from podium.store.blobs import BlobStore

INLINE_OUTPUT_BYTES = 4 * 1024
"""Outputs up to this size travel inline in the state; larger ones by blob reference (40
parallel calls × 4 KB stays well under Step Functions' 256 KB state limit)."""

_modules: dict[tuple[str, str], ModuleType] = {}
_modules_lock = threading.Lock()


class HttpToolError(ToolError):
    """An `http` tool's endpoint answered with an error status (retry on `HttpToolError`)."""


# ----------------------------------------------------------------------------- python


def load_python_function(ref: str, folder: Path | None) -> Any:
    """`module:function`, from the agent's folder first (loaded by path under a private name,
    so two agents' `tools.py` never collide), else an installed module."""
    module_name, _, function = ref.partition(":")
    module = _agent_module(module_name, folder) if folder is not None else None
    if module is None:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ToolError(f"tool module {module_name!r} cannot be imported: {exc}") from exc
    target = getattr(module, function, None)
    if not callable(target):
        raise ToolError(f"{ref!r}: no callable {function!r} in module {module_name!r}")
    return target


def _agent_module(module_name: str, folder: Path) -> ModuleType | None:
    relative = Path(*module_name.split("."))
    candidates = [folder / f"{relative}.py", folder / relative / "__init__.py"]
    source = next((path for path in candidates if path.is_file()), None)
    if source is None:
        return None
    key = (str(folder), module_name)
    with _modules_lock:
        if key in _modules:
            return _modules[key]
        digest = hashlib.sha256(str(folder).encode()).hexdigest()[:10]
        private = f"podium_agent_{digest}_{module_name.replace('.', '_')}"
        spec = importlib.util.spec_from_file_location(private, source)
        if spec is None or spec.loader is None:
            raise ToolError(f"cannot load {source}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[private] = module
        spec.loader.exec_module(module)
        _modules[key] = module
        return module


def call_python(function: Any, arguments: dict[str, Any]) -> Any:
    """Call a tool function with the arguments as keywords (coroutines run to completion)."""
    result = function(**arguments)
    if inspect.isawaitable(result):
        result = asyncio.run(_await(result))
    return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


# ----------------------------------------------------------------------------- http


def call_http(impl: HttpImpl, arguments: dict[str, Any], timeout_s: float) -> Any:
    """Call the endpoint: `{name}` placeholders in the URL from the arguments, the rest as the
    JSON body (as the query string for GET and DELETE)."""
    import httpx  # noqa: PLC0415 - only http tools need it

    remaining = dict(arguments)
    url = impl.url
    for name in list(remaining):
        placeholder = "{" + name + "}"
        if placeholder in url:
            url = url.replace(placeholder, quote(str(remaining.pop(name)), safe=""))
    headers = dict(impl.headers)
    if impl.auth is not None:
        secret = tool_secret(impl.auth.secret)
        if not secret:
            raise ToolError(f"secret {impl.auth.secret!r} for the tool's auth header is not set")
        headers[impl.auth.header] = f"{impl.auth.scheme} {secret}" if impl.auth.scheme else secret
    query = impl.method in {"GET", "DELETE"}
    response = httpx.request(
        impl.method,
        url,
        params=remaining if query else None,
        json=None if query else remaining,
        headers=headers,
        timeout=timeout_s,
    )
    if response.status_code >= 400:
        raise HttpToolError(
            f"{impl.method} {impl.url} answered {response.status_code}",
            status=response.status_code,
            body=response.text[:500],
        )
    if "json" in response.headers.get("content-type", ""):
        return response.json()
    return response.text


def tool_secret(name: str) -> str | None:
    """A tool's secret: the environment variable of that name, else (in AWS) the Secrets
    Manager secret (or `ssm:` parameter). Registered so logs and traces mask it."""
    from podium.models import keys  # noqa: PLC0415 - secrets only when a tool needs one

    value = os.environ.get(name)
    if not value and os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        value = keys.read_secret(name)
    keys.register_secret(value)
    return value or None


# ----------------------------------------------------------------------------- outputs


def to_jsonable(value: Any) -> Any:
    """Plain JSON data from what a tool returned (pydantic models, dataclasses, sets…)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return str(value)


def output_text(output: Any) -> str:
    """What the model reads: strings as they are, anything else as JSON."""
    return output if isinstance(output, str) else dumps(output)


def cap_text(text: str, max_bytes: int) -> str:
    """At most `max_bytes` of UTF-8: the head and the tail with a note in between."""
    data = text.encode()
    if len(data) <= max_bytes:
        return text
    keep = max(0, max_bytes - 120) // 2
    head = data[:keep].decode(errors="ignore")
    tail = data[len(data) - keep :].decode(errors="ignore")
    omitted = len(data) - 2 * keep
    return f"{head}\n…[tool output truncated: {omitted} of {len(data)} bytes omitted]…\n{tail}"


def output_key(tenant: str, session_id: str, run_id: str, call_id: str) -> str:
    """Where a call's full output is kept (deterministic: a retried call overwrites it)."""
    return f"{session_prefix(tenant, session_id)}tool-outputs/{run_id}/{call_id}.json"


def package_output(
    output: Any, *, blobs: BlobStore, key: str, inline_limit: int = INLINE_OUTPUT_BYTES
) -> dict[str, Any]:
    """`{"output": value}` when small, else `{"output_ref": BlobRef}` with the whole value
    stored under `key`."""
    data = dumps(output).encode()
    if len(data) <= inline_limit:
        return {"output": output}
    blobs.put(key, data)
    ref = BlobRef(
        key=key,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        preview=preview(data.decode(errors="ignore")),
    )
    return {"output_ref": ref.model_dump()}


def unpack_output(packed: dict[str, Any], blobs: BlobStore) -> Any:
    """The full output from `package_output`'s result (or a lambda tool's `{output}` /
    `{output_ref}` answer)."""
    if "output_ref" in packed and packed["output_ref"] is not None:
        ref = BlobRef.model_validate(packed["output_ref"])
        return json.loads(blobs.get(ref.key))
    return packed.get("output")


def run_tool_call(pinned: PinnedAgent, tool: Tool, arguments: dict[str, Any]) -> Any:
    """Run a `python` or `http` tool and return its output as JSON data."""
    if tool.python is not None:
        function = load_python_function(tool.python, pinned.folder)
        return to_jsonable(call_python(function, arguments))
    if tool.http is not None:
        return to_jsonable(call_http(tool.http, arguments, tool.timeout_s))
    raise ToolError(f"tool {tool.name!r} ({tool.kind}) does not run in the tool runner")
