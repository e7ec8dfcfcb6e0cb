"""MCP tool servers through the official SDK: registered, listed, called; one that crashes, hangs or never
starts is reported on its own row while the others' tools stay usable; reload brings it back."""

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi.testclient import TestClient

from nova_common.embedded import free_port
from nova_common.http import ServiceClient
from nova_common.testing import eventually
from nova_contracts.llm import ToolCall
from nova_contracts.orchestrator import AgentConfig, AgentInfo, AgentStatus, SandboxTier
from orchestrator.clients.memory_service import MemoryServiceClient
from orchestrator.config import Settings
from orchestrator.main import create_app
from orchestrator.tools.registry import ToolContext
from orchestrator.tools.sandbox import build_sandbox
from orchestrator.tools.service import ToolOutcome, ToolService

FIXTURES = Path(__file__).parent / "mcp_fixtures"


def stdio_server(name: str, script: str = "tool_server.py") -> dict[str, Any]:
    return {
        "name": name,
        "transport": "stdio",
        "command": sys.executable,
        "args": [str(FIXTURES / script), name],
    }


@pytest.fixture
def call(client: TestClient, workspace: Path) -> Callable[..., ToolOutcome]:
    tools: ToolService = client.app.state.services.tools  # type: ignore[attr-defined]
    agent = AgentInfo(
        id=uuid4(), config=AgentConfig(name="t"), status=AgentStatus.IDLE, created_at=datetime.now(UTC)
    )

    def run(name: str, **arguments: Any) -> ToolOutcome:
        async def unused(*_: Any) -> Any:
            raise AssertionError

        ctx = ToolContext(
            agent=agent,
            sandbox=build_sandbox(
                SandboxTier.WORKSPACE, workspace=workspace, nova_root=workspace, allow_host=False
            ),
            memory=MemoryServiceClient(ServiceClient("memory-service", "http://127.0.0.1:9"), timeout=1),
            shell_timeout=5,
            web_fetch=unused,
            list_agents=unused,
            service_health=unused,
        )
        return client.portal.call(tools.execute, ToolCall(id="c", name=name, arguments=arguments), ctx)

    return run


