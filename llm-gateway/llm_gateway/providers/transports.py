"""The two ways the gateway calls a model: directly over OpenAI's protocol, or through LiteLLM.

Both take an OpenAI-format request body and return OpenAI-format responses and stream chunks, so the
rest of the gateway has one shape to deal with. Every call has a timeout; failures become
`ProviderCallError`, whose `retryable` flag tells the fallback chain whether to move on.
"""

import asyncio
import importlib
import json
from collections.abc import AsyncGenerator, AsyncIterable
from contextlib import aclosing
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

import aiohttp
import httpx

from llm_gateway.openai_compat.schemas import FORWARDED_CHAT_PARAMETERS
from llm_gateway.providers.errors import RETRYABLE_STATUSES, ProviderCallError, scrub
from nova_common.json_codec import dump_json, parse_json
from nova_common.plain_http import PlainHttpClient, PlainResponse, Redirected, request_head

Transport = Literal["openai", "litellm"]
_AIOHTTP_ERRORS = (aiohttp.ClientError, TimeoutError)
# What an SSE line may carry besides a chunk.
_DONE = object()
_NO_CHUNK = object()


def forwarded(body: dict[str, Any]) -> dict[str, Any]:
    """The request parameters a provider may receive; anything else in `body` stays in the gateway."""
    return {key: value for key, value in body.items() if key in FORWARDED_CHAT_PARAMETERS}


@dataclass(frozen=True)
class Target:
    """One concrete model on one provider, with everything needed to call it."""

    provider: str
    model: str  # the id the provider knows
    gateway_model: str  # the id clients see (`groq/llama-3.3-70b-versatile`, `smollm2-135m`)
    transport: Transport
    base_url: str
    litellm_model: str = ""
    price_prefix: str = ""
    api_key: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    is_local: bool = False
    context_window: int | None = None
    daily_quota: int | None = None
    # llama.cpp servers take a JSON schema as {"type": "json_object", "schema": ...} (llama-cpp-python refuses
    # OpenAI's "json_schema" type); they turn it into a grammar, so even a tiny model answers valid JSON.
    schema_as_json_object: bool = False

    @property
    def secrets(self) -> list[str]:
        return [self.api_key, *self.headers.values()]


def _provider_message(status: int, text: str) -> str:
    try:
        body = json.loads(text)
    except ValueError:
        return text[:500] or f"HTTP {status}"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        for key in ("message", "detail"):
            if body.get(key):
                return str(body[key])
    return text[:500]


def _retry_after(value: str | None) -> int | None:
    try:
        return max(1, int(float(value))) if value else None
    except ValueError:
        return None


