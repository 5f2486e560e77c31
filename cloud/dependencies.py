"""App-wide dependencies: settings and metrics built with the app, handed out with Depends."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cloud.egress import Egress
from cloud.observability import CloudMetrics
from cloud.ratelimit import RateLimiter
from cloud.security import Passwords
from cloud.settings import CloudSettings


async def get_settings(request: Request) -> CloudSettings:
    """The settings the app was created with."""
    settings: CloudSettings = request.app.state.settings
    return settings


async def get_metrics(request: Request) -> CloudMetrics:
    """The app's Prometheus collectors."""
    metrics: CloudMetrics = request.app.state.metrics
    return metrics


async def get_passwords(request: Request) -> Passwords:
    """The app's password hasher."""
    passwords: Passwords = request.app.state.passwords
    return passwords


async def get_egress(request: Request) -> Egress:
    """The app's vetting egress for user-chosen outbound URLs."""
    egress: Egress = request.app.state.egress
    return egress


async def get_rate_limiter(request: Request) -> RateLimiter:
    """The app's shared rate-limit counters (built in the lifespan, on the engine)."""
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


async def client_ip(request: Request) -> str:
    """The caller's address: the peer, or behind a configured trusted proxy the address it
    vouches for (``cloud.proxies``); never an address the caller wrote itself."""
    return request.client.host if request.client else "unknown"


SettingsDep = Annotated[CloudSettings, Depends(get_settings)]
MetricsDep = Annotated[CloudMetrics, Depends(get_metrics)]
ClientIpDep = Annotated[str, Depends(client_ip)]
PasswordsDep = Annotated[Passwords, Depends(get_passwords)]
EgressDep = Annotated[Egress, Depends(get_egress)]
RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]
