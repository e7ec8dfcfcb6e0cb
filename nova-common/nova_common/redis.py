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


def url_db(url: str) -> int | None:
    """The database number a Redis URL names (`/3`, or `?db=3` for a unix socket), None when it names none."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        named = [p.removeprefix("db=") for p in parts.query.split("&") if p.startswith("db=")]
        return int(named[-1]) if named and named[-1].isdigit() else None
    path = parts.path.strip("/")
    return int(path) if path.isdigit() else None


def check_redis_url(service: str, url: str) -> None:
    """Refuse a REDIS_URL whose database number Nova would not use, instead of silently using another.

    Every service lives in its own fixed DB (the table above) and also opens others (the shared config in
    DB 1), so the URL names the server, not a database. It may name none, DB 0 (what Redis and most tools
    default to, so it says nothing), or the service's own number, as the Compose and Kubernetes files
    write it; any other number was meant to place the service elsewhere, which Nova cannot honour.
    """
    if service not in REDIS_DB_MAP:
        return
    named, own = url_db(url), REDIS_DB_MAP[service]
    if named not in (None, 0, own):
        raise ValueError(
            f"REDIS_URL names database {named}, but {service} always uses database {own} (Nova gives each "
            f"service a fixed database: {', '.join(f'{s} {db}' for s, db in REDIS_DB_MAP.items())}); "
            f"write /{own} or no number, or use a separate Redis server to keep installations apart"
        )


def redis_url_for(service: str, base_url: str) -> str:
    """Return `base_url` pointed at `service`'s own DB number. The number in `base_url` (if any) was
    checked against its owner's by the settings (`check_redis_url`); here it is only replaced."""
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
