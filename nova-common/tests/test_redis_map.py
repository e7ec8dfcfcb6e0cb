"""Each service gets exactly the seed's Redis DB number."""

import pytest
import redis

from nova_common.redis import REDIS_DB_MAP, create_redis, redis_url_for

SEED_TABLE = {
    "memory-service": 0,
    "llm-gateway": 1,
    "orchestrator": 2,
    "chat-api": 3,
    "chat-bridge": 4,
    "cortex": 5,
    "intel-worker": 6,
    "recovery": 7,
    "knowledge-worker": 8,
    "voice-service": 9,
}


def test_db_map_is_the_seed_table() -> None:
    assert REDIS_DB_MAP == SEED_TABLE


@pytest.mark.parametrize(("service", "db"), sorted(SEED_TABLE.items()))
def test_redis_url_points_at_the_services_own_db_whatever_the_url_said(service: str, db: int) -> None:
    assert redis_url_for(service, "redis://:pw@redis:6379/7") == f"redis://:pw@redis:6379/{db}"
    assert redis_url_for(service, "redis://127.0.0.1:6379") == f"redis://127.0.0.1:6379/{db}"


def test_unknown_service_has_no_db() -> None:
    with pytest.raises(KeyError, match="unknown service"):
        redis_url_for("toaster", "redis://localhost:6379")


async def test_clients_write_into_their_own_db_on_a_real_server(redis_base_url: str) -> None:
    for service in SEED_TABLE:
        client = create_redis(service, redis_base_url)
        await client.set("nova:test:owner", service)
        await client.aclose()
    for service, db in SEED_TABLE.items():
        raw = redis.Redis.from_url(f"{redis_base_url.rsplit('/', 1)[0]}/{db}", decode_responses=True)
        assert raw.get("nova:test:owner") == service
        raw.close()
