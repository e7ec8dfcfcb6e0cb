"""SQL for knowledge sources, their crawls, and the credential vault's rows."""

import json
import uuid
from typing import Any

import asyncpg

_SOURCE_COLUMNS = "id, name, kind, url, text, credential_id, crawl, enabled, status, last_crawl_at, last_error, error_count, created_at, updated_at"
_CRAWL_JSON = ("skipped", "log")


def _source(row: asyncpg.Record) -> dict[str, Any]:
    data = dict(row)
    if isinstance(data.get("crawl"), str):
        data["crawl"] = json.loads(data["crawl"])
    return data


def _crawl(row: asyncpg.Record) -> dict[str, Any]:
    data = dict(row)
    for column in _CRAWL_JSON:
        if isinstance(data.get(column), str):
            data[column] = json.loads(data[column])
    return data


class KnowledgeRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # Sources ----------------------------------------------------------------------------------------------

    async def insert_source(self, values: dict[str, Any]) -> dict[str, Any]:
        row = await self.pool.fetchrow(
            f"""INSERT INTO knowledge_sources (name, kind, url, text, credential_id, crawl)
                VALUES ($1, $2, $3, $4, $5, $6::jsonb) RETURNING {_SOURCE_COLUMNS}""",  # noqa: S608 - constant
            values["name"],
            values["kind"],
            values.get("url"),
            values.get("text"),
            values.get("credential_id"),
            json.dumps(values["crawl"]),
        )
        assert row is not None
        return _source(row)

    async def get_source(self, source_id: uuid.UUID) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(
            f"SELECT {_SOURCE_COLUMNS} FROM knowledge_sources WHERE id = $1",  # noqa: S608 - constant
            source_id,
        )
        return _source(row) if row else None

    async def sources(self, limit: int, offset: int) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"""SELECT {_SOURCE_COLUMNS} FROM knowledge_sources
                ORDER BY created_at DESC LIMIT $1 OFFSET $2""",  # noqa: S608 - constant
            limit,
            offset,
        )
        return [_source(r) for r in rows]

    async def update_source(self, source_id: uuid.UUID, values: dict[str, Any]) -> dict[str, Any] | None:
        sets, args = [], []
        for column in ("name", "credential_id", "enabled", "crawl"):
            if column in values:
                args.append(json.dumps(values[column]) if column == "crawl" else values[column])
                sets.append(f"{column} = ${len(args) + 1}" + ("::jsonb" if column == "crawl" else ""))
        row = await self.pool.fetchrow(
            f"""UPDATE knowledge_sources SET {", ".join([*sets, "updated_at = now()"])} WHERE id = $1
                RETURNING {_SOURCE_COLUMNS}""",  # noqa: S608 - fixed column names
            source_id,
            *args,
        )
        return _source(row) if row else None

    async def delete_source(self, source_id: uuid.UUID) -> bool:
        return (await self.pool.execute("DELETE FROM knowledge_sources WHERE id = $1", source_id)).endswith(
            " 1"
        )

    async def queue_source(self, source_id: uuid.UUID) -> bool:
        """Ask for a crawl now; a source already crawling keeps crawling (False)."""
        status = await self.pool.execute(
            """UPDATE knowledge_sources SET status = 'queued', updated_at = now()
               WHERE id = $1 AND status <> 'crawling'""",
            source_id,
        )
        return status.endswith(" 1")

    async def claim_due(self, limit: int, stale_after_seconds: int) -> list[dict[str, Any]]:
        """Take the sources to crawl now (queued, past their refresh interval, or left `crawling` by a worker
        that stopped reporting) and mark them crawling, so two workers never crawl one source at once. The
        abandoned crawls of re-taken sources are closed as failed."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"""UPDATE knowledge_sources SET status = 'crawling', updated_at = now()
                    WHERE id IN (
                        SELECT id FROM knowledge_sources
                        WHERE enabled AND (status = 'queued'
                          OR (status = 'crawling' AND updated_at < now() - make_interval(secs => $2))
                          OR (kind <> 'text' AND status IN ('idle', 'error')
                              AND (last_crawl_at IS NULL OR last_crawl_at + make_interval(secs =>
                                   COALESCE((crawl->>'refresh_interval_seconds')::int, 86400)) <= now())))
                        ORDER BY last_crawl_at NULLS FIRST LIMIT $1 FOR UPDATE SKIP LOCKED)
                    RETURNING {_SOURCE_COLUMNS}""",  # noqa: S608 - constant
                limit,
                stale_after_seconds,
            )
            claimed = [row["id"] for row in rows]
            if claimed:
                await conn.execute(
                    """UPDATE knowledge_crawls SET status = 'failed', finished_at = now(),
                              error = 'abandoned: the worker stopped reporting progress'
                       WHERE source_id = ANY($1::uuid[]) AND finished_at IS NULL""",
                    claimed,
                )
        return [_source(r) for r in rows]

    # Crawls -----------------------------------------------------------------------------------------------

    async def insert_crawl(self, source_id: uuid.UUID) -> dict[str, Any]:
        row = await self.pool.fetchrow(
            "INSERT INTO knowledge_crawls (source_id) VALUES ($1) RETURNING *", source_id
        )
        assert row is not None
        return _crawl(row)

    async def update_crawl(
        self, source_id: uuid.UUID, crawl_id: uuid.UUID, values: dict[str, Any]
    ) -> dict[str, Any] | None:
        finished = values["status"] != "running"
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """UPDATE knowledge_crawls SET status = $3, fetched = $4, queued = $5, ingested = $6,
                          unchanged = $7, skipped = $8::jsonb, error = $9, log = $10::jsonb,
                          finished_at = CASE WHEN $11 THEN now() ELSE NULL END
                   WHERE id = $1 AND source_id = $2 AND finished_at IS NULL RETURNING *""",
                crawl_id,
                source_id,
                values["status"],
                values["fetched"],
                values["queued"],
                values["ingested"],
                values["unchanged"],
                json.dumps(values["skipped"]),
                values.get("error"),
                json.dumps(values["log"]),
                finished,
            )
            if row is None:
                return None
            if not finished:
                # A running crawl keeps its source fresh; a source that goes stale is re-taken (claim_due).
                await conn.execute("UPDATE knowledge_sources SET updated_at = now() WHERE id = $1", source_id)
            if finished:
                failed = values["status"] == "failed"
                await conn.execute(
                    """UPDATE knowledge_sources SET last_crawl_at = now(), updated_at = now(),
                              status = CASE WHEN $2 THEN 'error' ELSE 'idle' END,
                              last_error = CASE WHEN $2 THEN $3 ELSE NULL END,
                              error_count = CASE WHEN $2 THEN error_count + 1 ELSE 0 END
                       WHERE id = $1""",
                    source_id,
                    failed,
                    values.get("error"),
                )
        return _crawl(row)

    async def get_crawl(self, source_id: uuid.UUID, crawl_id: uuid.UUID) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(
            "SELECT * FROM knowledge_crawls WHERE id = $1 AND source_id = $2", crawl_id, source_id
        )
        return _crawl(row) if row else None

    async def crawls(self, source_id: uuid.UUID, limit: int, offset: int) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            """SELECT * FROM knowledge_crawls WHERE source_id = $1
               ORDER BY started_at DESC LIMIT $2 OFFSET $3""",
            source_id,
            limit,
            offset,
        )
        return [_crawl(r) for r in rows]

    # Credentials ------------------------------------------------------------------------------------------

    async def insert_credential(self, values: dict[str, Any]) -> dict[str, Any]:
        row = await self.pool.fetchrow(
            """INSERT INTO credentials (id, name, platform, key_nonce, wrapped_key, nonce, ciphertext, masked)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *""",
            values["id"],
            values["name"],
            values["platform"],
            values["key_nonce"],
            values["wrapped_key"],
            values["nonce"],
            values["ciphertext"],
            values["masked"],
        )
        assert row is not None
        return dict(row)

    async def get_credential(self, credential_id: uuid.UUID) -> dict[str, Any] | None:
        row = await self.pool.fetchrow("SELECT * FROM credentials WHERE id = $1", credential_id)
        return dict(row) if row else None

    async def credentials(self, limit: int, offset: int) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT * FROM credentials ORDER BY created_at DESC LIMIT $1 OFFSET $2", limit, offset
        )
        return [dict(r) for r in rows]

    async def delete_credential(self, credential_id: uuid.UUID) -> bool:
        return (await self.pool.execute("DELETE FROM credentials WHERE id = $1", credential_id)).endswith(
            " 1"
        )

    async def request_validation(self, credential_id: uuid.UUID) -> bool:
        status = await self.pool.execute(
            "UPDATE credentials SET validation_requested_at = now() WHERE id = $1", credential_id
        )
        return status.endswith(" 1")

    async def record_validation(self, credential_id: uuid.UUID, valid: bool, message: str | None) -> bool:
        status = await self.pool.execute(
            """UPDATE credentials SET valid = $2, validation_message = $3, validated_at = now(),
                      validation_requested_at = NULL WHERE id = $1""",
            credential_id,
            valid,
            message,
        )
        return status.endswith(" 1")

    async def credentials_to_validate(self, stale_seconds: int, limit: int) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            """SELECT * FROM credentials WHERE validation_requested_at IS NOT NULL OR validated_at IS NULL
                  OR validated_at < now() - make_interval(secs => $1)
               ORDER BY validation_requested_at NULLS LAST, validated_at NULLS FIRST LIMIT $2""",
            stale_seconds,
            limit,
        )
        return [dict(r) for r in rows]
