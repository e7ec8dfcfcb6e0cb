"""Turning what a feed sent into items: feedparser for RSS/Atom (GitHub release feeds are Atom), Reddit's
JSON listing, GitHub's trending page, and a watched page's readable text."""

import hashlib
import json
from datetime import UTC, datetime
from time import struct_time
from typing import Any
from urllib.parse import urljoin

import feedparser
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from nova_contracts.intel import FeedType, ItemIn

BODY_LIMIT = 10_000
RELEASE_BODY_LIMIT = 5_000
RELEASES_KEPT = 5
_NOISE = "script, style, noscript, svg, nav, header, footer, aside, form, iframe"


class Unparseable(Exception):
    """The document is not what the feed's type says it is."""


def _text(html: str) -> str:
    tree = HTMLParser(html)
    for node in tree.css(_NOISE):
        node.decompose()
    root = tree.css_first("main") or tree.css_first("article") or tree.body or tree.root
    if root is None:
        return ""
    return " ".join(root.text(separator=" ").split())


def _url(value: object) -> str | None:
    """A link worth keeping: http(s) and of a sane length (a feed may carry anything here)."""
    if not isinstance(value, str) or not value.startswith(("http://", "https://")) or len(value) > 2048:
        return None
    return value


def _when(parsed: struct_time | None) -> datetime | None:
    return datetime(*parsed[:6], tzinfo=UTC) if parsed else None


def parse_feed(body: bytes, *, limit: int, releases: bool = False) -> list[ItemIn]:
    parsed = feedparser.parse(body)
    if parsed.bozo and not parsed.entries:
        raise Unparseable(f"not an RSS or Atom document ({parsed.get('bozo_exception')})")
    items: list[ItemIn] = []
    for entry in parsed.entries[: RELEASES_KEPT if releases else limit]:
        title = (entry.get("title") or "").strip()
        if not title:
            continue
        content = entry.get("content") or []
        raw = content[0].get("value", "") if content else entry.get("summary", "")
        text = _text(raw) if "<" in raw else " ".join(raw.split())
        items.append(
            ItemIn(
                title=title[:500],
                url=_url(entry.get("link")),
                body=text[: RELEASE_BODY_LIMIT if releases else BODY_LIMIT],
                author=(entry.get("author") or "")[:200] or None,
                published_at=_when(entry.get("published_parsed") or entry.get("updated_parsed")),
                # A release is one item per tag, whatever its notes say later.
                identity=f"release:{entry.get('link') or title}" if releases else None,
            )
        )
    return items


def parse_reddit(body: bytes, *, limit: int) -> list[ItemIn]:
    try:
        listing: Any = json.loads(body)
        children = listing["data"]["children"]
    except (ValueError, KeyError, TypeError) as exc:
        raise Unparseable("not a Reddit listing (expected data.children)") from exc
    items: list[ItemIn] = []
    for child in children[:limit]:
        post = child.get("data", {}) if isinstance(child, dict) else {}
        if not post.get("title") or post.get("stickied"):
            continue
        created = post.get("created_utc")
        items.append(
            ItemIn(
                title=str(post["title"])[:500],
                url=urljoin("https://www.reddit.com", post.get("permalink", ""))
                if post.get("permalink")
                else None,
                body=str(post.get("selftext") or post.get("url") or "")[:BODY_LIMIT],
                author=str(post.get("author") or "")[:200] or None,
                published_at=datetime.fromtimestamp(created, UTC)
                if isinstance(created, int | float)
                else None,
            )
        )
    return items


def parse_trending(body: bytes, *, base_url: str, limit: int) -> list[ItemIn]:
    tree = HTMLParser(body.decode("utf-8", errors="replace"))
    rows = tree.css("article.Box-row")
    if not rows:
        raise Unparseable("no repositories on the page (GitHub's trending markup: article.Box-row)")
    items: list[ItemIn] = []
    for row in rows[:limit]:
        link = row.css_first("h2 a")
        href = link.attributes.get("href") if link is not None else None
        if not href:
            continue
        repo = href.strip("/")
        description = row.css_first("p")
        language = row.css_first("[itemprop=programmingLanguage]")
        stars = row.css_first("span.d-inline-block.float-sm-right")
        details = [
            " ".join(description.text().split()) if description is not None else "",
            f"Language: {language.text().strip()}" if language is not None else "",
            " ".join(stars.text().split()) if stars is not None else "",
        ]
        items.append(
            ItemIn(
                title=f"Trending: {repo}",
                url=urljoin(base_url, href),
                body=" · ".join(d for d in details if d),
                # Trending lists the same repository day after day: it is news once.
                identity=f"github-trending:{repo.lower()}",
            )
        )
    return items


def page_snapshot(body: bytes, *, url: str, fallback_title: str) -> tuple[str, ItemIn]:
    """The page's readable text hash and the item it makes; the hash covers the text only, so markup,
    scripts or ads changing do not count as a change."""
    html = body.decode("utf-8", errors="replace")
    text = _text(html)
    digest = hashlib.sha256(text.encode()).hexdigest()
    title_node = HTMLParser(html).css_first("title")
    title = (
        title_node.text().strip() if title_node is not None and title_node.text().strip() else fallback_title
    )
    return digest, ItemIn(
        title=f"Changed: {title}"[:500], url=url, body=text[:BODY_LIMIT], identity=f"page:{url}:{digest}"
    )


def parse(feed_type: FeedType, body: bytes, *, url: str, limit: int) -> list[ItemIn]:
    if feed_type in (FeedType.RSS, FeedType.ATOM):
        return parse_feed(body, limit=limit)
    if feed_type is FeedType.GITHUB_RELEASES:
        return parse_feed(body, limit=limit, releases=True)
    if feed_type is FeedType.REDDIT_JSON:
        return parse_reddit(body, limit=limit)
    if feed_type is FeedType.GITHUB_TRENDING:
        return parse_trending(body, base_url=url, limit=limit)
    raise ValueError(f"{feed_type} is not parsed into a list")
