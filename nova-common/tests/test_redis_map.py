"""Each service gets exactly the seed's Redis DB number."""

from pathlib import Path

import pytest
import redis
from pydantic import ValidationError

from nova_common.config import NovaSettings
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


@pytest.mark.parametrize(
    "url",
    [
        "redis://:pw@redis:6379",
        "redis://:pw@redis:6379/0",
        "redis://:pw@redis:6379/2",
        "unix:///run/r.sock?db=2",
    ],
)
def test_settings_accept_a_redis_url_naming_no_db_db_0_or_the_services_own(url: str) -> None:
    assert NovaSettings(_env_file=None, service_name="orchestrator", redis_url=url).redis_url == url


@pytest.mark.parametrize("url", ["redis://:pw@redis:6379/3", "redis://redis/12", "unix:///run/r.sock?db=5"])
def test_settings_refuse_a_redis_url_naming_another_db_instead_of_replacing_it(url: str) -> None:
    with pytest.raises(
        ValidationError, match=r"REDIS_URL names database \d+, but orchestrator always uses database 2"
    ):
        NovaSettings(_env_file=None, service_name="orchestrator", redis_url=url)


def test_a_refused_redis_url_is_reported_when_the_service_reads_its_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/9")
    with pytest.raises(ValidationError, match="write /2 or no number"):
        NovaSettings(service_name="orchestrator")
