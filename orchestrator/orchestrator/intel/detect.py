"""What kind of feed a URL is, and which category it files under, when the person did not say."""

from urllib.parse import urlsplit

from nova_contracts.intel import FeedType

_FEED_SUFFIXES = (".xml", ".rss", ".atom")
_FEED_PATH_PARTS = ("/rss", "/feed", "/atom", "/feeds")
_BLOG_PATH_PARTS = ("/blog", "/posts", "/news", "/articles")


def detect_feed_type(url: str) -> FeedType:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = parts.path.lower().rstrip("/")
    if host == "reddit.com" or host.endswith(".reddit.com"):
        return FeedType.REDDIT_JSON
    if host in ("github.com", "www.github.com"):
        if path.startswith("/trending"):
            return FeedType.GITHUB_TRENDING
        if "/releases" in path:
            return FeedType.GITHUB_RELEASES
    if path.endswith(".atom"):
        return FeedType.ATOM
    if path.endswith(_FEED_SUFFIXES) or any(part in path for part in _FEED_PATH_PARTS):
        return FeedType.RSS
    return FeedType.PAGE


def detect_category(url: str, feed_type: FeedType) -> str:
    if feed_type is FeedType.REDDIT_JSON:
        return "reddit"
    if feed_type in (FeedType.GITHUB_TRENDING, FeedType.GITHUB_RELEASES):
        return "github"
    path = urlsplit(url).path.lower()
    if feed_type in (FeedType.RSS, FeedType.ATOM) or any(part in path for part in _BLOG_PATH_PARTS):
        return "blog"
    return "other"


def default_name(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or url}{parts.path.rstrip('/')}"[:200]
