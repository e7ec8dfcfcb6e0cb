"""The local model slot: whichever backend recovery runs on port 11434 (Ollama in Compose, llama.cpp in
`make run`, or vLLM / SGLang / a custom OpenAI-compatible server), read from the runtime config.

Only `state == ready` receives traffic, so recovery can drain the slot before switching backends
(it polls `/health/inflight`). Models are discovered from the backend itself and cached briefly.
"""

import time
from dataclasses import dataclass

import httpx
import structlog

from llm_gateway.providers.transports import Target
from llm_gateway.runtime_config import RuntimeConfig, RuntimeConfigStore
from nova_contracts.llm import InferenceBackend, InferenceState

log = structlog.get_logger("llm_gateway.local")

DISCOVERY_TTL_SECONDS = 30.0
DISCOVERY_FAILURE_TTL_SECONDS = 5.0
PROBE_TIMEOUT = httpx.Timeout(3.0, connect=1.0)


@dataclass(frozen=True)
class LocalStatus:
    backend: InferenceBackend  # resolved: never AUTO once a server answered
    state: InferenceState
    url: str
    available: bool
    reason: str | None
    models: tuple[str, ...]
    headers: dict[str, str]


def auth_headers(value: str) -> dict[str, str]:
    """`Name: value` is a whole header; anything else is the Authorization value (e.g. `Bearer …`)."""
    if not value:
        return {}
    name, sep, rest = value.partition(":")
    if sep and name and " " not in name.strip():
        return {name.strip(): rest.strip()}
    return {"Authorization": value if " " in value else f"Bearer {value}"}


class LocalSlot:
    def __init__(self, config: RuntimeConfigStore, http: httpx.AsyncClient, *, context_window: int) -> None:
        self.config = config
        self.http = http
        self.context_window = context_window
        self._discovered: tuple[str, InferenceBackend, tuple[str, ...], str | None] | None = None
        self._discovered_at = 0.0
        self._discovered_for: tuple[str, InferenceBackend] | None = None

    async def status(self, *, refresh: bool = False) -> LocalStatus:
        config = await self.config.get()
        headers = auth_headers(config.inference_auth_header)
        if config.inference_backend is InferenceBackend.NONE:
            return LocalStatus(
                config.inference_backend,
                config.inference_state,
                config.inference_url,
                False,
                "the local backend is set to none",
                (),
                headers,
            )
        backend, models, error = await self._discover(config, headers, refresh=refresh)
        if config.inference_state is not InferenceState.READY:
            reason: str | None = f"the local backend is {config.inference_state.value}"
        elif error:
            reason = error
        else:
            reason = None
        return LocalStatus(
            backend, config.inference_state, config.inference_url, reason is None, reason, models, headers
        )

    async def _discover(
        self, config: RuntimeConfig, headers: dict[str, str], *, refresh: bool
    ) -> tuple[InferenceBackend, tuple[str, ...], str | None]:
        key = (config.inference_url, config.inference_backend)
        age = time.monotonic() - self._discovered_at
        if not refresh and self._discovered is not None and self._discovered_for == key:
            _, backend, models, error = self._discovered
            if age < (DISCOVERY_FAILURE_TTL_SECONDS if error else DISCOVERY_TTL_SECONDS):
                return backend, models, error
        backend, models, error = await self._probe(config, headers)
        if error:
            log.info("local_backend_unavailable", url=config.inference_url, reason=error)
        self._discovered = (config.inference_url, backend, models, error)
        self._discovered_for = key
        self._discovered_at = time.monotonic()
        return backend, models, error

    async def _probe(
        self, config: RuntimeConfig, headers: dict[str, str]
    ) -> tuple[InferenceBackend, tuple[str, ...], str | None]:
        url, backend = config.inference_url, config.inference_backend
        if backend in (InferenceBackend.AUTO, InferenceBackend.OLLAMA):
            try:
                response = await self.http.get(f"{url}/api/tags", headers=headers, timeout=PROBE_TIMEOUT)
                if response.status_code == 200 and "models" in response.json():
                    names = tuple(m.get("name") or m.get("model") for m in response.json()["models"])
                    return InferenceBackend.OLLAMA, tuple(n for n in names if n), None
            except (httpx.HTTPError, ValueError) as exc:
                if backend is InferenceBackend.OLLAMA:
                    return backend, (), f"no Ollama answers at {url} ({type(exc).__name__})"
            if backend is InferenceBackend.OLLAMA:
                return backend, (), f"no Ollama API at {url}"
        resolved = InferenceBackend.CUSTOM if backend is InferenceBackend.AUTO else backend
        try:
            response = await self.http.get(f"{url}/v1/models", headers=headers, timeout=PROBE_TIMEOUT)
        except httpx.HTTPError as exc:
            return resolved, (), f"no model server answers at {url} ({type(exc).__name__})"
        if response.status_code != 200:
            return resolved, (), f"{url}/v1/models answered {response.status_code}"
        try:
            data = [
                item for item in response.json().get("data", []) if isinstance(item, dict) and "id" in item
            ]
        except (ValueError, AttributeError):
            return resolved, (), f"{url}/v1/models did not answer an OpenAI model list"
        # llama.cpp's server says owned_by "llamacpp", llama-cpp-python's says "me"; vLLM says "vllm".
        if backend is InferenceBackend.AUTO and any(
            item.get("owned_by") in ("me", "llamacpp") for item in data
        ):
            resolved = InferenceBackend.LLAMACPP
        return resolved, tuple(str(item["id"]) for item in data), None

    def target(self, status: LocalStatus, model: str) -> Target:
        if status.backend is InferenceBackend.OLLAMA:
            return Target(
                provider="local",
                model=model,
                gateway_model=model,
                transport="litellm",
                base_url=status.url,
                litellm_model=f"ollama_chat/{model}",
                headers=status.headers,
                is_local=True,
                context_window=self.context_window,
            )
        return Target(
            provider="local",
            model=model,
            gateway_model=model,
            transport="openai",
            base_url=f"{status.url}/v1",
            litellm_model=f"openai/{model}",
            headers=status.headers,
            schema_as_json_object=status.backend is InferenceBackend.LLAMACPP,
            is_local=True,
            context_window=self.context_window,
        )
