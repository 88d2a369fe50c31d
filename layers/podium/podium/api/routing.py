"""Routes analysed when first used, so a cold start analyses only the route it serves.

FastAPI analyses a route when it is declared: its signature and dependencies, a pydantic
field per parameter, the response model. For the API's 25 routes that took ~30 ms of a
Lambda's cold start (and ~17 ms more: the first analysis imports `pydantic.v1`), and
`include_router` analyses every included route once more on the app's first request (a copy
per inclusion, ~20 ms). Here the routers' routes are `LazyRoute`s: declaring one keeps its
arguments; matching a request compiles its path only; the first read of anything else — by
the request that reaches it, or by `/openapi.json` — runs FastAPI's own `APIRoute.__init__`
with the same arguments. `add_routes` puts them straight on the app's router instead of
including the routers: the same routes, in the same order, documented the same.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import compile_path, get_name

_build_lock = threading.RLock()

# What `APIRoute.__init__` sets that matching a request (and a route's repr) reads: derived
# here from the arguments alone, the same way, without analysing the endpoint.
_MATCHING = frozenset(
    {"path", "endpoint", "name", "methods", "include_in_schema"}
    | {"path_regex", "path_format", "param_convertors"}
)


class LazyRoute(APIRoute):
    """An `APIRoute` whose analysis waits until an attribute other than those matching reads
    is first needed; then it is exactly the `APIRoute` the same arguments build."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        self._declared = (path, endpoint, options)
        self._pending = True
        self._builder: int | None = None

    def __getattr__(self, name: str) -> Any:
        # Only attributes not set yet get here: everything `APIRoute.__init__` sets.
        state = self.__dict__
        if (
            name.startswith("__")
            or not state.get("_pending")
            or state.get("_builder") == threading.get_ident()  # read while building it
        ):
            raise AttributeError(name)
        if name in _MATCHING and "path_regex" not in state:
            self._matching()
        else:
            self.build()
        return object.__getattribute__(self, name)

    def _matching(self) -> None:
        path, endpoint, options = self._declared
        name = options.get("name")
        self.path = path
        self.endpoint = endpoint
        self.name = get_name(endpoint) if name is None else name
        self.methods = {method.upper() for method in options.get("methods") or ["GET"]}
        self.include_in_schema = options.get("include_in_schema", True)
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)

    def build(self) -> LazyRoute:
        """Analyse the route now: idempotent, and safe from several threads."""
        with _build_lock:
            if self._pending:
                path, endpoint, options = self._declared
                self._builder = threading.get_ident()
                try:
                    APIRoute.__init__(self, path, endpoint, **options)
                finally:
                    self._builder = None
                self._pending = False
        return self

    @property
    def built(self) -> bool:
        return not self._pending

    @property
    def declared(self) -> tuple[str, Callable[..., Any], dict[str, Any]]:
        """The arguments it was declared with."""
        return self._declared


def lazy_router(**options: Any) -> APIRouter:
    """An `APIRouter` whose routes are `LazyRoute`s."""
    return APIRouter(route_class=LazyRoute, **options)


def add_routes(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """The routers' routes on the app's own router, still lazy, in order.

    What `app.include_router(router)` (no prefix, no options) serves, without a second
    analysis of every route on the first request; the routes take the app as their
    dependency-overrides provider, as included ones do.
    """
    for router in routers:
        for route in router.routes:
            if not isinstance(route, LazyRoute):
                raise TypeError(f"{route!r} is not a LazyRoute: declare it on a lazy_router()")
            path, endpoint, options = route.declared
            options = {k: v for k, v in options.items() if k != "dependency_overrides_provider"}
            app.router.add_api_route(path, endpoint, route_class_override=LazyRoute, **options)
