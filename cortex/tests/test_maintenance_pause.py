"""recovery's maintenance flag (a restore in progress) holds the cortex loop: a stimulus waiting in its list
is not taken while the flag is up, and is once the flag goes, with no restart."""

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cortex.config import Settings
from cortex.main import create_app
from nova_common.embedded import free_port
from nova_common.maintenance import MAINTENANCE_KEY
from nova_common.testing import eventually
from nova_contracts.base import utc_now
from nova_contracts.goals import CORTEX_STIMULI_KEY, Stimulus, StimulusType

_SHARED_TESTS = str(Path(__file__).resolve().parents[2] / "tests")
if _SHARED_TESTS not in sys.path:
    sys.path.insert(0, _SHARED_TESTS)

from fakes.server import serve_in_thread  # noqa: E402


async def _no_goals(request: Request) -> JSONResponse:
    return JSONResponse([])


@pytest.fixture
def orchestrator_url() -> Iterator[str]:
    """An orchestrator with no goals, enough for the loop to take the lease and start its cycles."""
    with serve_in_thread(Starlette(routes=[Route("/api/v1/goals", _no_goals)])) as live:
        yield live.url


def _db(redis_base_url: str, n: int) -> redis.Redis:
    return redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + f"/{n}", decode_responses=True)


def test_a_waiting_stimulus_is_not_taken_during_maintenance_and_is_once_it_ends(
    redis_base_url: str, nova_env: dict[str, str], orchestrator_url: str
) -> None:
    config, stimuli = _db(redis_base_url, 1), _db(redis_base_url, 5)
    config.set(MAINTENANCE_KEY, '{"operation": "restore"}', px=60_000)
    stimulus = Stimulus(type=StimulusType.GOAL_TRIGGERED, goal_id=uuid.uuid4(), at=utc_now())
    stimuli.lpush(CORTEX_STIMULI_KEY, stimulus.model_dump_json())
    closed = f"http://127.0.0.1:{free_port()}"
    settings = Settings(
        redis_url=redis_base_url,
        cortex_enabled=True,
        cortex_lease_seconds=3,
        orchestrator_url=orchestrator_url,
        llm_gateway_url=closed,
        memory_service_url=closed,
    )
    with TestClient(create_app(settings)) as client:
        flag = client.app.state.cortex.maintenance  # type: ignore[attr-defined]
        eventually(lambda: flag.held >= 2, timeout=30, what="the loop holding back twice")
        assert stimuli.llen(CORTEX_STIMULI_KEY) == 1
        config.delete(MAINTENANCE_KEY)
        eventually(lambda: stimuli.llen(CORTEX_STIMULI_KEY) == 0, timeout=30, what="the stimulus taken")
    config.close()
    stimuli.close()
