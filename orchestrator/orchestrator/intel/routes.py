"""Intel routes: the admin manages feeds and decides on recommendations; intel-worker (service token) takes
due feeds, reports each check and hands in what it found."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from nova_common.auth import AdminAuth, ServiceAuth
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
    Recommendation,
    RecommendationCommentCreate,
    RecommendationStatus,
    RecommendationUpdate,
)
from orchestrator.clients.llm_gateway import LlmGatewayClient
from orchestrator.deps import Page, Services
from orchestrator.intel.repository import IntelRepository
from orchestrator.intel.service import IntelService

router = APIRouter(prefix="/api/v1/intel", tags=["intel"])


async def get_intel(request: Request) -> IntelService:  # async: no thread hop per request
    services: Services = request.app.state.services
    resources = request.app.state.resources
    peer = resources.peers.get("llm-gateway")
    return IntelService(
        IntelRepository(resources.pg),
        services.goals,
        LlmGatewayClient(peer) if peer is not None else None,
        allow_loopback=request.app.state.settings.ssrf_allow_loopback_for_tests,
    )


Intel = Annotated[IntelService, Depends(get_intel)]
# The kit's service check admits the admin secret too: these routes serve the dashboard and the worker.
AdminOrService = ServiceAuth


@router.post("/feeds", response_model=Feed, status_code=status.HTTP_201_CREATED)
async def create_feed(body: FeedCreate, _: AdminAuth, intel: Intel) -> Feed:
    """Watch a feed; its type and category are detected from the URL when not given."""
    return await intel.create_feed(body)


@router.get("/feeds", response_model=list[Feed])
async def list_feeds(
    _: AdminOrService, intel: Intel, page: Page, enabled: Annotated[bool | None, Query()] = None
) -> list[Feed]:
    """Feeds with their status: last check, error count and last error, next check."""
    return await intel.feeds(enabled=enabled, limit=page.limit, offset=page.offset)


@router.get("/feeds/due", response_model=list[Feed])
async def list_due_feeds(
    _: ServiceAuth, intel: Intel, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[Feed]:
    """Enabled feeds due now (interval * 2^errors, capped at a day) and not being polled, oldest first."""
    return await intel.due_feeds(limit)


@router.post("/feeds/claim", response_model=list[Feed])
async def claim_due_feeds(
    _: ServiceAuth,
    intel: Intel,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    lease_seconds: Annotated[int, Query(ge=30, le=3600)] = 600,
) -> list[Feed]:
    """For intel-worker: take the due feeds, leased until each is reported, so no other replica polls them."""
    return await intel.claim_due_feeds(limit, lease_seconds)


@router.get("/feeds/{feed_id}", response_model=Feed)
async def get_feed(feed_id: UUID, _: AdminOrService, intel: Intel) -> Feed:
    """One feed with its status."""
    return await intel.get_feed(feed_id)


@router.patch("/feeds/{feed_id}", response_model=Feed)
async def update_feed(feed_id: UUID, body: FeedUpdate, _: AdminAuth, intel: Intel) -> Feed:
    """Change a feed (`enabled: false` pauses it); only the fields sent change."""
    return await intel.update_feed(feed_id, body)


@router.delete("/feeds/{feed_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_feed(feed_id: UUID, _: AdminAuth, intel: Intel) -> Response:
    """Stop watching a feed; the items it brought are kept."""
    await intel.delete_feed(feed_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/feeds/{feed_id}/check", response_model=Feed, status_code=status.HTTP_202_ACCEPTED)
async def check_feed_now(feed_id: UUID, _: AdminAuth, intel: Intel) -> Feed:
    """Make the feed due now; intel-worker fetches it on its next poll."""
    return await intel.request_check(feed_id)


@router.post("/feeds/{feed_id}/status", response_model=Feed)
async def report_feed_check(feed_id: UUID, body: FeedCheckReport, _: ServiceAuth, intel: Intel) -> Feed:
    """intel-worker's report of one fetch: success (validators and hash kept) or an error (backoff grows)."""
    return await intel.report_check(feed_id, body)


@router.post("/items", response_model=ItemBatchResult)
async def add_items(body: ItemBatch, _: ServiceAuth, intel: Intel) -> ItemBatchResult:
    """Hand in a feed's items; the ones already stored (same content hash) are skipped, the new returned."""
    return await intel.add_items(body)


@router.get("/items", response_model=list[ContentItem])
async def list_items(
    _: AdminAuth, intel: Intel, page: Page, feed_id: Annotated[UUID | None, Query()] = None
) -> list[ContentItem]:
    """Items found, newest first."""
    return await intel.items(feed_id, page.limit, page.offset)


@router.get("/stats", response_model=IntelStats)
async def get_intel_stats(_: AdminAuth, intel: Intel) -> IntelStats:
    """Feeds (enabled, failing), items (total, last day, waiting for a digest), recommendations by status."""
    return await intel.stats()


@router.post("/recommendations/digest", response_model=DigestResult)
async def digest_items(_: AdminOrService, intel: Intel) -> DigestResult:
    """Group the undigested items by theme into recommendations (through llm-gateway)."""
    return await intel.digest()


@router.get("/recommendations", response_model=list[Recommendation])
async def list_recommendations(
    _: AdminAuth,
    intel: Intel,
    page: Page,
    rec_status: Annotated[RecommendationStatus | None, Query(alias="status")] = None,
) -> list[Recommendation]:
    """Recommendations, most relevant first."""
    return await intel.recommendations(rec_status, page.limit, page.offset)


@router.get("/recommendations/{rec_id}", response_model=Recommendation)
async def get_recommendation(rec_id: UUID, _: AdminAuth, intel: Intel) -> Recommendation:
    """One recommendation with its comments."""
    return await intel.get_recommendation(rec_id)


@router.patch("/recommendations/{rec_id}", response_model=Recommendation)
async def update_recommendation(
    rec_id: UUID, body: RecommendationUpdate, _: AdminAuth, intel: Intel
) -> Recommendation:
    """Dismiss a recommendation (or bring a dismissed one back to new)."""
    assert body.status is not None
    return await intel.set_status(rec_id, body.status)


@router.post("/recommendations/{rec_id}/approve", response_model=Recommendation)
async def approve_recommendation(rec_id: UUID, admin: AdminAuth, intel: Intel) -> Recommendation:
    """Approve: a goal is created from the recommendation for cortex to pursue."""
    return await intel.approve(rec_id, admin)


@router.post("/recommendations/{rec_id}/comments", response_model=Recommendation, status_code=201)
async def comment_on_recommendation(
    rec_id: UUID, body: RecommendationCommentCreate, admin: AdminAuth, intel: Intel
) -> Recommendation:
    """Add a comment to a recommendation."""
    return await intel.comment(rec_id, body, admin)
