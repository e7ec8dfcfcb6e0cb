"""A key's pipeline goal drives the pod's agents under the key's default agent policy (issue 13): a pod the
admin gave the shell, git and the nova tier runs a key's task with file tools in the workspace only."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from nova_common.embedded import EmbeddedRedis
from orchestrator.config import Settings

sys.path.insert(0, str(Path(__file__).parent))
from test_pipeline_support import (
    ADMIN,
    ToolCallingModel,
    behind_gateway,
    create_pod,
    fast_loops,
    pipeline_client,
    task_in,
    timeline,
    wait_for,
)  # fmt: skip
from tests.stack import STACK_SERVICE_TOKEN

MODEL = "openai/gpt-4o-mini"


@pytest.fixture(scope="module")
def model() -> ToolCallingModel:
    return ToolCallingModel()


@pytest.fixture(scope="module")
def gateway_url(
    model: ToolCallingModel, embedded_redis: EmbeddedRedis | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with behind_gateway(model, embedded_redis, tmp_path_factory.mktemp("gateway")) as url:
        yield url


@pytest.fixture
def nova_root(tmp_path: Path) -> Path:
    path = tmp_path / "nova-root"
    path.mkdir()
    return path


@pytest.fixture
def client(
    settings: Settings,
    gateway_url: str,
    model: ToolCallingModel,
    nova_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[TestClient]:
    settings = settings.model_copy(
        update={
            "llm_gateway_url": gateway_url,
            "service_token": SecretStr(STACK_SERVICE_TOKEN),
            "nova_root": nova_root,
        }
    )
    model.reset()
    yield from pipeline_client(fast_loops(settings))
    model.release()


def test_a_keys_pipeline_task_gets_no_shell_or_git_and_runs_in_the_workspace_tier(
    client: TestClient, model: ToolCallingModel, workspace: Path, nova_root: Path
) -> None:
    client.patch("/api/v1/tool-permissions", json={"groups": {"shell": True, "git": True}}, headers=ADMIN)
    agents = [{"name": "task", "role": "task", "allowed_tools": ["write_file", "run_shell", "git_commit"]}]
    pod = create_pod(client, "admin-tools", agents, default_model=MODEL, sandbox_tier="nova")
    model.tool_rounds["task"] = [[("write_file", {"path": "from-key.txt", "content": "k"})]]
    key = client.post("/api/v1/keys", json={"name": "k", "rate_limit_rpm": 10_000}, headers=ADMIN).json()[
        "key"
    ]

    submitted = client.post(
        "/api/v1/pipeline/tasks",
        json={"goal": "write a file", "pod_id": pod["id"]},
        headers={"X-API-Key": key},
    )
    assert submitted.status_code == 202, submitted.text
    task_id = submitted.json()["id"]
    done = wait_for(lambda: task_in(client, task_id, "complete", "failed"), what="terminal")
    assert done["status"] == "complete", timeline(client, task_id)

    offered = {t["function"]["name"] for t in model.requests_of("task")[0]["tools"]}
    assert offered == {"write_file"}
    assert (workspace / "from-key.txt").read_text() == "k"
    assert not (nova_root / "from-key.txt").exists()
