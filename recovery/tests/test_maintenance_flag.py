"""A restore and a factory reset raise the maintenance flag where the services read it (DB 1, through
`nova_common.maintenance`) before they change anything, and take it down when they end. Seen through Redis
keyspace notifications, so no moment of the flag's life is missed."""

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from nova_common.maintenance import MAINTENANCE_KEY


@pytest.fixture
def flag_events(redis_base_url: str) -> Iterator[Callable[[], list[str]]]:
    """The commands applied to the flag in DB 1 from now on, in order (`set`, `pexpire`, `del`)."""
    client = redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/1", decode_responses=True)
    client.config_set("notify-keyspace-events", "K$g")
    pubsub = client.pubsub()
    pubsub.subscribe(f"__keyspace@1__:{MAINTENANCE_KEY}")
    pubsub.get_message(timeout=5)  # the subscription's confirmation
    seen: list[str] = []

    def events() -> list[str]:
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            message: Any = pubsub.get_message(timeout=0.2)
            if message is None:
                break
            seen.append(message["data"])
        return seen

    yield events
    pubsub.close()
    client.config_set("notify-keyspace-events", "")
    client.close()


def test_a_factory_reset_raises_the_flag_the_services_read_and_clears_it_after(
    client: TestClient, admin: dict[str, str], flag_events: Callable[[], list[str]]
) -> None:
    response = client.post(
        "/api/v1/recovery/reset",
        headers=admin,
        json={"categories": ["chat_history"], "confirm": "RESET", "backup_first": False},
    )
    assert response.status_code == 200, response.text
    assert [e for e in flag_events() if e != "expire"] == ["set", "del"]


def test_a_restore_raises_the_flag_the_services_read_and_clears_it_after(
    client: TestClient,
    admin: dict[str, str],
    make_backup: Callable[..., str],
    flag_events: Callable[[], list[str]],
) -> None:
    name = make_backup()
    assert flag_events() == []  # a backup changes nothing: the services keep working
    response = client.post(f"/api/v1/recovery/backups/{name}/restore", headers=admin)
    assert response.status_code == 200, response.text
    assert [e for e in flag_events() if e != "expire"] == ["set", "del"]