def _register(client: TestClient, admin: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/mcp-servers", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def _state(client: TestClient, admin: dict[str, str], server_id: str) -> dict[str, Any]:
    return client.get(f"/api/v1/mcp-servers/{server_id}", headers=admin).json()


def test_registered_server_is_connected_and_its_tools_are_listed_and_callable(
    client: TestClient, admin: dict[str, str], call: Callable[..., ToolOutcome]
) -> None:
    server = _register(client, admin, stdio_server("echo"))
    assert server["state"] == "connected", server
    assert {t["name"] for t in server["tools"]} >= {"mcp__echo__echo", "mcp__echo__crash"}
    listed = client.get("/api/v1/mcp-servers", headers=admin).json()
    assert [s["name"] for s in listed] == ["echo"]
    groups = {g["name"]: g for g in client.get("/api/v1/tools", headers=admin).json()}
    assert "mcp__echo__echo" in {t["name"] for t in groups["mcp:echo"]["tools"]}

    result = call("mcp__echo__echo", text="hi")
    assert (result.text, result.is_error) == ("echo:hi", False)


def test_a_crashed_server_is_reported_alone_and_comes_back_on_reload(
    client: TestClient,
    admin: dict[str, str],
    call: Callable[..., ToolOutcome],
    wait_until: Callable[..., Any],
) -> None:
    echo = _register(client, admin, stdio_server("echo"))
    notes = _register(client, admin, stdio_server("notes"))

    crashed = call("mcp__echo__crash")
    assert crashed.is_error
    row = wait_until(lambda: (s := _state(client, admin, echo["id"]))["state"] == "error" and s)
    assert "about to crash on purpose" in row["error"] and row["tools"] == []
    assert call("mcp__echo__echo", text="x").is_error

    # The other server never noticed.
    assert _state(client, admin, notes["id"])["state"] == "connected"
    assert call("mcp__notes__echo", text="still here").text == "notes:still here"
    details = client.get("/health/ready").json()["details"]["mcp_servers"]
    assert details["echo"]["state"] == "error" and details["notes"]["state"] == "connected"

    reloaded = client.post(f"/api/v1/mcp-servers/{echo['id']}/reload", headers=admin).json()
    assert reloaded["state"] == "connected" and reloaded["error"] is None
    assert call("mcp__echo__echo", text="back").text == "echo:back"


def test_a_server_that_cannot_start_is_reported_on_its_row(
    client: TestClient, admin: dict[str, str], call: Callable[..., ToolOutcome]
) -> None:
    good = _register(client, admin, stdio_server("good"))
    broken = _register(client, admin, {"name": "broken", "command": "/nonexistent/mcp-server"})
    assert broken["state"] == "error" and "nonexistent" in broken["error"]
    assert _state(client, admin, good["id"])["state"] == "connected"
    assert call("mcp__good__echo", text="ok").text == "good:ok"


def test_a_server_that_never_answers_is_reported_after_the_connect_timeout(
    settings: Settings, admin: dict[str, str]
) -> None:
    quick = settings.model_copy(update={"mcp_connect_timeout_seconds": 3.0})
    with TestClient(create_app(quick)) as client:
        silent = _register(client, admin, stdio_server("silent", "silent_server.py"))
        assert silent["state"] == "error" and silent["error"].startswith("no answer within 3s")
        echo = _register(client, admin, stdio_server("echo"))
        assert echo["state"] == "connected"


def test_a_slow_tool_call_times_out_without_dropping_the_server(
    settings: Settings, admin: dict[str, str], workspace: Path
) -> None:
    quick = settings.model_copy(update={"mcp_call_timeout_seconds": 1.0})
    with TestClient(create_app(quick)) as client:
        server = _register(client, admin, stdio_server("echo"))
        manager = client.app.state.services.mcp.manager  # type: ignore[attr-defined]
        slow = client.portal.call(manager.call, "mcp__echo__slow", {"seconds": 5})
        assert slow.is_error and "no answer within 1s" in slow.text
        assert _state(client, admin, server["id"])["state"] == "connected"
        assert client.portal.call(manager.call, "mcp__echo__echo", {"text": "x"}).text == "echo:x"


@pytest.fixture
def http_mcp_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(FIXTURES / "tool_server.py"), "web", "--http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/mcp"

    def answers() -> bool:
        try:
            httpx.get(url, timeout=1)
        except httpx.HTTPError:
            return False
        return True

    eventually(answers, timeout=30, interval=0.2, what=f"the MCP server at {url} answering")
    yield url
    process.terminate()
    process.wait(timeout=10)


def test_streamable_http_server_is_connected_and_callable(
    client: TestClient, admin: dict[str, str], call: Callable[..., ToolOutcome], http_mcp_server: str
) -> None:
    server = _register(client, admin, {"name": "web", "transport": "http", "url": http_mcp_server})
    assert server["state"] == "connected", server
    assert call("mcp__web__echo", text="over http").text == "web:over http"


def test_servers_are_reconnected_when_the_orchestrator_starts(
    settings: Settings, admin: dict[str, str]
) -> None:
    with TestClient(create_app(settings)) as client:
        _register(client, admin, stdio_server("echo"))
        _register(client, admin, {"name": "off", "command": sys.executable, "enabled": False})
    with TestClient(create_app(settings)) as client:

        def settled() -> dict[str, str] | None:
            states = {s["name"]: s["state"] for s in client.get("/api/v1/mcp-servers", headers=admin).json()}
            return states if states.get("echo") != "connecting" else None

        states = eventually(settled, timeout=30, interval=0.2, what="the echo server leaving `connecting`")
        assert states == {"echo": "connected", "off": "disabled"}


def test_update_delete_and_validation(client: TestClient, admin: dict[str, str]) -> None:
    server = _register(client, admin, stdio_server("echo"))
    disabled = client.patch(
        f"/api/v1/mcp-servers/{server['id']}", json={"enabled": False}, headers=admin
    ).json()
    assert disabled["state"] == "disabled" and disabled["tools"] == []
    assert client.post("/api/v1/mcp-servers", json=stdio_server("echo"), headers=admin).status_code == 409
    assert (
        client.post(
            "/api/v1/mcp-servers", json={"name": "x", "transport": "stdio"}, headers=admin
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/api/v1/mcp-servers", json={"name": "Bad Name!", "command": "x"}, headers=admin
        ).status_code
        == 422
    )
    assert client.delete(f"/api/v1/mcp-servers/{server['id']}", headers=admin).status_code == 204
    assert client.get(f"/api/v1/mcp-servers/{server['id']}", headers=admin).status_code == 404
    assert client.post(f"/api/v1/mcp-servers/{uuid.uuid4()}/reload", headers=admin).status_code == 404


def test_env_values_are_never_listed(client: TestClient, admin: dict[str, str]) -> None:
    server = _register(client, admin, {**stdio_server("echo"), "env": {"API_TOKEN": "very-secret"}})
    assert server["env_keys"] == ["API_TOKEN"] and "very-secret" not in str(server)


def test_catalog_offers_well_known_servers(client: TestClient, admin: dict[str, str]) -> None:
    catalog = {e["name"]: e for e in client.get("/api/v1/mcp-servers/catalog", headers=admin).json()}
    assert {"filesystem", "git", "fetch", "github"} <= set(catalog)
    assert catalog["github"]["required_env"] == ["GITHUB_PERSONAL_ACCESS_TOKEN"]
