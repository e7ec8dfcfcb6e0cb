"""Hardware detection, the recommendation, and the local model server stopped after a drain."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from recovery.config import Settings
from recovery.main import create_app

_SHARED_TESTS = str(Path(__file__).resolve().parents[2] / "tests")
if _SHARED_TESTS not in sys.path:
    sys.path.insert(0, _SHARED_TESTS)

from fakes.docker_engine_fake import FakeDockerEngine  # noqa: E402
from fakes.server import serve_in_thread  # noqa: E402


def test_hardware_reports_cpu_ram_disk_and_needs_the_admin(client: TestClient, admin: dict[str, str]) -> None:
    assert client.get("/api/v1/recovery/inference/hardware").status_code == 401
    hardware = client.get("/api/v1/recovery/inference/hardware", headers=admin).json()
    assert hardware["cpu_count"] >= 1 and hardware["ram_total_mb"] > 0 and hardware["disk_free_mb"] > 0


def test_an_nvidia_gpu_found_by_nvidia_smi_leads_to_vllm(
    client: TestClient, admin: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "nvidia-smi"
    tool.write_text("#!/bin/sh\necho 'NVIDIA GeForce RTX 4090, 24564, 1024'\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin")
    hardware = client.get("/api/v1/recovery/inference/hardware", headers=admin).json()
    assert hardware["gpus"] == [
        {
            "vendor": "nvidia",
            "name": "NVIDIA GeForce RTX 4090",
            "memory_total_mb": 24564,
            "memory_used_mb": 1024,
        }
    ]
    recommendation = client.get("/api/v1/recovery/inference/recommendation", headers=admin).json()
    assert recommendation["backend"] == "vllm"


class FakeGateway:
    """llm-gateway's `/health/inflight`, answering a scripted sequence of in-flight counts."""

    def __init__(self, counts: list[int]) -> None:
        self.counts = counts
        self.asked = 0
        self.app = Starlette(routes=[Route("/health/inflight", self.inflight)])

    async def inflight(self, request: Request) -> JSONResponse:
        count = self.counts[min(self.asked, len(self.counts) - 1)]
        self.asked += 1
        return JSONResponse({"local_inflight": count})


@pytest.fixture
def engine() -> FakeDockerEngine:
    fake = FakeDockerEngine()
    fake.add("ollama")
    return fake


def _client(settings: Settings, engine_url: str, gateway_url: str, drain_seconds: float) -> TestClient:
    return TestClient(
        create_app(
            settings.model_copy(
                update={
                    "docker_host": engine_url,
                    "service_manager": "docker",
                    "model_server_service": "ollama",
                    "llm_gateway_url": gateway_url,
                    "inference_drain_seconds": drain_seconds,
                }
            )
        )
    )


@pytest.fixture
def live_engine(engine: FakeDockerEngine) -> Iterator[str]:
    with serve_in_thread(engine.app) as live:
        yield live.url


def test_backend_stops_only_after_the_gateway_drained_and_starts_again(
    recovery_settings: Settings, engine: FakeDockerEngine, live_engine: str, admin: dict[str, str]
) -> None:
    gateway = FakeGateway([2, 1, 0])
    with (
        serve_in_thread(gateway.app) as live_gateway,
        _client(recovery_settings, live_engine, live_gateway.url, 30) as client,
    ):
        stopped = client.post("/api/v1/recovery/inference/backend/stop", headers=admin)
        assert stopped.status_code == 200, stopped.text
        assert stopped.json()["drained"] is True and stopped.json()["inflight_at_stop"] == 0
        assert gateway.asked == 3
        assert engine.calls == [("stop", "ollama")] and not engine.by_service("ollama").running
        started = client.post("/api/v1/recovery/inference/backend/start", headers=admin)
        assert started.status_code == 200 and engine.by_service("ollama").running


def test_backend_stop_after_the_drain_timeout_says_requests_were_still_running(
    recovery_settings: Settings, engine: FakeDockerEngine, live_engine: str, admin: dict[str, str]
) -> None:
    gateway = FakeGateway([3])
    with (
        serve_in_thread(gateway.app) as live_gateway,
        _client(recovery_settings, live_engine, live_gateway.url, 0) as client,
    ):
        stopped = client.post("/api/v1/recovery/inference/backend/stop", headers=admin).json()
    assert stopped["drained"] is False and stopped["inflight_at_stop"] == 3
    assert "3 request(s) still running" in stopped["detail"]
    assert not engine.by_service("ollama").running
