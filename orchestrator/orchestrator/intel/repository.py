"""SQL for feeds, content items, recommendations and their comments."""

import json
import uuid
from typing import Any

import asyncpg

_FEED_WRITABLE = ("name", "url", "type", "category", "check_interval_seconds", "enabled")
# Exponential backoff on errors: interval * 2^errors, never past a day (unless the interval itself is longer).
BACKOFF_CAP_SECONDS = 86_400
_NEXT_CHECK = f"""CASE WHEN f.last_checked_at IS NULL OR f.check_requested THEN now()
    ELSE f.last_checked_at + make_interval(secs => GREATEST(f.check_interval_seconds,
         LEAST(f.check_interval_seconds * power(2, LEAST(f.error_count, 20)), {BACKOFF_CAP_SECONDS})))
    END"""
_UNCLAIMED_DUE = f"""f.enabled AND (f.claimed_until IS NULL OR f.claimed_until <= now())
    AND {_NEXT_CHECK} <= now()"""
_FEED_SELECT = f"""SELECT f.*, {_NEXT_CHECK} AS next_check_at,
    (SELECT count(*) FROM intel_items i WHERE i.feed_id = f.id) AS items_total FROM intel_feeds f"""  # noqa: S608 - constants


class IntelRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # Feeds ------------------------------------------------------------------------------------------------

    async def insert_feed(self, values: dict[str, Any]) -> dict[str, Any] | None:
        """The new feed, or None when its URL is watched already."""
        columns = [c for c in _FEED_WRITABLE if c in values]
        placeholders = ", ".join(f"${i + 1}" for i in range(len(columns)))
        row = await self.pool.fetchrow(
            f"""INSERT INTO intel_feeds ({", ".join(columns)}) VALUES ({placeholders})
                ON CONFLICT (url) DO NOTHING RETURNING id""",  # noqa: S608 - names from _FEED_WRITABLE
            *(values[c] for c in columns),
        )
        return await self.get_feed(row["id"]) if row else None

    async def get_feed(self, feed_id: uuid.UUID) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(f"{_FEED_SELECT} WHERE f.id = $1", feed_id)
        return dict(row) if row else None

    async def feeds(self, *, enabled: bool | None, limit: int, offset: int) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"""{_FEED_SELECT} WHERE ($1::bool IS NULL OR f.enabled = $1)
                ORDER BY f.created_at DESC LIMIT $2 OFFSET $3""",
            enabled,
            limit,
            offset,
        )
        return [dict(r) for r in rows]

    async def due_feeds(self, limit: int) -> list[dict[str, Any]]:
        """Enabled feeds due now and not leased to a worker, oldest first (a read: nothing is claimed)."""
        rows = await self.pool.fetch(
            f"""SELECT * FROM ({_FEED_SELECT} WHERE {_UNCLAIMED_DUE}) due
                ORDER BY next_check_at LIMIT $1""",  # noqa: S608
            limit,
        )
        return [dict(r) for r in rows]

    async def claim_due_feeds(self, limit: int, lease_seconds: int) -> list[dict[str, Any]]:
        """Take the feeds to poll now and lease them for `lease_seconds`, in one statement: rows another
        replica is claiming are skipped (SKIP LOCKED), so two workers never poll one feed at once."""
        async with self.pool.acquire() as conn, conn.transaction():
            claimed = await conn.fetch(
                f"""UPDATE intel_feeds SET claimed_until = now() + make_interval(secs => $2)
                    WHERE id IN (SELECT f.id FROM intel_feeds f WHERE {_UNCLAIMED_DUE}
                                 ORDER BY {_NEXT_CHECK} LIMIT $1 FOR UPDATE SKIP LOCKED)
                    RETURNING id""",  # noqa: S608 - constants
                limit,
                lease_seconds,
            )
            rows = await conn.fetch(
                f"{_FEED_SELECT} WHERE f.id = ANY($1::uuid[]) ORDER BY next_check_at",
                [r["id"] for r in claimed],
            )
        return [dict(r) for r in rows]

    async def update_feed(self, feed_id: uuid.UUID, values: dict[str, Any]) -> dict[str, Any] | None:
        columns = [c for c in _FEED_WRITABLE if c in values]
        sets = [f"{c} = ${i + 2}" for i, c in enumerate(columns)]
        row = await self.pool.fetchrow(
            f"UPDATE intel_feeds SET {', '.join([*sets, 'updated_at = now()'])} WHERE id = $1 RETURNING id",  # noqa: S608
            feed_id,
            *(values[c] for c in columns),
        )
        return await self.get_feed(feed_id) if row else None

    async def url_taken(self, url: str, other_than: uuid.UUID) -> bool:
        found = await self.pool.fetchval(
            "SELECT 1 FROM intel_feeds WHERE url = $1 AND id <> $2", url, other_than
        )
        return found is not None

    async def delete_feed(self, feed_id: uuid.UUID) -> bool:
        return (await self.pool.execute("DELETE FROM intel_feeds WHERE id = $1", feed_id)).endswith(" 1")

    async def request_check(self, feed_id: uuid.UUID) -> bool:
        status = await self.pool.execute(
            "UPDATE intel_feeds SET check_requested = true, updated_at = now() WHERE id = $1", feed_id
        )
        return status.endswith(" 1")

    async def record_success(
        self,
        feed_id: uuid.UUID,
        *,
        etag: str | None,
        last_modified: str | None,
        content_hash: str | None,
    ) -> bool:
        # A 304 sends no validators: the ones stored stay (COALESCE), so the next request stays conditional.
        status = await self.pool.execute(
            """UPDATE intel_feeds SET last_checked_at = now(), last_success_at = now(), error_count = 0,
                      last_error = NULL, check_requested = false, claimed_until = NULL, etag = COALESCE($2, etag),
                      last_modified = COALESCE($3, last_modified),
                      last_content_hash = COALESCE($4, last_content_hash), updated_at = now()
               WHERE id = $1""",
            feed_id,
            etag,
            last_modified,
            content_hash,
        )
        return status.endswith(" 1")

    async def record_failure(self, feed_id: uuid.UUID, error: str) -> bool:
        status = await self.pool.execute(
            """UPDATE intel_feeds SET last_checked_at = now(), error_count = error_count + 1, last_error = $2,
                      check_requested = false, claimed_until = NULL, updated_at = now()
               WHERE id = $1""",
            feed_id,
            error,
        )
        return status.endswith(" 1")

    # Items ------------------------------------------------------------------------------------------------

    async def insert_items(self, feed_id: uuid.UUID, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store the items not seen before (by content hash); return only those."""
        stored: list[dict[str, Any]] = []
        async with self.pool.acquire() as conn, conn.transaction():
            for item in items:
                row = await conn.fetchrow(
                    """INSERT INTO intel_items (feed_id, title, url, body, author, published_at, content_hash)
                       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (content_hash) DO NOTHING RETURNING *""",
                    feed_id,
                    item["title"],
                    item.get("url"),
                    item.get("body", ""),
                    item.get("author"),
                    item.get("published_at"),
                    item["content_hash"],
                )
                if row is not None:
                    stored.append(dict(row))
        return stored

    async def items(self, feed_id: uuid.UUID | None, limit: int, offset: int) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            """SELECT * FROM intel_items WHERE ($1::uuid IS NULL OR feed_id = $1)
               ORDER BY created_at DESC LIMIT $2 OFFSET $3""",
            feed_id,
            limit,
            offset,
        )
        return [dict(r) for r in rows]

    async def undigested_items(self, limit: int) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT * FROM intel_items WHERE digested_at IS NULL ORDER BY created_at LIMIT $1", limit
        )
        return [dict(r) for r in rows]

    async def save_digest(
        self, item_ids: list[uuid.UUID], recommendations: list[dict[str, Any]]
    ) -> list[uuid.UUID]:
        """Insert the recommendations and mark the items digested, in one transaction."""
        created: list[uuid.UUID] = []
        async with self.pool.acquire() as conn, conn.transaction():
            for rec in recommendations:
                created.append(
                    await conn.fetchval(
                        """INSERT INTO intel_recommendations (theme, title, summary, relevance, item_ids)
                           VALUES ($1, $2, $3, $4, $5) RETURNING id""",
                        rec["theme"],
                        rec["title"],
                        rec["summary"],
                        rec["relevance"],
                        rec["item_ids"],
                    )
                )
            await conn.execute(
                "UPDATE intel_items SET digested_at = now() WHERE id = ANY($1::uuid[])", item_ids
            )
        return created

    # Recommendations --------------------------------------------------------------------------------------

    async def get_recommendation(self, rec_id: uuid.UUID) -> dict[str, Any] | None:
        row = await self.pool.fetchrow("SELECT * FROM intel_recommendations WHERE id = $1", rec_id)
        if row is None:
            return None
        comments = await self.pool.fetch(
            "SELECT * FROM intel_recommendation_comments WHERE recommendation_id = $1 ORDER BY created_at",
            rec_id,
        )
        return {**dict(row), "comments": [dict(c) for c in comments]}

    async def recommendations(self, status: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            """SELECT r.*, COALESCE((SELECT jsonb_agg(to_jsonb(c) ORDER BY c.created_at)
                                     FROM intel_recommendation_comments c WHERE c.recommendation_id = r.id),
                                    '[]'::jsonb)::text AS comments_json
               FROM intel_recommendations r WHERE ($1::text IS NULL OR r.status = $1)
               ORDER BY r.relevance DESC, r.created_at DESC LIMIT $2 OFFSET $3""",
            status,
            limit,
            offset,
        )
        return [dict(r) for r in rows]

    async def set_recommendation_status(
        self, rec_id: uuid.UUID, status: str, *, expected: tuple[str, ...], goal_id: uuid.UUID | None = None
    ) -> bool:
        """Move a recommendation from one of `expected` states; False when it was not in one (a race lost)."""
        result = await self.pool.execute(
            """UPDATE intel_recommendations SET status = $2, goal_id = COALESCE($4, goal_id), updated_at = now()
               WHERE id = $1 AND status = ANY($3::text[])""",
            rec_id,
            status,
            list(expected),
            goal_id,
        )
        return result.endswith(" 1")

    async def insert_comment(self, rec_id: uuid.UUID, author: str, body: str) -> None:
        await self.pool.execute(
            "INSERT INTO intel_recommendation_comments (recommendation_id, author, body) VALUES ($1, $2, $3)",
            rec_id,
            author,
            body,
        )

    async def stats(self) -> dict[str, Any]:
        async with self.pool.acquire() as conn:
            feeds = await conn.fetchrow(
                """SELECT count(*) AS feeds, count(*) FILTER (WHERE enabled) AS enabled,
                          count(*) FILTER (WHERE error_count > 0) AS failing FROM intel_feeds"""
            )
            items = await conn.fetchrow(
                """SELECT count(*) AS total, count(*) FILTER (WHERE created_at > now() - interval '1 day') AS day,
                          count(*) FILTER (WHERE digested_at IS NULL) AS undigested FROM intel_items"""
            )
            recs = await conn.fetch("SELECT status, count(*) AS n FROM intel_recommendations GROUP BY status")
        assert feeds is not None and items is not None
        return {
            "feeds": feeds["feeds"],
            "feeds_enabled": feeds["enabled"],
            "feeds_failing": feeds["failing"],
            "items_total": items["total"],
            "items_last_24h": items["day"],
            "undigested_items": items["undigested"],
            "recommendations_by_status": {r["status"]: r["n"] for r in recs},
        }


def recommendation_row(row: dict[str, Any]) -> dict[str, Any]:
    """A listed recommendation with its comments decoded (they come aggregated as JSON text)."""
    data = dict(row)
    data["comments"] = json.loads(data.pop("comments_json", "[]") or "[]")
    return data
