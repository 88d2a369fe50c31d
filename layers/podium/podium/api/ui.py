"""The web UI's shell: static files shipped in the package (`api/static/`), served at `/ui`.

The shell itself is public; everything the page shows comes from the authenticated API (the
page sends the key the user gives it as `Authorization: Bearer`, like any client). `/ui`
redirects to `/ui/` so the page's relative asset and API paths resolve the same under an API
Gateway stage prefix; the browser keeps the URL fragment (`#key=…`) across the redirect.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import FileResponse, Response
from starlette.status import HTTP_307_TEMPORARY_REDIRECT

from podium.api.routing import lazy_router
from podium.errors import NotFoundError

STATIC_DIR = Path(__file__).parent / "static"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}
SECURITY_HEADERS = {
    # Only this origin: no CDN, no inline script, no framing.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = lazy_router(tags=["ui"], include_in_schema=False)


@router.get("/ui")
async def ui_redirect() -> Response:
    """To `/ui/` (relative, so a stage prefix is kept; the fragment survives)."""
    return Response(status_code=HTTP_307_TEMPORARY_REDIRECT, headers={"Location": "ui/"})


@router.get("/ui/")
async def ui_index() -> FileResponse:
    return _file("index.html")


@router.get("/ui/{path:path}")
async def ui_asset(path: str) -> FileResponse:
    return _file(path)


def _file(path: str) -> FileResponse:
    """A file under the static folder, never outside it; 404 otherwise."""
    root = STATIC_DIR.resolve()
    target = (root / path).resolve()
    media_type = MEDIA_TYPES.get(target.suffix)
    if not target.is_relative_to(root) or not target.is_file() or media_type is None:
        raise NotFoundError(f"no such UI file: {path}")
    return FileResponse(target, media_type=media_type, headers=SECURITY_HEADERS)
