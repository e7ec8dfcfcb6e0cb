"""Nova Intel Worker: `create_app()` and the lifespan that owns the poller and its clients."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from intel_worker import __doc__ as description
from intel_worker import __version__
from intel_worker.config import Settings, get_settings
from intel_worker.fetch import FeedFetcher
from intel_worker.poller import FeedPoller
from nova_common.app import create_service_app
from nova_common.http import ServiceClient
from nova_common.loops import BackgroundLoops
from nova_common.maintenance import MaintenanceFlag
from nova_common.pacing import PerHostPacer
from nova_common.resources import open_resources
from nova_common.ssrf import SsrfGuard


def feed_lease_seconds(settings: Settings) -> int:
    """How long a claimed batch stays ours: each fetch may wait for its host, then time out; within the
    30 s to 1 h the orchestrator accepts."""
    batch = settings.feeds_per_poll * (settings.fetch_timeout_seconds + settings.per_host_interval_seconds)
    return int(min(3600, max(60, batch + 60)))


def build_poller(settings: Settings, peers: dict[str, ServiceClient], fetcher: FeedFetcher) -> FeedPoller:
    return FeedPoller(
        orchestrator=peers["orchestrator"],
        memory=peers.get("memory-service"),
        fetcher=fetcher,
        feeds_per_poll=settings.feeds_per_poll,
        max_items_per_feed=settings.max_items_per_feed,
        digest_after_poll=settings.digest_after_poll,
        lease_seconds=feed_lease_seconds(settings),
    )


def build_fetcher(settings: Settings) -> FeedFetcher:
    return FeedFetcher(
        SsrfGuard.from_settings(settings),
        timeout=settings.fetch_timeout_seconds,
        max_bytes=settings.fetch_max_bytes,
        pacer=PerHostPacer(settings.per_host_interval_seconds),
        user_agent=settings.user_agent,
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    loops = BackgroundLoops()
    async with open_resources(app, peers=("orchestrator", "memory-service")) as resources:
        fetcher = build_fetcher(settings)
        poller = build_poller(settings, resources.peers, fetcher)
        # recovery's maintenance flag (a restore): no poll until it goes.
        maintenance = app.state.maintenance = MaintenanceFlag.for_stack(settings.redis_url)
        loops.every("feed-poll", settings.poll_interval_seconds, maintenance.skipping(poller.poll_once))
        try:
            yield
        finally:
            await loops.stop()
            await fetcher.aclose()
            await maintenance.aclose()


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings or get_settings(),
        title="Nova Intel Worker",
        description=description or "",
        version=__version__,
        lifespan=lifespan,
    )
