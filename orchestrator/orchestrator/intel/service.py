"""Intel rules: feed type detection, error backoff, item deduplication, and the digest that turns new items
into recommendations a person approves (a goal is created) or dismisses."""

import hashlib
import json
import re
import uuid
from typing import Any

import structlog

from nova_common.auth import Principal
from nova_common.errors import Conflict, NotFound, UpstreamUnavailable
from nova_contracts.goals import GoalCreate
from nova_contracts.intel import (
    ContentItem,
    DigestResult,
    Feed,
    FeedCheckReport,
    FeedCreate,
    FeedUpdate,
    IntelStats,
    ItemBatch,
    ItemBatchResult,
    ItemIn,
    Recommendation,
    RecommendationCommentCreate,
    RecommendationStatus,
)
from nova_contracts.llm import CompleteRequest, Message
from orchestrator.clients.llm_gateway import LlmGatewayClient
from orchestrator.goals.service import GoalService, author_of
from orchestrator.intel.detect import default_name, detect_category, detect_feed_type
from orchestrator.intel.repository import IntelRepository, recommendation_row
from orchestrator.intel.url_check import refuse_internal_url

log = structlog.get_logger("orchestrator.intel")

DIGEST_BATCH = 40
DIGEST_TIME_LIMIT = 120.0
_SPACES = re.compile(r"\s+")
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)

_DIGEST_PROMPT = """You read new items from technology feeds for a person building an AI platform.
Group the items below by theme. For each theme worth acting on, answer with a recommendation.
Answer with JSON only: {"recommendations": [{"theme": "...", "title": "what to do, imperative, <= 120 chars",
"summary": "why, in two or three sentences", "relevance": 0.0-1.0, "items": [item numbers]}]}.
Leave out themes with nothing to act on.

Items:
"""


def content_hash(item: ItemIn) -> str:
    """The item's identity: its `identity` when given, else title and body, with case and spacing ignored,
    so a repost (same text, another feed or URL) hashes the same."""
    if item.identity:
        basis = f"identity\x00{item.identity.strip().lower()}"
    else:
        basis = (
            f"{_SPACES.sub(' ', item.title).strip().lower()}\x00{_SPACES.sub(' ', item.body).strip().lower()}"
        )
    return hashlib.sha256(basis.encode()).hexdigest()


def parse_digest(text: str, item_count: int) -> list[dict[str, Any]]:
    """The model's recommendations; item numbers are 1-based and out-of-range ones are dropped. ValueError
    when the answer is not the JSON asked for."""
    try:
        return _parse_digest(text, item_count)
    except (TypeError, AttributeError, KeyError) as exc:
        raise ValueError(f"unexpected JSON shape ({exc})") from exc


def _parse_digest(text: str, item_count: int) -> list[dict[str, Any]]:
    match = _JSON_OBJECT.search(text)
    if match is None:
        raise ValueError("no JSON object in the answer")
    data = json.loads(match.group(0))
    found: list[dict[str, Any]] = []
    for entry in data.get("recommendations", []):
        if not isinstance(entry, dict) or not entry.get("title"):
            continue
        numbers = [n for n in entry.get("items", []) if isinstance(n, int) and 1 <= n <= item_count]
        try:
            relevance = min(max(float(entry.get("relevance", 0.5)), 0.0), 1.0)
        except (TypeError, ValueError):
            relevance = 0.5
        found.append(
            {
                "theme": str(entry.get("theme") or "general")[:200],
                "title": str(entry["title"])[:200],
                "summary": str(entry.get("summary") or "")[:5000],
                "relevance": relevance,
                "numbers": numbers,
            }
        )
    return found