class OpenAICompatibleTransport:
    """Straight to `{base_url}/chat/completions`: no translation, so nothing to pay for one.

    Plain-http upstreams (local model servers, loopback proxies) through `plain_http` (a fraction of aiohttp's
    CPU per request), the others through aiohttp (a fraction of httpx's): what the client costs is most of
    what a pass-through gateway adds (bench/gateway_overhead.py).
    """

    def __init__(self, *, connect_timeout: float, read_timeout: float) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._default_timeout = self._timeout(None)  # built once: most calls use it
        self._session: aiohttp.ClientSession | None = None
        self.plain = PlainHttpClient()

    @property
    def session(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running event loop (aiohttp binds its session to one).
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=500, ttl_dns_cache=300),
                timeout=self._default_timeout,
            )
        return self._session

    def _timeout(self, read_timeout: float | None) -> aiohttp.ClientTimeout:
        # sock_read bounds the wait for each piece of the answer (the first token included), not its total.
        return aiohttp.ClientTimeout(
            total=None, connect=self.connect_timeout, sock_read=read_timeout or self.read_timeout
        )

    async def aclose(self) -> None:
        await self.plain.aclose()
        if self._session is not None:
            await self._session.close()

    def _headers(self, target: Target) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if target.api_key:
            headers["Authorization"] = f"Bearer {target.api_key}"
        headers.update(target.headers)
        return headers

    async def _error(
        self, target: Target, response: aiohttp.ClientResponse | PlainResponse
    ) -> ProviderCallError:
        status = response.status
        if isinstance(response, PlainResponse):
            text = (await response.read()).decode("utf-8", errors="replace")
        else:
            text = await response.text(errors="replace")
        message = scrub(_provider_message(status, text), target.secrets)
        return ProviderCallError(
            target.provider,
            f"{target.provider}: {message}",
            status_code=status,
            retryable=status in RETRYABLE_STATUSES or status >= 500,
            retry_after=_retry_after(
                response.headers.get("Retry-After") or response.headers.get("retry-after")
            ),
        )

    def _transport_error(self, target: Target, exc: Exception) -> ProviderCallError:
        if isinstance(exc, TimeoutError):
            return ProviderCallError(target.provider, f"{target.provider}: timed out", status_code=504)
        return ProviderCallError(
            target.provider, f"{target.provider}: unreachable ({type(exc).__name__})", status_code=502
        )

    @staticmethod
    def _payload(target: Target, body: dict[str, Any], stream: bool) -> dict[str, Any]:
        payload = {**forwarded(body), "model": target.model, "stream": stream}
        if stream:
            # Usage always: the gateway records it, and drops the chunk for callers that did not ask.
            payload["stream_options"] = {"include_usage": True}
        fmt = payload.get("response_format")
        if target.schema_as_json_object and isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            spec = fmt.get("json_schema") or {}
            payload["response_format"] = {"type": "json_object", "schema": spec.get("schema", spec)}
        return payload

    async def _plain_post(
        self, target: Target, data: bytes, read_timeout: float | None
    ) -> PlainResponse | None:
        """The request sent through `plain_http`, its status and headers in; None when it is aiohttp's."""
        origin = self.plain.origin(target.base_url)
        if origin is None:
            return None
        head = request_head(origin, "/chat/completions", self._headers(target), len(data))
        if head is None:
            return None
        try:
            return await self.plain.post(
                origin,
                head,
                data,
                connect_timeout=self.connect_timeout,
                read_timeout=read_timeout or self.read_timeout,
            )
        except Redirected:
            return None
        except OSError as exc:  # TimeoutError and connection failures
            raise self._transport_error(target, exc) from exc

    async def _read_plain(self, target: Target, response: PlainResponse) -> bytes:
        try:
            if response.status >= 400:
                raise await self._error(target, response)
            raw = await response.read()
        except OSError as exc:
            response.close()
            raise self._transport_error(target, exc) from exc
        except BaseException:
            response.close()
            raise
        response.release()
        return raw

    async def _read_aiohttp(self, target: Target, data: bytes, read_timeout: float | None) -> bytes:
        try:
            async with self.session.post(
                f"{target.base_url}/chat/completions",
                data=data,
                headers=self._headers(target),
                timeout=self._timeout(read_timeout) if read_timeout else self._default_timeout,
            ) as response:
                if response.status >= 400:
                    raise await self._error(target, response)
                return await response.read()
        except _AIOHTTP_ERRORS as exc:
            raise self._transport_error(target, exc) from exc

    async def complete(
        self, target: Target, body: dict[str, Any], read_timeout: float | None = None
    ) -> dict[str, Any]:
        data = dump_json(self._payload(target, body, stream=False))
        plain = await self._plain_post(target, data, read_timeout)
        if plain is not None:
            raw = await self._read_plain(target, plain)
        else:
            raw = await self._read_aiohttp(target, data, read_timeout)
        try:
            result: dict[str, Any] = parse_json(raw)
        except ValueError as exc:
            raise ProviderCallError(
                target.provider, f"{target.provider}: answered with invalid JSON"
            ) from exc
        return result

    def _chunk(self, target: Target, raw_line: bytes) -> Any:
        """What one SSE line carries: a chunk, `_NO_CHUNK` (a comment, a blank line) or `_DONE`."""
        line = raw_line.decode("utf-8", errors="replace").strip()
        if not line.startswith("data:"):
            return _NO_CHUNK
        payload = line[5:].strip()
        if payload == "[DONE]":
            return _DONE
        if not payload:
            return _NO_CHUNK
        chunk = parse_json(payload)
        if isinstance(chunk, dict) and "error" in chunk and "choices" not in chunk:
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else str(error)
            raise ProviderCallError(
                target.provider, f"{target.provider}: {scrub(str(message), target.secrets)}"
            )
        return chunk

    async def stream(self, target: Target, body: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        data = dump_json(self._payload(target, body, stream=True))
        plain = await self._plain_post(target, data, None)
        if plain is not None:
            chunks = self._chunks(target, plain, plain.lines(), OSError)
        else:
            try:
                response = await self.session.post(
                    f"{target.base_url}/chat/completions", data=data, headers=self._headers(target)
                )
            except _AIOHTTP_ERRORS as exc:
                raise self._transport_error(target, exc) from exc
            chunks = self._chunks(target, response, response.content, _AIOHTTP_ERRORS)
        # Closed with the caller's iteration, so a caller that stops early closes the connection at once.
        async with aclosing(chunks):
            async for chunk in chunks:
                yield chunk

    async def _chunks(
        self,
        target: Target,
        response: aiohttp.ClientResponse | PlainResponse,
        lines: AsyncIterable[bytes],
        errors: type[Exception] | tuple[type[Exception], ...],
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The chunks of a streamed answer, from either client's response and its lines."""
        finished = False
        try:
            if response.status >= 400:
                raise await self._error(target, response)
            async for raw_line in lines:
                chunk = self._chunk(target, raw_line)
                if chunk is _DONE:
                    finished = True
                    break
                if chunk is not _NO_CHUNK:
                    yield chunk
            else:
                finished = True
        except errors as exc:
            raise self._transport_error(target, exc) from exc
        finally:
            if finished:
                response.release()
            else:
                # Closing the connection is what tells the upstream to stop generating.
                response.close()


class LiteLLMTransport:
    """LiteLLM for providers with their own protocols (Anthropic, Gemini, Ollama, subscriptions)."""

    def __init__(self, *, connect_timeout: float, read_timeout: float) -> None:
        self.timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._module: ModuleType | None = None
        self._lock = asyncio.Lock()

    async def litellm(self) -> ModuleType:
        """Import LiteLLM once, in a thread: the import takes seconds and must not stall the event loop."""
        if self._module is None:
            async with self._lock:
                if self._module is None:
                    module = await asyncio.to_thread(importlib.import_module, "litellm")
                    # Quiet banners; drop OpenAI parameters a provider does not take instead of failing.
                    setattr(module, "suppress_debug_info", True)  # noqa: B010
                    setattr(module, "drop_params", True)  # noqa: B010
                    self._module = module
        return self._module

    async def aclose(self) -> None:
        return None

    def _kwargs(self, target: Target, body: dict[str, Any], read_timeout: float | None) -> dict[str, Any]:
        # LiteLLM reads every keyword as a call option (api_base, api_key, extra_headers...): only the chat
        # parameters in the allow-list come from the request, the rest from the target.
        kwargs: dict[str, Any] = {k: v for k, v in forwarded(body).items() if v is not None}
        kwargs.pop("user", None)
        kwargs.update(
            model=target.litellm_model,
            timeout=read_timeout or self.timeout.read,
            num_retries=0,
            max_retries=0,
        )
        if target.base_url:
            kwargs["api_base"] = target.base_url
        if target.api_key:
            kwargs["api_key"] = target.api_key
        if target.headers:
            kwargs["extra_headers"] = dict(target.headers)
        kwargs.update(target.extra)
        return kwargs

    def _error(self, target: Target, exc: Exception) -> ProviderCallError:
        status = getattr(exc, "status_code", None)
        name = type(exc).__name__
        connection_failure = name in {
            "Timeout",
            "APIConnectionError",
            "ServiceUnavailableError",
            "InternalServerError",
        }
        if not isinstance(status, int):
            status = 504 if name == "Timeout" else 502
        if name == "Timeout":
            status = 504
        message = scrub(str(getattr(exc, "message", None) or exc), target.secrets)
        retry_after = None
        response = getattr(exc, "response", None)
        if isinstance(response, httpx.Response):
            retry_after = _retry_after(response.headers.get("retry-after"))
        return ProviderCallError(
            target.provider,
            f"{target.provider}: {message[:2000]}",
            status_code=status,
            retryable=connection_failure or status in RETRYABLE_STATUSES or status >= 500,
            retry_after=retry_after,
        )

    async def complete(
        self, target: Target, body: dict[str, Any], read_timeout: float | None = None
    ) -> dict[str, Any]:
        litellm = await self.litellm()
        kwargs = self._kwargs(target, body, read_timeout)
        kwargs.pop("stream_options", None)
        kwargs["stream"] = False
        try:
            response = await litellm.acompletion(**kwargs)
        except Exception as exc:
            raise self._error(target, exc) from exc
        result: dict[str, Any] = response.model_dump(exclude_none=True)
        return result

    async def stream(self, target: Target, body: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        litellm = await self.litellm()
        kwargs = self._kwargs(target, body, None)
        kwargs["stream"] = True
        kwargs["stream_options"] = {"include_usage": True}
        try:
            response = await litellm.acompletion(**kwargs)
        except Exception as exc:
            raise self._error(target, exc) from exc
        try:
            async for chunk in response:
                yield chunk.model_dump(exclude_none=True)
        except Exception as exc:
            raise self._error(target, exc) from exc
        finally:
            close = getattr(response, "aclose", None)
            if close is not None:
                try:
                    await close()
                except Exception:  # noqa: S110 - closing a finished stream may fail harmlessly
                    pass

    async def embed(
        self, target: Target, texts: list[str], dimensions: int | None
    ) -> tuple[list[list[float]], int]:
        litellm = await self.litellm()
        kwargs: dict[str, Any] = {"model": target.litellm_model, "input": texts, "timeout": self.timeout.read}
        if target.base_url:
            kwargs["api_base"] = target.base_url
        if target.api_key:
            kwargs["api_key"] = target.api_key
        if dimensions:
            kwargs["dimensions"] = dimensions
        try:
            response = await litellm.aembedding(**kwargs)
        except Exception as exc:
            raise self._error(target, exc) from exc
        vectors = [list(item["embedding"]) for item in sorted(response.data, key=lambda d: d["index"])]
        usage = getattr(response, "usage", None)
        tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        return vectors, tokens
