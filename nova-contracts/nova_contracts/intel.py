"""Intel: feeds Nova watches, the items they bring, and the recommendations a person acts on.

The orchestrator owns feeds, items and recommendations; intel-worker polls the due feeds (service token)
and reports each fetch back. Items are deduplicated by content hash, so a repost is stored once.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import Field

from nova_contracts.base import RequestModel, ResponseModel, UpdateRequestModel

FeedUrl = Annotated[str, Field(min_length=8, max_length=2048, pattern=r"^https?://\S+$")]
Category = Annotated[str, Field(min_length=1, max_length=50)]
# Five minutes at the fastest (politeness), a week at the slowest.
FeedInterval = Annotated[int, Field(ge=300, le=7 * 86_400)]
ItemText = Annotated[str, Field(max_length=20_000)]


class FeedType(StrEnum):
    RSS = "rss"
    ATOM = "atom"
    REDDIT_JSON = "reddit_json"
    PAGE = "page"
    GITHUB_TRENDING = "github_trending"
    GITHUB_RELEASES = "github_releases"


class FeedCreate(RequestModel):
    url: FeedUrl
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    type: FeedType | None = Field(default=None, description="detected from the URL when omitted")
    category: Category | None = Field(default=None, description="derived from the URL when omitted")
    check_interval_seconds: FeedInterval = 3600
    enabled: bool = True


class FeedUpdate(UpdateRequestModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    url: FeedUrl | None = None
    type: FeedType | None = None
    category: Category | None = None
    check_interval_seconds: FeedInterval | None = None
    enabled: bool | None = None


class Feed(ResponseModel):
    id: UUID
    name: str
    url: str
    type: FeedType
    category: str
    check_interval_seconds: int
    enabled: bool
    last_checked_at: datetime | None = None
    last_success_at: datetime | None = None
    next_check_at: datetime | None = Field(default=None, description="with the error backoff applied")
    error_count: int = 0
    last_error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_content_hash: str | None = None
    items_total: int = 0
    created_at: datetime
    updated_at: datetime


class FeedCheckReport(RequestModel):
    """What one fetch of a feed found (intel-worker → orchestrator)."""

    ok: bool
    error: Annotated[str, Field(max_length=2000)] | None = None
    not_modified: bool = Field(default=False, description="the server answered 304")
    etag: Annotated[str, Field(max_length=500)] | None = None
    last_modified: Annotated[str, Field(max_length=200)] | None = None
    content_hash: Annotated[str, Field(max_length=128)] | None = None


class ItemIn(RequestModel):
    title: Annotated[str, Field(min_length=1, max_length=500)]
    url: Annotated[str, Field(max_length=2048)] | None = None
    body: ItemText = ""
    author: Annotated[str, Field(max_length=200)] | None = None
    published_at: datetime | None = None
    identity: Annotated[str, Field(max_length=500)] | None = Field(
        default=None,
        description="what makes two items the same when the text is not (a repository's name); "
        "otherwise the hash covers title and body",
    )


class ItemBatch(RequestModel):
    feed_id: UUID
    items: Annotated[list[ItemIn], Field(max_length=100)]


class ContentItem(ResponseModel):
    id: UUID
    feed_id: UUID | None
    title: str
    url: str | None
    body: str
    author: str | None
    published_at: datetime | None
    content_hash: str
    created_at: datetime


class ItemBatchResult(ResponseModel):
    received: int
    duplicates: int
    stored: list[ContentItem] = Field(description="only the items not seen before")


class RecommendationStatus(StrEnum):
    NEW = "new"
    APPROVED = "approved"
    DISMISSED = "dismissed"


class RecommendationComment(ResponseModel):
    id: UUID
    author: str
    body: str
    created_at: datetime


class Recommendation(ResponseModel):
    id: UUID
    theme: str
    title: str
    summary: str
    relevance: float = Field(ge=0, le=1)
    status: RecommendationStatus
    item_ids: list[UUID]
    goal_id: UUID | None = None
    comments: list[RecommendationComment] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime


class RecommendationUpdate(UpdateRequestModel):
    status: RecommendationStatus | None = Field(
        default=None, description="dismissed or new; approving goes through /approve (it creates a goal)"
    )


class RecommendationCommentCreate(RequestModel):
    body: Annotated[str, Field(min_length=1, max_length=5000)]


class DigestResult(ResponseModel):
    items_considered: int
    recommendations: list[Recommendation]
    error: str | None = Field(
        default=None, description="why nothing was digested (the items wait for the next digest)"
    )


class IntelStats(ResponseModel):
    feeds: int
    feeds_enabled: int
    feeds_failing: int
    items_total: int
    items_last_24h: int
    undigested_items: int
    recommendations_by_status: dict[str, int]
