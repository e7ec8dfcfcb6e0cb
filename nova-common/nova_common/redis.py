"""Redis access with the seed's fixed database map: every service owns exactly one DB number."""

from typing import Final
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis

# The seed's table. Shared runtime configuration (`nova:config:*`) lives in the llm-gateway's DB 1.
REDIS_DB_MAP: Final[dict[str, int]] = {
    "memory-service": 0,
    "llm-gateway": 1,
    "orchestrator": 2,
    "chat-api": 3,
    "chat-bridge": 4,
    "cortex": 5,
    "intel-worker": 6,
    "recovery": 7,
    "knowledge-worker": 8,
    "voice-service": 9,
}
CONFIG_DB: Final[int] = REDIS_DB_MAP["llm-gateway"]


def redis_url_for(service: str, base_url: str) -> str:
    """Return `base_url` pointed at `service`'s own DB number, whatever DB the URL named."""
    if service not in REDIS_DB_MAP:
        raise KeyError(f"unknown service {service!r}; known: {', '.join(REDIS_DB_MAP)}")
    parts = urlsplit(base_url)
    if parts.scheme == "unix":
        query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("db="))
        query = f"{query}&db={REDIS_DB_MAP[service]}" if query else f"db={REDIS_DB_MAP[service]}"
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return urlunsplit((parts.scheme, parts.netloc, f"/{REDIS_DB_MAP[service]}", parts.query, ""))


def create_redis(service: str, base_url: str, **kwargs: object) -> aioredis.Redis:
    """A client on `service`'s DB. Connects lazily: nothing happens at call time."""
    options: dict[str, object] = {
        "decode_responses": True,
        "socket_connect_timeout": 3,
        "socket_timeout": 10,
        "health_check_interval": 30,
    }
    options.update(kwargs)
    return aioredis.Redis.from_url(redis_url_for(service, base_url), **options)  # type: ignore[arg-type]
