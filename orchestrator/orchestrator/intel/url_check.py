"""Refusing, when a feed or source is saved, URLs that plainly point inside Nova's network: a clear 400 now
instead of a fetch error later. The workers' SSRF guard still vets every fetch (DNS answers included);
this check only catches what the URL itself says."""

import ipaddress
from urllib.parse import urlsplit

import httpx

from nova_common.errors import BadRequest
from nova_common.ssrf import refusal_reason


def refuse_internal_url(url: str, *, allow_loopback: bool) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port out of range
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        raise BadRequest(f"url {url!r} is not a valid URL ({exc})") from None
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise BadRequest(f"url {url!r} has no host")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            if allow_loopback:
                return
            raise BadRequest(
                f"url {url!r} points at this machine (localhost): Nova fetches public sites only"
            ) from None
        # A name without a dot is a name inside the network (Compose services: redis, orchestrator, …).
        if "." not in host:
            raise BadRequest(
                f"url {url!r} names an internal host ({host}): Nova fetches public sites only"
            ) from None
        return
    reason = refusal_reason(ip, allow_loopback=allow_loopback)
    if reason is not None:
        raise BadRequest(f"url {url!r} points at {reason}: Nova fetches public sites only")
