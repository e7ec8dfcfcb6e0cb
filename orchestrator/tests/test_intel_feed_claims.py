"""Due feeds are claimed, not listed, by intel-worker replicas: two claims at once never hand out one feed,
a claimed feed is leased until its status report (or the lease's end), on the real PostgreSQL."""

import asyncio
import uuid
from typing import Any

import asyncpg
from fastapi.testclient import TestClient

from orchestrator.intel.repository import IntelRepository


def _add_feeds(client: TestClient, admin: dict[str, str], count: int) -> set[str]:
    ids = set()
    for n in range(count):
        response = client.post(
            "/api/v1/intel/feeds", headers=admin, json={"url": f"https://example.com/feed-{n}.xml"}
        )
        assert response.status_code == 201, response.text
        ids.add(response.json()["id"])
    return ids


def _ids(rows: list[dict[str, Any]]) -> set[str]:
    return {str(r["id"]) for r in rows}


def test_two_concurrent_claims_never_hand_out_the_same_feed(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    feeds = _add_feeds(client, admin, 8)

    async def claim_at_once() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        pool = await asyncpg.create_pool(database_url, min_size=2, max_size=2)
        try:
            repository = IntelRepository(pool)
            first, second = await asyncio.gather(
                repository.claim_due_feeds(8, 600), repository.claim_due_feeds(8, 600)
            )
            return first, second
        finally:
            await pool.close()

    first, second = asyncio.run(claim_at_once())
    assert not _ids(first) & _ids(second)
    assert _ids(first) | _ids(second) == feeds


def test_a_claim_skips_feeds_another_replica_is_claiming_instead_of_waiting_for_them(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    feeds = sorted(_add_feeds(client, admin, 4))
    locked = feeds[:2]

    async def claim_while_two_rows_are_locked() -> list[dict[str, Any]]:
        other_replica = await asyncpg.connect(database_url)
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
        try:
            async with other_replica.transaction():
                await other_replica.execute(
                    "SELECT id FROM intel_feeds WHERE id = ANY($1::uuid[]) FOR UPDATE",
                    [uuid.UUID(f) for f in locked],
                )
                # Without SKIP LOCKED this would wait for the other transaction: bounded, so a wait fails.
                return await asyncio.wait_for(IntelRepository(pool).claim_due_feeds(10, 600), 20)
        finally:
            await pool.close()
            await other_replica.close()

    assert _ids(asyncio.run(claim_while_two_rows_are_locked())) == set(feeds[2:])


def test_a_claimed_feed_is_not_handed_out_again_until_reported_or_its_lease_ends(
    client: TestClient, admin: dict[str, str], service: dict[str, str], database_url: str
) -> None:
    first, second = sorted(_add_feeds(client, admin, 2))
    claimed = client.post("/api/v1/intel/feeds/claim", headers=service, params={"lease_seconds": 60})
    assert claimed.status_code == 200, claimed.text
    assert {f["id"] for f in claimed.json()} == {first, second}
    assert client.post("/api/v1/intel/feeds/claim", headers=service).json() == []
    assert client.get("/api/v1/intel/feeds/due", headers=service).json() == []

    # A report releases the lease; the feed is then due again only after its interval.
    report = client.post(f"/api/v1/intel/feeds/{first}/status", headers=service, json={"ok": True})
    assert report.status_code == 200, report.text
    client.post(f"/api/v1/intel/feeds/{first}/check", headers=admin).raise_for_status()
    assert [f["id"] for f in client.post("/api/v1/intel/feeds/claim", headers=service).json()] == [first]

    # The worker that claimed `second` died: once its lease has run out, another replica takes the feed.
    async def expire_lease() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(
                "UPDATE intel_feeds SET claimed_until = now() - interval '1 second' WHERE id = $1",
                uuid.UUID(second),
            )
        finally:
            await conn.close()

    asyncio.run(expire_lease())
    assert [f["id"] for f in client.post("/api/v1/intel/feeds/claim", headers=service).json()] == [second]


def test_a_caller_without_credentials_cannot_claim_feeds(client: TestClient) -> None:
    assert client.post("/api/v1/intel/feeds/claim").status_code == 401
