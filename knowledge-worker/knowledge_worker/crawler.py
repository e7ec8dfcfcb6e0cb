"""The site crawl: breadth first from the start URL, inside the allowed hosts, obeying robots.txt, at most
one request per second per host, up to the source's page and depth limits, HTML only."""

from collections import deque
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from knowledge_worker.documents import DocumentSink
from knowledge_worker.extract import Link, extract, normalize
from knowledge_worker.fetch import PageFetcher, Skip
from knowledge_worker.progress import Progress
from knowledge_worker.robots import RobotsCache
from knowledge_worker.scorer import LinkScorer
from nova_contracts.knowledge import KnowledgeSource

ProgressReport = Callable[[Progress], Awaitable[object]]
MAX_REDIRECTS = 5


class SiteCrawler:
    def __init__(
        self,
        *,
        fetcher: PageFetcher,
        robots: RobotsCache,
        scorer: LinkScorer,
        sink: DocumentSink,
        relevance_threshold: float,
    ) -> None:
        self.fetcher = fetcher
        self.robots = robots
        self.scorer = scorer
        self.sink = sink
        self.threshold = relevance_threshold

    async def crawl(self, source: KnowledgeSource, progress: Progress, report: ProgressReport) -> None:
        assert source.url is not None
        allowed = {h.lower() for h in source.crawl.allowed_hosts} or {urlsplit(source.url).netloc.lower()}
        start = normalize(source.url)
        queue: deque[tuple[str, int, int]] = deque([(start, 0, 0)])  # url, depth, redirects followed
        seen = {start}
        progress.queued = 1
        while queue and progress.fetched < source.crawl.max_pages:
            url, depth, redirects = queue.popleft()
            progress.queued = len(queue)
            if urlsplit(url).netloc.lower() not in allowed:
                progress.skip("off_host", url)
                continue
            try:
                if not await self.robots.allowed(url):
                    progress.skip("robots", url)
                    continue
                page = await self.fetcher.get(url)
            except Skip as skip:
                progress.skip(skip.reason, str(skip))
                await report(progress)
                continue
            if page.redirect_to is not None:
                target = normalize(page.redirect_to)
                if redirects >= MAX_REDIRECTS:
                    progress.skip("redirect_loop", url)
                elif target in seen:
                    progress.skip("duplicate", target)
                else:
                    # The target is checked like any link: host, robots.txt and the SSRF guard again.
                    seen.add(target)
                    queue.appendleft((target, depth, redirects + 1))
                continue
            if page.status != 200:
                progress.skip("http_error", f"{url} answered {page.status}")
                continue
            progress.fetched += 1
            doc = extract(page.body.decode("utf-8", errors="replace"), url)
            if await self.sink.offer(source.id, uri=url, title=doc.title, text=doc.text):
                progress.ingested += 1
            else:
                progress.unchanged += 1
            if depth < source.crawl.max_depth:
                await self._enqueue(source, doc.links, depth + 1, allowed, seen, queue, progress)
            progress.queued = len(queue)
            await report(progress)
        if queue:
            progress.note(f"stopped at max_pages={source.crawl.max_pages} with {len(queue)} links queued")
        if self.scorer.used_heuristic and self.scorer.breaker_open and self.scorer.gateway is not None:
            progress.partial = True
            progress.note("link scoring fell back to the heuristic after repeated llm-gateway failures")

    async def _enqueue(
        self,
        source: KnowledgeSource,
        links: list[Link],
        depth: int,
        allowed: set[str],
        seen: set[str],
        queue: deque[tuple[str, int, int]],
        progress: Progress,
    ) -> None:
        candidates: list[Link] = []
        for link in links:
            if link.url in seen:
                progress.skipped["duplicate"] += 1
                continue
            seen.add(link.url)
            if urlsplit(link.url).netloc.lower() not in allowed:
                progress.skip("off_host", link.url)
                continue
            candidates.append(link)
        if not candidates:
            return
        assert source.url is not None
        scores = await self.scorer.score(candidates, name=source.name, start_url=source.url)
        for link in sorted(candidates, key=lambda c: -scores.get(c.url, 0.0)):
            if scores.get(link.url, 0.0) >= self.threshold:
                queue.append((link.url, depth, 0))
            else:
                progress.skip("low_relevance", link.url)
