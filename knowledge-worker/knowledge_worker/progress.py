"""A crawl's counters and log, reported to the orchestrator as the crawl goes."""

from collections import Counter
from dataclasses import dataclass, field

from nova_contracts.knowledge import CrawlProgress, CrawlStatus

LOG_KEPT = 200


@dataclass
class Progress:
    fetched: int = 0
    queued: int = 0
    ingested: int = 0
    unchanged: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)
    partial: bool = False

    def skip(self, reason: str, detail: str) -> None:
        self.skipped[reason] += 1
        self.note(f"skipped ({reason}): {detail}")

    def note(self, line: str) -> None:
        self.log.append(line[:500])
        del self.log[:-LOG_KEPT]

    def report(self, status: CrawlStatus = CrawlStatus.RUNNING, error: str | None = None) -> CrawlProgress:
        return CrawlProgress(
            status=status,
            fetched=self.fetched,
            queued=self.queued,
            ingested=self.ingested,
            unchanged=self.unchanged,
            skipped=dict(self.skipped),
            error=error[:2000] if error else None,
            log=list(self.log),
        )
