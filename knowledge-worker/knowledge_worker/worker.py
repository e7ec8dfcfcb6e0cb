"""The worker's rounds: claim due sources from the orchestrator and crawl them (a few at a time), and check
stored credentials against their platform."""

import asyncio
from uuid import UUID

import structlog

from knowledge_worker.config import Settings
from knowledge_worker.crawler import ProgressReport, SiteCrawler
from knowledge_worker.documents import DocumentSink
from knowledge_worker.fetch import PageFetcher, Skip
from knowledge_worker.github import GitHubExtractor
from knowledge_worker.progress import Progress
from knowledge_worker.robots import RobotsCache
from knowledge_worker.scorer import LinkScorer
from nova_common.http import ServiceClient, peer_error
from nova_common.pacing import PerHostPacer
from nova_common.ssrf import SsrfGuard
from nova_contracts.knowledge import (
    Crawl,
    CrawlStatus,
    Credential,
    CredentialSecret,
    CredentialValidation,
    KnowledgeSource,
    KnowledgeSourceKind,
)
from nova_contracts.memory import SourceKind as MemorySourceKind

log = structlog.get_logger("knowledge_worker")

_JSON = {"Content-Type": "application/json"}


class KnowledgeWorker:
    def __init__(
        self,
        settings: Settings,
        *,
        orchestrator: ServiceClient,
        gateway: ServiceClient | None,
        sink: DocumentSink,
        guard: SsrfGuard,
    ) -> None:
        self.settings = settings
        self.orchestrator = orchestrator
        self.gateway = gateway
        self.sink = sink
        self.guard = guard

    def _fetcher(self) -> PageFetcher:
        return PageFetcher(
            self.guard,
            timeout=self.settings.fetch_timeout_seconds,
            max_bytes=self.settings.max_page_bytes,
            pacer=PerHostPacer(self.settings.per_host_interval_seconds),
            user_agent=self.settings.user_agent,
        )

    async def crawl_due(self) -> int:
        """One round: claim due sources and crawl them concurrently; the number crawled."""
        response = await self.orchestrator.post(
            "/api/v1/knowledge/sources/claim", params={"limit": self.settings.concurrent_crawls}
        )
        if response.status_code != 200:
            raise peer_error("orchestrator", response)
        sources = [KnowledgeSource.model_validate(s) for s in response.json()]
        await asyncio.gather(*(self.crawl(source) for source in sources))
        return len(sources)

    async def crawl(self, source: KnowledgeSource) -> Crawl:
        started = await self.orchestrator.post(f"/api/v1/knowledge/sources/{source.id}/crawls")
        if started.status_code != 201:
            raise peer_error("orchestrator", started)
        crawl = Crawl.model_validate(started.json())
        progress = Progress()

        async def report(
            current: Progress, status: CrawlStatus = CrawlStatus.RUNNING, error: str | None = None
        ) -> Crawl:
            response = await self.orchestrator.request(
                "PUT",
                f"/api/v1/knowledge/sources/{source.id}/crawls/{crawl.id}",
                content=current.report(status, error).model_dump_json(),
                headers=_JSON,
            )
            if response.status_code != 200:
                raise peer_error("orchestrator", response)
            return Crawl.model_validate(response.json())

        fetcher = self._fetcher()
        try:
            await self._run(source, fetcher, progress, report)
        except Exception as exc:
            log.exception("crawl_failed", source_id=str(source.id))
            return await report(progress, CrawlStatus.FAILED, f"{type(exc).__name__}: {exc}")
        finally:
            await fetcher.aclose()
        return await report(progress, CrawlStatus.PARTIAL if progress.partial else CrawlStatus.COMPLETE)

    async def _run(
        self, source: KnowledgeSource, fetcher: PageFetcher, progress: Progress, report: ProgressReport
    ) -> None:
        if source.kind is KnowledgeSourceKind.TEXT:
            ingested = await self.sink.offer(
                source.id,
                uri=f"nova:knowledge:{source.id}",
                title=source.name,
                text=source.text or "",
                kind=MemorySourceKind.DOCUMENT,
            )
            progress.ingested += ingested
            progress.unchanged += not ingested
            return
        if source.kind is KnowledgeSourceKind.GITHUB:
            token = await self._token(source.credential_id) if source.credential_id else None
            extractor = GitHubExtractor(
                fetcher, api_url=self.settings.github_api_url, readmes=self.settings.github_readmes
            )
            await extractor.extract(source, token, self.sink, progress)
            return
        scorer = LinkScorer(
            self.gateway if self.settings.llm_link_scoring else None,
            batch_size=self.settings.link_batch_size,
            max_calls=self.settings.max_llm_calls_per_crawl,
            breaker_failures=self.settings.breaker_failures,
            timeout=self.settings.scoring_timeout_seconds,
        )
        crawler = SiteCrawler(
            fetcher=fetcher,
            robots=RobotsCache(fetcher, self.settings.robots_agent),
            scorer=scorer,
            sink=self.sink,
            relevance_threshold=self.settings.relevance_threshold,
        )
        await crawler.crawl(source, progress, report)

    async def _token(self, credential_id: UUID) -> str | None:
        response = await self.orchestrator.get(f"/api/v1/knowledge/credentials/{credential_id}/secret")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise peer_error("orchestrator", response)
        return CredentialSecret.model_validate(response.json()).secret

    async def validate_credentials(self) -> int:
        """Check each credential that is due (or asked for) against its platform; the number checked."""
        response = await self.orchestrator.get("/api/v1/knowledge/credentials/to-validate")
        if response.status_code != 200:
            raise peer_error("orchestrator", response)
        credentials = [Credential.model_validate(c) for c in response.json()]
        fetcher = self._fetcher()
        try:
            for credential in credentials:
                verdict = await self._probe(credential, fetcher)
                recorded = await self.orchestrator.post(
                    f"/api/v1/knowledge/credentials/{credential.id}/validation",
                    content=verdict.model_dump_json(),
                    headers=_JSON,
                )
                if recorded.status_code not in (200, 404):
                    raise peer_error("orchestrator", recorded)
        finally:
            await fetcher.aclose()
        return len(credentials)

    async def _probe(self, credential: Credential, fetcher: PageFetcher) -> CredentialValidation:
        token = await self._token(credential.id)
        if token is None:
            return CredentialValidation(valid=False, message="the credential disappeared")
        try:
            page = await fetcher.get(
                f"{self.settings.github_api_url.rstrip('/')}/user",
                html_only=False,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"},
            )
        except Skip as skip:
            return CredentialValidation(valid=False, message=f"GitHub could not be reached: {skip}"[:500])
        if page.status == 200:
            scopes = page.headers.get("x-oauth-scopes")
            return CredentialValidation(
                valid=True, message=f"scopes: {scopes}" if scopes else "accepted by GitHub"
            )
        return CredentialValidation(valid=False, message=f"GitHub answered {page.status}")