class IntelService:
    def __init__(
        self,
        repository: IntelRepository,
        goals: GoalService,
        gateway: LlmGatewayClient | None,
        *,
        allow_loopback: bool = False,
    ) -> None:
        self.repository = repository
        self.goals = goals
        self.gateway = gateway
        self.allow_loopback = allow_loopback

    # Feeds ------------------------------------------------------------------------------------------------

    async def _feed(self, feed_id: uuid.UUID) -> dict[str, Any]:
        row = await self.repository.get_feed(feed_id)
        if row is None:
            raise NotFound(f"feed {feed_id} not found")
        return row

    async def create_feed(self, body: FeedCreate) -> Feed:
        refuse_internal_url(body.url, allow_loopback=self.allow_loopback)
        feed_type = body.type or detect_feed_type(body.url)
        values = {
            "name": body.name or default_name(body.url),
            "url": body.url,
            "type": feed_type.value,
            "category": body.category or detect_category(body.url, feed_type),
            "check_interval_seconds": body.check_interval_seconds,
            "enabled": body.enabled,
        }
        row = await self.repository.insert_feed(values)
        if row is None:
            raise Conflict(f"a feed with url {body.url} exists already")
        return Feed.model_validate(row)

    async def feeds(self, *, enabled: bool | None, limit: int, offset: int) -> list[Feed]:
        rows = await self.repository.feeds(enabled=enabled, limit=limit, offset=offset)
        return [Feed.model_validate(r) for r in rows]

    async def get_feed(self, feed_id: uuid.UUID) -> Feed:
        return Feed.model_validate(await self._feed(feed_id))

    async def update_feed(self, feed_id: uuid.UUID, body: FeedUpdate) -> Feed:
        values = body.model_dump(mode="json")
        if "url" in values:
            refuse_internal_url(values["url"], allow_loopback=self.allow_loopback)
            if await self.repository.url_taken(values["url"], feed_id):
                raise Conflict(f"a feed with url {values['url']} exists already")
            # A new URL without a type says what it is again.
            values.setdefault("type", detect_feed_type(values["url"]).value)
        row = await self.repository.update_feed(feed_id, values)
        if row is None:
            raise NotFound(f"feed {feed_id} not found")
        return Feed.model_validate(row)

    async def delete_feed(self, feed_id: uuid.UUID) -> None:
        if not await self.repository.delete_feed(feed_id):
            raise NotFound(f"feed {feed_id} not found")

    async def request_check(self, feed_id: uuid.UUID) -> Feed:
        if not await self.repository.request_check(feed_id):
            raise NotFound(f"feed {feed_id} not found")
        return await self.get_feed(feed_id)

    async def due_feeds(self, limit: int) -> list[Feed]:
        return [Feed.model_validate(r) for r in await self.repository.due_feeds(limit)]

    async def claim_due_feeds(self, limit: int, lease_seconds: int) -> list[Feed]:
        """Due feeds leased to the caller until it reports each one (or the lease runs out)."""
        return [Feed.model_validate(r) for r in await self.repository.claim_due_feeds(limit, lease_seconds)]

    async def report_check(self, feed_id: uuid.UUID, report: FeedCheckReport) -> Feed:
        if report.ok:
            found = await self.repository.record_success(
                feed_id,
                etag=report.etag,
                last_modified=report.last_modified,
                content_hash=report.content_hash,
            )
        else:
            found = await self.repository.record_failure(feed_id, report.error or "fetch failed")
        if not found:
            raise NotFound(f"feed {feed_id} not found")
        return await self.get_feed(feed_id)

    # Items ------------------------------------------------------------------------------------------------

    async def add_items(self, batch: ItemBatch) -> ItemBatchResult:
        await self._feed(batch.feed_id)
        rows = [
            {**item.model_dump(exclude={"identity"}), "content_hash": content_hash(item)}
            for item in batch.items
        ]
        stored = await self.repository.insert_items(batch.feed_id, rows)
        return ItemBatchResult(
            received=len(rows),
            duplicates=len(rows) - len(stored),
            stored=[ContentItem.model_validate(r) for r in stored],
        )

    async def items(self, feed_id: uuid.UUID | None, limit: int, offset: int) -> list[ContentItem]:
        return [ContentItem.model_validate(r) for r in await self.repository.items(feed_id, limit, offset)]

    async def stats(self) -> IntelStats:
        return IntelStats.model_validate(await self.repository.stats())

    # Recommendations --------------------------------------------------------------------------------------

    async def digest(self) -> DigestResult:
        """Ask the model to group the undigested items into recommendations. When it cannot (gateway down,
        an unusable answer) the items stay undigested for the next digest."""
        items = await self.repository.undigested_items(DIGEST_BATCH)
        if not items:
            return DigestResult(items_considered=0, recommendations=[])
        if self.gateway is None:
            raise UpstreamUnavailable("llm-gateway is not configured")
        listing = "\n".join(
            f"{n}. {item['title']}"
            + (f" ({item['url']})" if item["url"] else "")
            + f"\n   {item['body'][:400]}"
            for n, item in enumerate(items, start=1)
        )
        answer = await self.gateway.complete(
            CompleteRequest(
                messages=[Message(role="user", content=_DIGEST_PROMPT + listing)],
                temperature=0.2,
                task_type="intel_digest",
            ),
            time_limit=DIGEST_TIME_LIMIT,
        )
        try:
            found = parse_digest(answer.content if isinstance(answer.content, str) else "", len(items))
        except ValueError as exc:
            # The model answered, just not usefully: an expected outcome, reported in the body. The items
            # stay undigested for the next digest.
            log.warning("intel_digest_unusable", error=str(exc))
            return DigestResult(
                items_considered=len(items),
                recommendations=[],
                error=f"the model's answer was not usable: {exc}",
            )
        for rec in found:
            rec["item_ids"] = [items[n - 1]["id"] for n in rec.pop("numbers")]
        created = await self.repository.save_digest([item["id"] for item in items], found)
        return DigestResult(
            items_considered=len(items),
            recommendations=[await self.get_recommendation(rec_id) for rec_id in created],
        )

    async def recommendations(
        self, status: RecommendationStatus | None, limit: int, offset: int
    ) -> list[Recommendation]:
        rows = await self.repository.recommendations(status.value if status else None, limit, offset)
        return [Recommendation.model_validate(recommendation_row(r)) for r in rows]

    async def get_recommendation(self, rec_id: uuid.UUID) -> Recommendation:
        row = await self.repository.get_recommendation(rec_id)
        if row is None:
            raise NotFound(f"recommendation {rec_id} not found")
        return Recommendation.model_validate(row)

    async def set_status(self, rec_id: uuid.UUID, status: RecommendationStatus) -> Recommendation:
        current = await self.get_recommendation(rec_id)
        if status is RecommendationStatus.APPROVED:
            raise Conflict("approve a recommendation with POST …/approve: it creates the goal")
        if current.status is RecommendationStatus.APPROVED:
            raise Conflict(f"recommendation {rec_id} is approved already (goal {current.goal_id})")
        await self.repository.set_recommendation_status(rec_id, status.value, expected=("new", "dismissed"))
        return await self.get_recommendation(rec_id)

    async def approve(self, rec_id: uuid.UUID, principal: Principal) -> Recommendation:
        current = await self.get_recommendation(rec_id)
        if current.status is RecommendationStatus.APPROVED:
            raise Conflict(f"recommendation {rec_id} is approved already (goal {current.goal_id})")
        description = f"{current.summary}\n\nFrom intel recommendation {current.id} (theme: {current.theme})."
        goal = await self.goals.create(
            GoalCreate(
                title=current.title,
                description=description[:20_000],
                metadata={"source": "intel", "recommendation_id": str(current.id)},
            ),
            principal,
        )
        if not await self.repository.set_recommendation_status(
            rec_id, "approved", expected=("new", "dismissed"), goal_id=goal.id
        ):
            # Another approval won the race: this goal is a duplicate of its goal.
            await self.goals.repository.delete(goal.id)
            raise Conflict(f"recommendation {rec_id} was approved meanwhile")
        return await self.get_recommendation(rec_id)

    async def comment(
        self, rec_id: uuid.UUID, body: RecommendationCommentCreate, principal: Principal
    ) -> Recommendation:
        await self.get_recommendation(rec_id)
        await self.repository.insert_comment(rec_id, author_of(principal), body.body)
        return await self.get_recommendation(rec_id)
