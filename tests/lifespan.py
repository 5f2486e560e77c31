"""asgi-lifespan's manager with start-up and shutdown bounds fit for every machine we test on.

Its 5 s default is too short for a hub starting under aarch64 qemu-user on a loaded CI machine
(``make pi-check``), where start-up alone took longer; a real hang still fails, after a minute.
"""

from __future__ import annotations

from typing import Any

from asgi_lifespan import LifespanManager as _LifespanManager

TIMEOUT_S = 60.0


class LifespanManager(_LifespanManager):
    """``asgi_lifespan.LifespanManager`` with 60 s start-up and shutdown bounds by default."""

    def __init__(
        self,
        app: Any,
        startup_timeout: float | None = TIMEOUT_S,
        shutdown_timeout: float | None = TIMEOUT_S,
    ) -> None:
        super().__init__(app, startup_timeout=startup_timeout, shutdown_timeout=shutdown_timeout)
