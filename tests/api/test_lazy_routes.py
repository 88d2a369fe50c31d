"""Routes are analysed when first used: building the app analyses none, a request only the
route it reaches; and a route built late is the `APIRoute` FastAPI builds from its arguments,
so the app serves and documents exactly what including the routers would."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from podium.api import routes, routes_chat, routes_openai, ui
from podium.api.app import create_app
from podium.api.auth import Principal
from podium.api.context import ApiSettings, principal
from podium.api.routing import LazyRoute, add_routes
from podium.engine.agents import AgentRegistry
from podium.engine.runtime import Runtime
from podium.store.factory import build_store

ROOT = Path(__file__).parents[2]
ROUTERS = [routes.router, routes_chat.router, routes_openai.router, ui.router]
MATCHING = ("path", "endpoint", "name", "methods", "include_in_schema", "path_format")


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.setenv("PODIUM_SIGNING_KEY", "k" * 32)
    store = build_store("sqlite", home=str(tmp_path))
    runtime = Runtime(store=store, agents=AgentRegistry(store, ROOT / "agents"))
    return create_app(runtime, ApiSettings())


def lazy_routes(app: FastAPI) -> list[LazyRoute]:
    return [r for r in app.routes if isinstance(r, LazyRoute)]


def test_building_the_app_analyses_no_route(app):
    declared = sum(len(router.routes) for router in ROUTERS)
    assert len(lazy_routes(app)) == declared > 20
    assert not any(r.built for r in lazy_routes(app))
    client = TestClient(app)
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/sessions/nope/runs").status_code == 401
    analysed = {r.path for r in lazy_routes(app) if r.built}
    assert analysed == {"/health", "/sessions/{session_id}/runs"}
    assert client.get("/openapi.json").status_code == 200
    assert all(r.built for r in lazy_routes(app))


def test_a_lazy_route_is_the_route_fastapi_builds():
    for router in ROUTERS:
        for declared in router.routes:
            assert isinstance(declared, LazyRoute)
            path, endpoint, options = declared.declared
            eager = APIRoute(path, endpoint, **options)
            # a class-level default would answer instead of the lazy attribute
            assert not [name for name in vars(eager) if hasattr(LazyRoute, name)]
            lazy = LazyRoute(path, endpoint, **options)
            for name in MATCHING:  # what matching reads, derived without the analysis
                assert getattr(lazy, name) == getattr(eager, name), (path, name)
            assert lazy.path_regex.pattern == eager.path_regex.pattern
            assert lazy.param_convertors.keys() == eager.param_convertors.keys()
            assert not lazy.built
            lazy.build()
            assert set(vars(eager)) <= set(vars(lazy))
            for name in ("unique_id", "status_code", "tags", "summary", "description",
                         "response_model", "response_class", "responses"):  # fmt: skip
                assert getattr(lazy, name) == getattr(eager, name), (path, name)
            assert [p.name for p in lazy.dependant.query_params] == [
                p.name for p in eager.dependant.query_params
            ]
            assert (lazy.body_field is None) == (eager.body_field is None)
            with pytest.raises(AttributeError):
                _ = lazy.no_such_attribute


def test_openapi_is_what_including_the_routers_documents(app):
    included = FastAPI(title=app.title, version=app.version, description=app.description)
    for router in ROUTERS:
        eager = APIRouter()
        for route in router.routes:
            path, endpoint, options = route.declared
            eager.routes.append(APIRoute(path, endpoint, **options))
        included.include_router(eager)
    assert app.openapi() == included.openapi()


def test_dependency_overrides_reach_lazy_routes(app):
    app.dependency_overrides[principal] = lambda: Principal("acme", frozenset({"runs"}))
    response = TestClient(app).get("/sessions/nope")  # no key: the override answers who
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_concurrent_first_use_builds_one_route():
    path, endpoint, options = routes.router.routes[3].declared
    route = LazyRoute(path, endpoint, **options)
    seen: list[object] = []
    start = threading.Barrier(8)

    def read() -> None:
        start.wait()
        seen.append(route.dependant)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and len({id(d) for d in seen}) == 1


def test_only_lazy_routes_are_added():
    router = APIRouter()
    router.add_api_route("/x", lambda: None)
    with pytest.raises(TypeError, match="lazy_router"):
        add_routes(FastAPI(), [router])
