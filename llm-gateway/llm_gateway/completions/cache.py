"""Response cache for deterministic requests: temperature 0, not streamed, keyed on the normalized request.

The key is the SHA-256 of the sorted-key JSON of everything that shapes the answer (model as requested,
messages, tools, format, limits), leaving out caller tags (`metadata`, `user`). Hit and miss counters live
in Redis so every gateway process reports the same figures; a lookup and its count are one script, so a
lookup costs one round trip.
"""

import hashlib
import json
from typing import Any

import redis.asyncio as aioredis
import structlog

log = structlog.get_logger("llm_gateway.cache")

KEY_PREFIX = "nova:cache:complete:"
STATS_KEY = "nova:cache:complete:stats"
_IGNORED = frozenset({"metadata", "user", "stream", "stream_options"})

# KEYS: entry, counters hash. Returns the entry (false when absent) after counting the hit or miss.
_LOOKUP = """
local value = redis.call('GET', KEYS[1])
redis.call('HINCRBY', KEYS[2], value and 'hits' or 'misses', 1)
return value
"""


def is_cacheable(body: dict[str, Any]) -> bool:
    return body.get("temperature") == 0 and not body.get("stream")


def cache_key(model: str | None, body: dict[str, Any]) -> str:
    normalized = {k: v for k, v in body.items() if k not in _IGNORED and v is not None}
    normalized["model"] = model
    digest = hashlib.sha256(
        json.dumps(normalized, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    return KEY_PREFIX + digest[:40]


class ResponseCache:
    def __init__(self, redis: aioredis.Redis, ttl: int) -> None:
        self.redis = redis
        self.ttl = ttl
        self._lookup = redis.register_script(_LOOKUP)

    async def get(self, key: str) -> dict[str, Any] | None:
        if self.ttl <= 0:
            return None
        try:
            raw = await self._lookup(keys=[key, STATS_KEY])
        except Exception as exc:
            log.warning("response_cache_read_failed", error=type(exc).__name__)
            return None
        if raw is None:
            return None
        value: dict[str, Any] = json.loads(raw)
        return value

    async def put(self, key: str, value: dict[str, Any]) -> None:
        if self.ttl <= 0:
            return
        try:
            await self.redis.set(key, json.dumps(value, separators=(",", ":")), ex=self.ttl)
        except Exception as exc:
            log.warning("response_cache_write_failed", error=type(exc).__name__)

    async def counters(self) -> tuple[int, int]:
        try:
            values = await self.redis.hmget(STATS_KEY, ["hits", "misses"])
        except Exception:
            return 0, 0
        return int(values[0] or 0), int(values[1] or 0)
