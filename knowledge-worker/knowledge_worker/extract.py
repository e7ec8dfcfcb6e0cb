"""Readable text and links from an HTML page, with selectolax's lexbor parser.

Boilerplate (scripts, navigation, headers, footers, asides, forms) is dropped and `<main>` or `<article>`
preferred when the page has one, so a page's hash changes when its content does, not its menu.
"""

from dataclasses import dataclass
from urllib.parse import urldefrag, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

TEXT_LIMIT = 50_000
_NOISE = "script, style, noscript, svg, nav, header, footer, aside, form, iframe, template"


@dataclass(frozen=True)
class Link:
    url: str
    text: str


@dataclass(frozen=True)
class Extracted:
    title: str
    text: str
    links: list[Link]


def normalize(url: str) -> str:
    """The form a URL is remembered in: no fragment, lower-case scheme and host, `/` for an empty path."""
    url, _ = urldefrag(url)
    parts = urlsplit(url)
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}{query}"


def extract(html: str, base_url: str) -> Extracted:
    tree = LexborHTMLParser(html)
    title_node = tree.css_first("title")
    title = " ".join(title_node.text().split()) if title_node is not None else ""
    links: list[Link] = []
    for anchor in tree.css("a[href]"):
        href = (anchor.attributes.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
            continue
        absolute = urljoin(base_url, href)
        if urlsplit(absolute).scheme in ("http", "https"):
            links.append(Link(normalize(absolute), " ".join(anchor.text().split())[:200]))
    for node in tree.css(_NOISE):
        node.decompose()
    root = tree.css_first("main") or tree.css_first("article") or tree.body
    text = " ".join(root.text(separator=" ").split()) if root is not None else ""
    return Extracted(title=title[:300], text=text[:TEXT_LIMIT], links=links)
