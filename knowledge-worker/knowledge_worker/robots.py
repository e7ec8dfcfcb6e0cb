"""robots.txt with the standard library's parser, fetched once per host per crawl and cached.

As `urllib.robotparser.RobotFileParser.read` decides: 401/403 disallow everything, any other 4xx (no
robots.txt) allows everything; a robots.txt we could not fetch at all (5xx, timeout) disallows, to be safe.
"""

from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from knowledge_worker.fetch import PageFetcher, Skip

_DISALLOW_ALL = ["User-agent: *", "Disallow: /"]


class RobotsCache:
    def __init__(self, fetcher: PageFetcher, agent: str) -> None:
        self.fetcher = fetcher
        self.agent = agent
        self._parsers: dict[str, RobotFileParser] = {}

    async def allowed(self, url: str) -> bool:
        """Whether robots.txt lets us fetch `url`; raises `Skip("refused")` for a host the guard refuses."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        parser = self._parsers.get(origin)
        if parser is None:
            parser = await self._load(origin)
            self._parsers[origin] = parser
        return parser.can_fetch(self.agent, url)

    async def _load(self, origin: str) -> RobotFileParser:
        parser = RobotFileParser(f"{origin}/robots.txt")
        try:
            page = await self.fetcher.get(f"{origin}/robots.txt", html_only=False)
        except Skip as skip:
            if skip.reason == "refused":
                raise  # the host itself is forbidden: say so rather than "robots"
            parser.parse(_DISALLOW_ALL)
            return parser
        if page.status in (401, 403) or page.status >= 500:
            parser.parse(_DISALLOW_ALL)
        elif page.status >= 300:
            parser.parse([])
        else:
            parser.parse(page.body.decode("utf-8", errors="replace").splitlines())
        return parser
