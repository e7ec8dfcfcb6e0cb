"""One poll: take the due feeds from the orchestrator, fetch each, hand new items to the orchestrator
(which deduplicates them) and to memory-service's ingestion queue, and report each feed's check.

A feed that fails is reported as failed (the orchestrator grows its backoff); it never stops the others.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import structlog
from pydantic import ValidationError

from intel_worker.fetch import FeedFetcher, FetchFailed
from intel_worker.parsers import Unparseable, page_snapshot, parse
from nova_common.http import ServiceClient, peer_error
from nova_contracts.intel import (
    ContentItem,
    Feed,
    FeedCheckReport,
    FeedType,
    ItemBatch,
    ItemBatchResult,
    ItemIn,
)
from nova_contracts.memory import IngestRequest, SourceInfo, SourceKind

log = structlog.get_logger("intel_worker.poller")

# How much memory-service trusts what a feed says (its default for `feed` applies when None).
FEED_TRUST: float | None = None


def reddit_listing_url(url: str, limit: int) -> str:
    """Reddit serves a listing as JSON at the same path plus `.json`; raw_json=1 keeps text unescaped."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if not path.endswith(".json"):
        path += "/.json"
    query = dict(parse_qsl(parts.query))
    query.setdefault("limit", str(limit))
    query["raw_json"] = "1"
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))


@dataclass
class PollSummary:
    checked: int = 0
    not_modified: int = 0
    failed: int = 0
    new_items: int = 0
    errors: dict[str, str] = field(default_factory=dict)


class FeedPoller:
    def __init__(
        self,
        *,
        orchestrator: ServiceClient,
        memory: ServiceClient | None,
        fetcher: FeedFetcher,
        feeds_per_poll: int,
        max_items_per_feed: int,
        digest_after_poll: bool,
        lease_seconds: int = 600,
    ) -> None:
        self.orchestrator = orchestrator
        self.memory = memory
        self.fetcher = fetcher
        self.feeds_per_poll = feeds_per_poll
        self.max_items = max_items_per_feed
        self.digest_after_poll = digest_after_poll
        self.lease_seconds = lease_seconds

    async def poll_once(self) -> PollSummary:
        # Claimed, not listed: another replica polling at the same moment is handed other feeds.
        response = await self.orchestrator.post(
            "/api/v1/intel/feeds/claim",
            params={"limit": self.feeds_per_poll, "lease_seconds": self.lease_seconds},
        )
        if response.status_code != 200:
            raise peer_error("orchestrator", response)
        summary = PollSummary()
        for raw in response.json():
            feed = Feed.model_validate(raw)
            summary.checked += 1
            try:
                report, new = await self.check(feed)
            except (FetchFailed, Unparseable, ValidationError) as exc:
                summary.failed += 1
                summary.errors[feed.url] = str(exc)
                log.info("feed_check_failed", feed_id=str(feed.id), url=feed.url, error=str(exc))
                report, new = FeedCheckReport(ok=False, error=str(exc)[:2000]), []
            summary.not_modified += report.not_modified
            summary.new_items += len(new)
            await self._report(feed, report)
        if summary.new_items and self.digest_after_poll:
            await self._digest()
        return summary

    async def check(self, feed: Feed) -> tuple[FeedCheckReport, list[ContentItem]]:
        url = reddit_listing_url(feed.url, self.max_items) if feed.type is FeedType.REDDIT_JSON else feed.url
        fetched = await self.fetcher.fetch(url, etag=feed.etag, last_modified=feed.last_modified)
        if fetched.status == 304:
            return FeedCheckReport(ok=True, not_modified=True), []
        if feed.type is FeedType.PAGE:
            digest, item = page_snapshot(fetched.body, url=feed.url, fallback_title=feed.name)
            # A page is an item only when its readable text changed since the last check.
            items = [] if digest == feed.last_content_hash else [item]
        else:
            digest = hashlib.sha256(fetched.body).hexdigest()
            items = (
                []
                if digest == feed.last_content_hash
                else parse(feed.type, fetched.body, url=url, limit=self.max_items)
            )
        new = await self._store(feed, items) if items else []
        report = FeedCheckReport(
            ok=True,
            etag=(fetched.etag or None) and fetched.etag[:500],
            last_modified=(fetched.last_modified or None) and fetched.last_modified[:200],
            content_hash=digest,
        )
        return report, new

    async def _store(self, feed: Feed, items: list[ItemIn]) -> list[ContentItem]:
        response = await self.orchestrator.post(
            "/api/v1/intel/items",
            content=ItemBatch(feed_id=feed.id, items=items).model_dump_json(),
            headers={"Content-Type": "application/json"},
        )
        if response.status_code != 200:
            raise peer_error("orchestrator", response)
        result = ItemBatchResult.model_validate(response.json())
        for item in result.stored:
            await self._ingest(feed, item)
        return result.stored

    async def _ingest(self, feed: Feed, item: ContentItem) -> None:
        """Queue the item for memory; a memory-service outage loses only memory's copy, never the item."""
        if self.memory is None:
            return
        request = IngestRequest(
            content=f"{item.title}\n\n{item.body}".strip()[:50_000],
            source=SourceInfo(
                kind=SourceKind.FEED,
                uri=item.url or feed.url,
                title=item.title[:200],
                author=item.author[:200] if item.author else None,
                trust=FEED_TRUST,
                fetched_at=datetime.now(UTC),
            ),
            owner="admin",
            metadata={
                "feed_id": str(feed.id),
                "feed": feed.name,
                "category": feed.category,
                "item_id": str(item.id),
            },
        )
        try:
            response = await self.memory.post(
                "/api/v1/memories/ingest",
                content=request.model_dump_json(exclude_none=True),
                headers={"Content-Type": "application/json"},
            )
            if response.status_code >= 300:
                log.warning(
                    "memory_ingest_refused",
                    status=response.status_code,
                    item_id=str(item.id),
                    body=response.text[:300],
                )
        except Exception as exc:
            log.warning("memory_ingest_failed", item_id=str(item.id), error=str(exc))

    async def _report(self, feed: Feed, report: FeedCheckReport) -> None:
        response = await self.orchestrator.post(
            f"/api/v1/intel/feeds/{feed.id}/status",
            content=report.model_dump_json(exclude_none=True),
            headers={"Content-Type": "application/json"},
        )
        if response.status_code not in (200, 404):  # 404: the feed was deleted while we fetched it
            raise peer_error("orchestrator", response)

    async def _digest(self) -> None:
        try:
            response = await self.orchestrator.post("/api/v1/intel/recommendations/digest", timeout=180)
            if response.status_code != 200:
                log.info("digest_deferred", status=response.status_code, detail=response.text[:300])
        except Exception as exc:
            log.info("digest_deferred", error=str(exc))
