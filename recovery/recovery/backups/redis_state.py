"""The Redis side of a backup: every DB of the seed's map, key by key, in a portable JSON-lines form.

DUMP payloads carry the RDB version of the server that made them, and Redis 6.2 refuses those of Redis 7,
so a backup stores each value by type instead (binary-safe base64) with its remaining TTL. Caches, rate
limits, locks, recovery's own operation keys and the maintenance flag with its readers' bookkeeping are left
out: they are rebuilt or meaningless after a restore, and replacing them would break the restore itself (the
restore waits on the readers' entries) or make its comparison fail whenever a service read the flag meanwhile.
"""

import base64
import fnmatch
import gzip
import hashlib
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from nova_common.redis import REDIS_DB_MAP, redis_url_for
from nova_contracts.recovery import RedisDbStats

VOLATILE_PATTERNS = (
    "nova:cache:*",
    "nova:ratelimit:*",
    "nova:lock:*",
    "nova:recovery:*",
    "nova:system:maintenance*",  # the flag and its readers' bookkeeping, written every second while services run
)
_DB_SERVICE = {db: service for service, db in REDIS_DB_MAP.items()}


def is_volatile(key: bytes) -> bool:
    text = key.decode(errors="replace")
    return any(fnmatch.fnmatchcase(text, pattern) for pattern in VOLATILE_PATTERNS)


def db_client(base_url: str, db: int) -> aioredis.Redis:
    """A binary-safe client on DB `db` (values are bytes; a backup must not re-encode them)."""
    return aioredis.Redis.from_url(
        redis_url_for(_DB_SERVICE[db], base_url), decode_responses=False, socket_timeout=60
    )


def _b64(value: Any) -> str:
    raw = value.encode() if isinstance(value, str) else bytes(value)
    return base64.b64encode(raw).decode()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _unb64(value: str) -> bytes:
    return base64.b64decode(value)


async def _read_value(client: aioredis.Redis, key: bytes, kind: str) -> Any:
    if kind == "string":
        value = await client.get(key)
        return None if value is None else _b64(value)
    if kind == "hash":
        fields: dict[Any, Any] = await client.hgetall(key)
        return sorted([_b64(k), _b64(v)] for k, v in fields.items())
    if kind == "list":
        return [_b64(v) for v in await client.lrange(key, 0, -1)]
    if kind == "set":
        return sorted(_b64(v) for v in await client.smembers(key))
    if kind == "zset":
        scored: Any = await client.zrange(key, 0, -1, withscores=True)
        return [[_b64(member), repr(score)] for member, score in scored]
    if kind == "stream":
        raw_entries: Any = await client.xrange(key)
        entries = [
            [_text(entry_id), [[_b64(k), _b64(v)] for k, v in fields.items()]]
            for entry_id, fields in raw_entries
        ]
        raw_groups: list[Any] = await client.xinfo_groups(key)
        groups = [
            {"name": _text(g["name"]), "last_delivered_id": _text(g["last-delivered-id"])} for g in raw_groups
        ]
        return {"entries": entries, "groups": sorted(groups, key=lambda g: g["name"])}
    raise ValueError(f"unsupported Redis type {kind!r} at key {key!r}")


@dataclass
class DbDigest:
    """Key count and an order-independent checksum of one DB's (non-volatile) keys."""

    db: int
    lines: list[str] = field(default_factory=list)

    def stats(self) -> RedisDbStats:
        digest = hashlib.sha256("\n".join(sorted(self.lines)).encode()).hexdigest()
        return RedisDbStats(db=self.db, keys=len(self.lines), checksum=digest)


async def _records(client: aioredis.Redis, db: int) -> AsyncIterator[dict[str, Any]]:
    async for key in client.scan_iter(count=1000):
        if is_volatile(key):
            continue
        kind = _text(await client.type(key))
        if kind == "none":  # expired or deleted between SCAN and TYPE
            continue
        value = await _read_value(client, key, kind)
        if value is None:
            continue
        ttl = await client.pttl(key)
        yield {"db": db, "key": _b64(key), "type": kind, "ttl_ms": ttl if ttl > 0 else None, "value": value}


def _digest_line(record: dict[str, Any]) -> str:
    return json.dumps([record["key"], record["type"], record["value"]], separators=(",", ":"))


async def dump_redis(base_url: str, target: Path) -> list[RedisDbStats]:
    """Write every DB's keys to `target` (gzip JSON lines); return per-DB key counts and checksums."""
    digests = {db: DbDigest(db) for db in sorted(_DB_SERVICE)}
    with gzip.open(target, "wt", encoding="utf-8", compresslevel=6) as out:
        for db in digests:
            client = db_client(base_url, db)
            try:
                async for record in _records(client, db):
                    out.write(json.dumps(record, separators=(",", ":")) + "\n")
                    digests[db].lines.append(_digest_line(record))
            finally:
                await client.aclose()
    return [d.stats() for d in digests.values()]


async def current_stats(base_url: str, dbs: Iterable[int]) -> list[RedisDbStats]:
    stats = []
    for db in dbs:
        digest = DbDigest(db)
        client = db_client(base_url, db)
        try:
            async for record in _records(client, db):
                digest.lines.append(_digest_line(record))
        finally:
            await client.aclose()
        stats.append(digest.stats())
    return stats


def _write_commands(pipe: Any, record: dict[str, Any]) -> None:
    key, kind, value = _unb64(record["key"]), record["type"], record["value"]
    if kind == "string":
        pipe.set(key, _unb64(value))
    elif kind == "hash":
        pipe.hset(key, mapping={_unb64(k): _unb64(v) for k, v in value})
    elif kind == "list":
        pipe.rpush(key, *[_unb64(v) for v in value])
    elif kind == "set":
        pipe.sadd(key, *[_unb64(v) for v in value])
    elif kind == "zset":
        pipe.zadd(key, {_unb64(member): float(score) for member, score in value})
    elif kind == "stream":
        for entry_id, fields in value["entries"]:
            pipe.xadd(key, {_unb64(k): _unb64(v) for k, v in fields}, id=entry_id)
        for group in value["groups"]:
            pipe.xgroup_create(key, group["name"], id=group["last_delivered_id"], mkstream=True)
    else:
        raise ValueError(f"unsupported Redis type {kind!r}")
    if record.get("ttl_ms"):
        pipe.pexpire(key, int(record["ttl_ms"]))


def read_records(source: Path) -> dict[int, list[dict[str, Any]]]:
    by_db: dict[int, list[dict[str, Any]]] = {db: [] for db in _DB_SERVICE}
    with gzip.open(source, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            by_db.setdefault(int(record["db"]), []).append(record)
    return by_db


async def restore_redis(base_url: str, source: Path) -> None:
    """Replace each DB's non-volatile keys with the archive's, one MULTI/EXEC per DB (all or nothing)."""
    for db, records in read_records(source).items():
        if db not in _DB_SERVICE:
            continue
        client = db_client(base_url, db)
        try:
            stale = [key async for key in client.scan_iter(count=1000) if not is_volatile(key)]
            async with client.pipeline(transaction=True) as pipe:
                for start in range(0, len(stale), 1000):
                    pipe.delete(*stale[start : start + 1000])
                for record in records:
                    _write_commands(pipe, record)
                await pipe.execute()
        finally:
            await client.aclose()
