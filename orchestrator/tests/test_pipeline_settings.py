"""The pipeline's settings are part of the orchestrator's one `Settings`: `create_app(settings)` decides them,
and the documented `PIPELINE_*` variables still fill them."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from orchestrator.config import Settings
from orchestrator.main import create_app
from orchestrator.pipeline.settings import PipelineSettings

from .conftest import make_settings


def test_pipeline_variables_fill_the_orchestrator_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PIPELINE_WORKERS_ENABLED", "false")
    monkeypatch.setenv("PIPELINE_WORKER_CONCURRENCY", "7")
    (tmp_path / ".env").write_text("PIPELINE_CLAIM_BATCH=5\n", encoding="utf-8")

    pipeline = Settings().pipeline

    assert (pipeline.workers_enabled, pipeline.worker_concurrency, pipeline.claim_batch) == (False, 7, 5)
    assert pipeline.heartbeat_seconds == PipelineSettings().heartbeat_seconds


def test_an_out_of_range_pipeline_variable_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PIPELINE_WORKER_CONCURRENCY", "0")

    with pytest.raises(ValidationError, match=r"pipeline\.worker_concurrency"):
        Settings()


def test_create_app_settings_decide_whether_this_process_runs_pipeline_workers(
    database_url: str, redis_base_url: str, tmp_path: Path, nova_env: dict[str, str]
) -> None:
    for workers_enabled in (False, True):
        settings = make_settings(database_url, redis_base_url, tmp_path)
        settings.pipeline = PipelineSettings(workers_enabled=workers_enabled)
        with TestClient(create_app(settings)) as client:
            runtime = client.app.state.pipeline  # type: ignore[attr-defined]
            assert (runtime.worker is not None) is workers_enabled
