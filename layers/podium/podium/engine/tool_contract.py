"""`podium.tool`: make a plain function a Lambda tool that honours Podium's contract.

    import podium

    @podium.tool
    def handler(city: str) -> dict:
        return {"city": city, "temperature_c": 21}

Podium invokes the function with `{call_id, name, arguments, tenant, session_id, run_id}`;
the decorator calls your function with the arguments as keywords and answers `{"output": …}`
— or, for an output over 4 KB, stores it in the run's blob bucket (`PODIUM_BUCKET`) and
answers `{"output_ref": …}`, so the state machine never carries it. An output larger than
`max_output_bytes` is refused with `ToolOutputTooLarge`; bad arguments raise
`ToolArgumentsError` (a Lambda error name your agent's `retry.errors` can leave out).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from podium import settings
from podium.errors import ToolError

DEFAULT_MAX_OUTPUT_BYTES = 50 * 1024 * 1024


class ToolArgumentsError(ToolError):
    """The event did not carry arguments the function accepts."""


class ToolOutputTooLarge(ToolError):  # noqa: N818 - the Lambda error name users retry on
    """The function returned more than `max_output_bytes`."""


def tool(
    function: Callable[..., Any] | None = None,
    *,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    blobs: Any = None,
) -> Any:
    """Decorate `function` (used bare or with options) into a Lambda handler."""

    def wrap(fn: Callable[..., Any]) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        @functools.wraps(fn)
        def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
            from podium.engine.tools import (  # noqa: PLC0415 - keeps cold start light
                INLINE_OUTPUT_BYTES,
                call_python,
                output_key,
                package_output,
                to_jsonable,
            )
            from podium.store.payloads import dumps  # noqa: PLC0415

            arguments = event.get("arguments")
            if not isinstance(arguments, dict):
                raise ToolArgumentsError("the tool event has no `arguments` object")
            try:
                output = to_jsonable(call_python(fn, arguments))
            except TypeError as exc:
                if "argument" in str(exc):
                    raise ToolArgumentsError(str(exc)) from exc
                raise
            size = len(dumps(output).encode())
            if size > max_output_bytes:
                raise ToolOutputTooLarge(f"output of {size} bytes exceeds {max_output_bytes}")
            if size <= INLINE_OUTPUT_BYTES:  # small: answered inline, no bucket needed
                return {"output": output}
            key = output_key(
                str(event.get("tenant", "-")),
                str(event.get("session_id", "-")),
                str(event.get("run_id", "-")),
                str(event.get("call_id", "-")),
            )
            return package_output(output, blobs=blobs or _bucket(), key=key)

        return handler

    return wrap(function) if function is not None else wrap


def _bucket() -> Any:
    from podium.store.blobs import S3BlobStore  # noqa: PLC0415

    bucket = settings.resolve(None, settings.ENV_BUCKET, "")
    if not bucket:
        raise ToolError(f"set {settings.ENV_BUCKET} to offload large tool outputs")
    return S3BlobStore(bucket)
