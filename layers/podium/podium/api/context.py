"""What the routes share: the runtime, the run service, the token signer, the rate limiter,
and the API's settings; plus the dependency that authenticates each request."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from fastapi import Request

from podium import settings
from podium.api.auth import Principal, RateLimiter, TokenSigner, authenticate_key
from podium.engine.runtime import Runtime
from podium.errors import AuthError

if TYPE_CHECKING:
    from podium.engine.runs import RunService

ENV_MAX_BODY_BYTES = "PODIUM_MAX_BODY_BYTES"
ENV_RATE_LIMIT = "PODIUM_RATE_LIMIT_PER_MIN"
ENV_MAX_ACTIVE_RUNS = "PODIUM_MAX_ACTIVE_RUNS_PER_TENANT"
ENV_SIGNING_KEY = "PODIUM_SIGNING_KEY"
ENV_JWT_TENANT_CLAIM = "PODIUM_JWT_TENANT_CLAIM"
ALL_SCOPES = frozenset({"runs", "sessions:read", "admin"})


@dataclass
class ApiSettings:
    """Limits and modes of the API; each can be set by its environment variable."""

    max_body_bytes: int = 1_000_000
    rate_limit_per_min: int = 3000
    max_active_runs_per_tenant: int = 100
    auth: bool = True
    """False only for `podium dev --no-auth` on 127.0.0.1: every caller is tenant `local`."""
    jwt_tenant_claim: str | None = None
    """In AWS behind a JWT authorizer: the claim naming the tenant (trusted, since API
    Gateway verified the token)."""
    heartbeat_s: float = 15.0
    poll_s: float = 0.25
    """How often a stream re-reads the log when writers are other processes (AWS)."""
    bounded_wait_s: float = 10.0
    """Under Mangum (no response streaming) an events request returns after this long."""

    @classmethod
    def from_environment(cls, **overrides: Any) -> ApiSettings:
        values: dict[str, Any] = {
            "max_body_bytes": int(os.environ.get(ENV_MAX_BODY_BYTES, "1000000")),
            "rate_limit_per_min": int(os.environ.get(ENV_RATE_LIMIT, "3000")),
            "max_active_runs_per_tenant": int(os.environ.get(ENV_MAX_ACTIVE_RUNS, "100")),
            "jwt_tenant_claim": os.environ.get(ENV_JWT_TENANT_CLAIM) or None,
        }
        values.update(overrides)
        return cls(**values)


@dataclass
class ApiContext:
    runtime: Runtime
    settings: ApiSettings
    signer: TokenSigner
    limiter: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.settings.rate_limit_per_min)

    @cached_property
    def service(self) -> RunService:
        """Built on first use: its module loads the agent protocol's models, which only the
        routes that start sessions and runs need (RunService holds no state of its own)."""
        from podium.engine.runs import RunService  # noqa: PLC0415

        return RunService(self.runtime)

    @property
    def local(self) -> bool:
        """Writers are in this process (the local runner): streams wake on the event bus."""
        from podium.engine.local import LocalOrchestrator  # noqa: PLC0415

        return isinstance(self.runtime.orchestrator, LocalOrchestrator)


def default_signer() -> TokenSigner:
    key = os.environ.get(ENV_SIGNING_KEY)
    if key:
        return TokenSigner(key.encode())
    return TokenSigner.from_file(settings.home_dir() / "signing.key")


def api(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.podium
    return context


def principal(request: Request) -> Principal:
    """The caller: a bearer key, or the tenant claim of API Gateway's JWT authorizer."""
    context = api(request)
    if not context.settings.auth:
        return Principal("local", ALL_SCOPES)
    claims = _jwt_claims(request)
    if claims is not None and context.settings.jwt_tenant_claim:
        tenant = claims.get(context.settings.jwt_tenant_claim)
        if not tenant:
            raise AuthError(f"the token has no {context.settings.jwt_tenant_claim!r} claim")
        scopes = str(claims.get("scope", "runs sessions:read")).split()
        return Principal(str(tenant), frozenset(scopes) & ALL_SCOPES)
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret:
        raise AuthError("missing API key: send `Authorization: Bearer <key>`")
    who, record = authenticate_key(context.runtime.store, secret.strip())
    context.limiter.check(record.key_hash, record.rate_limit_per_min)
    return who


def _jwt_claims(request: Request) -> dict[str, Any] | None:
    event = request.scope.get("aws.event")
    if not isinstance(event, dict):
        return None
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = (authorizer.get("jwt") or {}).get("claims")
    return claims if isinstance(claims, dict) else None
