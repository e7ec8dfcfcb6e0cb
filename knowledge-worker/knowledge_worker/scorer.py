"""Which links are worth following: the LLM scores them in batches; a circuit breaker falls back to a
heuristic after repeated failures (the crawl is then marked partial), and a call budget bounds the cost."""

import json
import re
from urllib.parse import urlsplit

import structlog

from knowledge_worker.extract import Link
from nova_common.http import ServiceClient
from nova_contracts.llm import CompleteRequest, CompleteResponse, Message

log = structlog.get_logger("knowledge_worker.scorer")

_JSON = re.compile(r"\{.*\}", re.DOTALL)
_JUNK = re.compile(
    r"(login|signin|signup|register|logout|cart|share|/tag/|/tags/|\.(png|jpe?g|gif|svg|zip|pdf|mp4))", re.I
)

_PROMPT = """You help crawl a knowledge source for a person: {name} ({start}).
Score how likely each link leads to content worth remembering about this source (0.0 to 1.0).
Answer with JSON only: {{"scores": [{{"n": <link number>, "score": <0.0-1.0>}}]}}.

Links:
{links}"""


def heuristic_score(link: Link, start_url: str) -> float:
    """Without the model: stay under the start page's path, avoid accounts, tags and binaries."""
    if _JUNK.search(link.url):
        return 0.0
    start_path = urlsplit(start_url).path.rsplit("/", 1)[0]
    return 0.9 if urlsplit(link.url).path.startswith(start_path) else 0.5


class LinkScorer:
    def __init__(
        self,
        gateway: ServiceClient | None,
        *,
        batch_size: int,
        max_calls: int,
        breaker_failures: int,
        timeout: float,
    ) -> None:
        self.gateway = gateway
        self.batch_size = batch_size
        self.calls_left = max_calls
        self.breaker_failures = breaker_failures
        self.timeout = timeout
        self.consecutive_failures = 0
        self.breaker_open = gateway is None
        self.used_heuristic = False

    async def score(self, links: list[Link], *, name: str, start_url: str) -> dict[str, float]:
        scores: dict[str, float] = {}
        for start in range(0, len(links), self.batch_size):
            batch = links[start : start + self.batch_size]
            scored = await self._model_scores(batch, name=name, start_url=start_url)
            if scored is None:
                self.used_heuristic = True
                scored = {link.url: heuristic_score(link, start_url) for link in batch}
            scores.update(scored)
        return scores

    async def _model_scores(self, batch: list[Link], *, name: str, start_url: str) -> dict[str, float] | None:
        if self.breaker_open or self.gateway is None or self.calls_left <= 0:
            return None
        self.calls_left -= 1
        listing = "\n".join(f"{n}. {link.url} {link.text!r}" for n, link in enumerate(batch, start=1))
        request = CompleteRequest(
            messages=[
                Message(role="user", content=_PROMPT.format(name=name, start=start_url, links=listing))
            ],
            temperature=0.0,
            task_type="knowledge_link_scoring",
        )
        try:
            response = await self.gateway.post(
                "/complete",
                content=request.model_dump_json(exclude_none=True),
                headers={"Content-Type": "application/json"},
                timeout=self.timeout,
            )
            if response.status_code != 200:
                raise ValueError(f"llm-gateway answered {response.status_code}")
            content = CompleteResponse.model_validate_json(response.content).content
            match = _JSON.search(content if isinstance(content, str) else "")
            if match is None:
                raise ValueError("no JSON object in the answer")
            scores: dict[str, float] = {}
            for entry in json.loads(match.group(0)).get("scores", []):
                n = entry.get("n")
                if isinstance(n, int) and 1 <= n <= len(batch):
                    scores[batch[n - 1].url] = min(max(float(entry.get("score", 0.5)), 0.0), 1.0)
        except Exception as exc:
            self.consecutive_failures += 1
            if self.consecutive_failures >= self.breaker_failures:
                self.breaker_open = True
                log.warning("link_scorer_breaker_open", failures=self.consecutive_failures, error=str(exc))
            return None
        self.consecutive_failures = 0
        # A link the model left out keeps a neutral score rather than being dropped.
        return {link.url: scores.get(link.url, 0.5) for link in batch}
