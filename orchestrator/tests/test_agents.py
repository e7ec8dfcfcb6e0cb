"""Agents in Redis: CRUD, one primary agent, crash recovery at startup."""

import asyncio
import uuid
from datetime import UTC, datetime

import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from nova_contracts.orchestrator import AgentConfig, AgentInfo, AgentStatus
from orchestrator.agents.repository import AgentRepository
from orchestrator.config import Settings
from orchestrator.main import create_app


def _agents(client: TestClient, admin: dict[str, str]) -> list[dict[str, object]]:
    return client.get("/api/v1/agents", headers=admin).json()


def test_a_primary_agent_exists_after_startup(client: TestClient, admin: dict[str, str]) -> None:
    agents = _agents(client, admin)
    assert [(a["config"]["name"], a["primary"], a["status"]) for a in agents] == [("Nova", True, "idle")]


def test_agent_can_be_created_read_updated_and_deleted(client: TestClient, admin: dict[str, str]) -> None:
    created = client.post(
        "/api/v1/agents", json={"config": {"name": "coder", "tools": ["files"]}}, headers=admin
    )
    assert created.status_code == 201
    agent_id = created.json()["id"]
    assert client.get(f"/api/v1/agents/{agent_id}", headers=admin).json()["config"]["tools"] == ["files"]

    patched = client.patch(
        f"/api/v1/agents/{agent_id}/config",
        json={"model": "gpt-4o-mini", "system_prompt": "Be terse."},
        headers=admin,
    )
    assert patched.status_code == 200
    assert (patched.json()["config"]["model"], patched.json()["config"]["name"]) == ("gpt-4o-mini", "coder")

    assert client.delete(f"/api/v1/agents/{agent_id}", headers=admin).status_code == 204
    assert client.get(f"/api/v1/agents/{agent_id}", headers=admin).status_code == 404


def test_soft_delete_keeps_the_agent_stopped(client: TestClient, admin: dict[str, str]) -> None:
    agent_id = client.post("/api/v1/agents", json={"config": {"name": "temp"}}, headers=admin).json()["id"]
    assert client.delete(f"/api/v1/agents/{agent_id}?soft=true", headers=admin).status_code == 204
    assert client.get(f"/api/v1/agents/{agent_id}", headers=admin).json()["status"] == "stopped"


def test_primary_agent_cannot_be_deleted(client: TestClient, admin: dict[str, str]) -> None:
    primary = _agents(client, admin)[0]
    response = client.delete(f"/api/v1/agents/{primary['id']}", headers=admin)
    assert response.status_code == 409
    assert "primary" in response.json()["detail"]


def test_unknown_agent_is_404_and_malformed_bodies_are_422(client: TestClient, admin: dict[str, str]) -> None:
    assert client.get(f"/api/v1/agents/{uuid.uuid4()}", headers=admin).status_code == 404
    assert (
        client.patch(f"/api/v1/agents/{uuid.uuid4()}/config", json={"model": "x"}, headers=admin).status_code
        == 404
    )
    broken = client.post(
        "/api/v1/agents", content=b"{not json", headers={**admin, "Content-Type": "application/json"}
    )
    assert broken.status_code == 422
    assert client.post("/api/v1/agents", json={"config": {"name": ""}}, headers=admin).status_code == 422
    assert client.patch(f"/api/v1/agents/{uuid.uuid4()}/config", json={}, headers=admin).status_code == 422


def _seed(redis_url: str, *agents: AgentInfo) -> None:
    async def go() -> None:
        redis = aioredis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/2", decode_responses=True)
        try:
            for agent in agents:
                await AgentRepository(redis).save(agent)
        finally:
            await redis.aclose()

    asyncio.run(go())


def _agent(name: str, *, status: AgentStatus = AgentStatus.IDLE, primary: bool = False) -> AgentInfo:
    return AgentInfo(
        id=uuid.uuid4(),
        config=AgentConfig(name=name),
        status=status,
        created_at=datetime.now(UTC),
        primary=primary,
    )


def test_startup_returns_agents_left_running_by_a_crash_to_idle(
    settings: Settings, redis_base_url: str, admin: dict[str, str]
) -> None:
    stuck = _agent("worker", status=AgentStatus.RUNNING)
    paused = _agent("held", status=AgentStatus.PAUSED)
    _seed(redis_base_url, stuck, paused)
    with TestClient(create_app(settings)) as client:
        statuses = {a["config"]["name"]: a["status"] for a in _agents(client, admin)}
    assert statuses == {"worker": "idle", "held": "paused", "Nova": "idle"}


def test_startup_prunes_duplicate_primary_agents_to_exactly_one(
    settings: Settings, redis_base_url: str, admin: dict[str, str]
) -> None:
    _seed(redis_base_url, _agent("Nova", primary=True), _agent("Nova", primary=True), _agent("helper"))
    with TestClient(create_app(settings)) as client:
        agents = _agents(client, admin)
    assert sum(1 for a in agents if a["primary"]) == 1
    assert sorted(a["config"]["name"] for a in agents) == ["Nova", "helper"]


def test_two_orchestrators_starting_together_leave_one_primary(
    settings: Settings, admin: dict[str, str]
) -> None:
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)):
        agents = _agents(first, admin)
    assert sum(1 for a in agents if a["primary"]) == 1
