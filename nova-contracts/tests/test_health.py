from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from nova_contracts.health import (
    CheckStatus,
    DependencyCheck,
    Liveness,
    Readiness,
    ReadinessStatus,
    ServicesOverview,
    ServiceState,
    ServiceStatus,
)

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
POSTGRES_DOWN = DependencyCheck(name="postgres", status=CheckStatus.DOWN, detail="connection refused")
REDIS_OK = DependencyCheck(name="redis", status=CheckStatus.OK, latency_ms=0.4)
OLLAMA_DOWN = DependencyCheck(name="ollama", status=CheckStatus.DOWN, required=False)


@pytest.mark.parametrize(
    "instance",
    [
        Liveness(service="memory-service", version="0.1.0", uptime_seconds=12.5),
        Readiness(
            service="memory-service",
            status=ReadinessStatus.NOT_READY,
            version="0.1.0",
            checks=[POSTGRES_DOWN, REDIS_OK, OLLAMA_DOWN],
            details={"embedding_model": "nomic-embed-text"},
            checked_at=NOW,
        ),
        ServicesOverview(
            services=[
                ServiceStatus(
                    name="llm-gateway",
                    url="http://llm-gateway:8001",
                    port=8001,
                    state=ServiceState.READY,
                    latency_ms=3.2,
                    checks=[REDIS_OK],
                ),
                ServiceStatus(
                    name="voice-service",
                    url="http://voice:8130",
                    port=8130,
                    profile="voice",
                    state=ServiceState.DISABLED,
                ),
            ],
            ready=1,
            total=2,
            checked_at=NOW,
        ),
    ],
    ids=lambda instance: type(instance).__name__,
)
def test_health_model_survives_json_round_trip(instance: BaseModel) -> None:
    assert type(instance).model_validate_json(instance.model_dump_json()) == instance


SERVICE = {"name": "orchestrator", "url": "http://orchestrator:8000", "port": 8000, "state": "ready"}


@pytest.mark.parametrize(
    ("model", "payload", "loc"),
    [
        pytest.param(
            Liveness, {"service": "s", "version": "1", "uptime_seconds": -1}, ("uptime_seconds",), id="up"
        ),
        pytest.param(
            Readiness, {"service": "s", "version": "1", "status": "maybe"}, ("status",), id="wrong-readiness"
        ),
        pytest.param(
            Readiness,
            {
                "service": "s",
                "version": "1",
                "status": "ready",
                "checks": [{"name": "pg", "status": "flaky"}],
            },
            ("checks", 0, "status"),
            id="wrong-check-status",
        ),
        pytest.param(
            DependencyCheck,
            {"name": "pg", "status": "ok", "latency_ms": -1},
            ("latency_ms",),
            id="negative-latency",
        ),
        pytest.param(ServiceStatus, {**SERVICE, "port": 0}, ("port",), id="port-zero"),
        pytest.param(ServiceStatus, {**SERVICE, "port": 65_536}, ("port",), id="port-high"),
        pytest.param(ServiceStatus, {**SERVICE, "state": "sleeping"}, ("state",), id="wrong-state"),
        pytest.param(
            ServicesOverview, {"services": [], "ready": -1, "total": 0}, ("ready",), id="negative-ready"
        ),
    ],
)
def test_health_model_rejects_malformed_input_at_the_offending_field(
    first_error_loc: Any, model: type[BaseModel], payload: dict[str, Any], loc: tuple[Any, ...]
) -> None:
    assert first_error_loc(model, payload) == loc


def test_readiness_failing_lists_only_required_checks_that_are_down() -> None:
    readiness = Readiness(
        service="memory-service",
        status=ReadinessStatus.NOT_READY,
        version="0.1.0",
        checks=[POSTGRES_DOWN, REDIS_OK, OLLAMA_DOWN],
    )

    assert readiness.failing == [POSTGRES_DOWN]


def test_health_response_ignores_fields_added_by_a_newer_service() -> None:
    payload = '{"service": "s", "version": "1", "uptime_seconds": 1, "pid": 42}'

    assert Liveness.model_validate_json(payload) == Liveness(service="s", version="1", uptime_seconds=1)
