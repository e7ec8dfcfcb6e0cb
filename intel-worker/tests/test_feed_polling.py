"""The poller against recorded feed documents on loopback and the real orchestrator."""

import asyncio
import itertools
from typing import Any

import httpx
import pytest
from fakes.server import LiveServer
from fakes.web_sites import SiteState

from intel_worker.fetch import FeedFetcher
from intel_worker.poller import FeedPoller, PollSummary, reddit_listing_url
from nova_common.http import ServiceClient
from nova_common.pacing import PerHostPacer
from nova_common.ssrf import SsrfGuard

Site = tuple[LiveServer, SiteState]


def run_poll(
    orchestrator: LiveServer,
    nova_env: dict[str, str],
    *,
    loopback: bool = True,
    max_bytes: int = 1024 * 1024,
    per_host_interval: float = 0.0,
) -> PollSummary:
    async def poll() -> PollSummary:
        client = ServiceClient("orchestrator", orchestrator.url, service_token=nova_env["NOVA_SERVICE_TOKEN"])
        fetcher = FeedFetcher(
            SsrfGuard(allow_loopback_for_tests=loopback),
            timeout=10,
            max_bytes=max_bytes,
            pacer=PerHostPacer(per_host_interval),
            user_agent="Nova-Intel-test",
        )
        poller = FeedPoller(
            orchestrator=client,
            memory=None,
            fetcher=fetcher,
            feeds_per_poll=50,
            max_items_per_feed=25,
            digest_after_poll=False,
        )
        try:
            return await poller.poll_once()
        finally:
            await fetcher.aclose()
            await client.aclose()

    return asyncio.run(poll())


def add_feed(api: httpx.Client, url: str, **extra: Any) -> dict[str, Any]:
    response = api.post("/api/v1/intel/feeds", json={"url": url, **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


def titles(api: httpx.Client) -> list[str]:
    return sorted(i["title"] for i in api.get("/api/v1/intel/items", params={"limit": 200}).json())


def feed(api: httpx.Client, feed_id: str) -> dict[str, Any]:
    return dict(api.get(f"/api/v1/intel/feeds/{feed_id}").json())


def test_each_recorded_format_becomes_items_through_its_real_parser(
    orchestrator: LiveServer, admin_api: httpx.Client, site: Site, nova_env: dict[str, str]
) -> None:
    live, _ = site
    add_feed(admin_api, f"{live.url}/f/rss2.xml", type="rss")
    add_feed(admin_api, f"{live.url}/f/atom.xml", type="atom")
    add_feed(admin_api, f"{live.url}/f/github_releases.atom", type="github_releases")
    add_feed(admin_api, f"{live.url}/r/LocalLLaMA/", type="reddit_json")
    add_feed(admin_api, f"{live.url}/f/github_trending.html", type="github_trending")

    summary = run_poll(orchestrator, nova_env)
    assert summary.failed == 0, summary.errors
    assert titles(admin_api) == sorted(
        [
            "Smaller, faster: distilling a 70B model into 8B",
            "Speculative decoding lands in Text Generation Inference",
            "Open LLM Leaderboard: December update",
            "Running a 4-bit model on a Raspberry Pi 6",
            "Prompt injection is still unsolved",
            "0.13.9",
            "0.13.8",
            # The stickied moderator thread is not news.
            "New 32B coder model runs on a single 3090",
            "llama.cpp adds multi-token prediction",
            "Trending: vllm-project/vllm",
            "Trending: astral-sh/uv",
        ]
    )
    items = {i["title"]: i for i in admin_api.get("/api/v1/intel/items", params={"limit": 200}).json()}
    assert items["Smaller, faster: distilling a 70B model into 8B"]["author"] == "lewtun"
    assert "<b>" not in items["Smaller, faster: distilling a 70B model into 8B"]["body"]
    assert "uv lock --check" in items["0.13.9"]["body"]
    assert items["New 32B coder model runs on a single 3090"]["url"].endswith(
        "/r/LocalLLaMA/comments/1h6bbbb/new_32b_coder_model/"
    )
    assert "high-throughput" in items["Trending: vllm-project/vllm"]["body"]
    assert "Python" in items["Trending: vllm-project/vllm"]["body"]


def test_an_unchanged_feed_costs_one_304_on_the_next_check(
    orchestrator: LiveServer, admin_api: httpx.Client, site: Site, nova_env: dict[str, str]
) -> None:
    live, state = site
    created = add_feed(admin_api, f"{live.url}/f/rss2.xml", type="rss")
    run_poll(orchestrator, nova_env)
    stored = titles(admin_api)
    assert feed(admin_api, created["id"])["etag"]

    admin_api.post(f"/api/v1/intel/feeds/{created['id']}/check")
    summary = run_poll(orchestrator, nova_env)
    assert summary.not_modified == 1 and summary.new_items == 0
    hits = [h for h in state.hits if h.path == "/f/rss2.xml"]
    assert len(hits) == 2 and "if-none-match" in hits[1].headers and "if-modified-since" in hits[1].headers
    assert titles(admin_api) == stored
    assert feed(admin_api, created["id"])["error_count"] == 0


def test_a_repost_in_another_feed_is_stored_once(
    orchestrator: LiveServer, admin_api: httpx.Client, site: Site, nova_env: dict[str, str]
) -> None:
    live, state = site
    state.documents["copy.xml"] = site[1].documents.get("rss2.xml") or _fixture("rss2.xml")
    add_feed(admin_api, f"{live.url}/f/rss2.xml", type="rss")
    add_feed(admin_api, f"{live.url}/f/copy.xml", type="rss")
    summary = run_poll(orchestrator, nova_env)
    assert summary.checked == 2 and summary.new_items == 3
    assert len(titles(admin_api)) == 3


def _fixture(name: str) -> bytes:
    from fakes.web_sites import FIXTURES

    return (FIXTURES / name).read_bytes()


def test_a_failing_feed_is_reported_and_backs_off_while_the_others_are_polled(
    orchestrator: LiveServer, admin_api: httpx.Client, site: Site, nova_env: dict[str, str]
) -> None:
    live, state = site
    state.failing.add("/f/atom.xml")
    broken = add_feed(admin_api, f"{live.url}/f/atom.xml", type="atom", check_interval_seconds=600)
    healthy = add_feed(admin_api, f"{live.url}/f/rss2.xml", type="rss")
    summary = run_poll(orchestrator, nova_env)
    assert summary.failed == 1 and summary.new_items == 3
    status = feed(admin_api, broken["id"])
    assert status["error_count"] == 1 and status["last_error"].startswith("HTTP 500")
    assert feed(admin_api, healthy["id"])["error_count"] == 0
    # Not due again for 2 * 600 s: the next poll leaves it alone.
    assert run_poll(orchestrator, nova_env).checked == 0


def test_a_feed_over_the_size_cap_is_refused_not_truncated(
    orchestrator: LiveServer, admin_api: httpx.Client, site: Site, nova_env: dict[str, str]
) -> None:
    live, _ = site
    created = add_feed(admin_api, f"{live.url}/f/huge", type="rss")
    summary = run_poll(orchestrator, nova_env, max_bytes=64 * 1024)
    assert summary.failed == 1
    assert "cap" in feed(admin_api, created["id"])["last_error"]
    assert titles(admin_api) == []


def test_a_loopback_feed_is_refused_by_the_ssrf_guard_without_the_test_switch(
    orchestrator: LiveServer, admin_api: httpx.Client, site: Site, nova_env: dict[str, str]
) -> None:
    live, state = site
    created = add_feed(admin_api, f"{live.url}/f/rss2.xml", type="rss")
    run_poll(orchestrator, nova_env, loopback=False)
    assert "loopback" in feed(admin_api, created["id"])["last_error"]
    assert state.hits == []


def test_a_watched_page_is_an_item_only_when_its_readable_text_changed(
    orchestrator: LiveServer, admin_api: httpx.Client, site: Site, nova_env: dict[str, str]
) -> None:
    live, state = site
    page = "<html><head><title>Pricing</title><script>var v = {n};</script></head><body><main><p>{text}</p></main></body></html>"
    state.documents["pricing"] = page.format(n=1, text="Pro costs 20 dollars.").encode()
    created = add_feed(admin_api, f"{live.url}/watch/pricing", type="page")
    assert run_poll(orchestrator, nova_env).new_items == 1

    # Only a script changed (so the ETag changed too): the text is the same, no new item.
    state.documents["pricing"] = page.format(n=2, text="Pro costs 20 dollars.").encode()
    admin_api.post(f"/api/v1/intel/feeds/{created['id']}/check")
    assert run_poll(orchestrator, nova_env).new_items == 0

    state.documents["pricing"] = page.format(n=2, text="Pro costs 25 dollars.").encode()
    admin_api.post(f"/api/v1/intel/feeds/{created['id']}/check")
    assert run_poll(orchestrator, nova_env).new_items == 1
    bodies = [i["body"] for i in admin_api.get("/api/v1/intel/items").json()]
    assert sorted(bodies) == ["Pro costs 20 dollars.", "Pro costs 25 dollars."]


def test_requests_to_one_host_are_paced_as_the_server_sees_them(
    orchestrator: LiveServer, admin_api: httpx.Client, site: Site, nova_env: dict[str, str]
) -> None:
    live, state = site
    for name in ("rss2.xml", "atom.xml", "github_releases.atom"):
        add_feed(admin_api, f"{live.url}/f/{name}", type="rss")
    run_poll(orchestrator, nova_env, per_host_interval=1.0)
    arrivals = [h.at for h in state.hits]
    assert len(arrivals) == 3
    assert all(later - earlier >= 0.95 for earlier, later in itertools.pairwise(arrivals))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "https://www.reddit.com/r/LocalLLaMA/",
            "https://www.reddit.com/r/LocalLLaMA/.json?limit=25&raw_json=1",
        ),
        (
            "https://www.reddit.com/r/LocalLLaMA/top/.json?t=day",
            "https://www.reddit.com/r/LocalLLaMA/top/.json?t=day&limit=25&raw_json=1",
        ),
    ],
)
def test_a_subreddit_url_is_fetched_as_its_json_listing(given: str, expected: str) -> None:
    assert reddit_listing_url(given, 25) == expected


def test_an_entry_with_an_oversized_author_and_a_script_link_is_kept_with_those_fields_dropped(
    orchestrator: LiveServer, admin_api: httpx.Client, site: Site, nova_env: dict[str, str]
) -> None:
    live, state = site
    state.documents["odd.xml"] = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>odd</title>'
        f"<item><title>Odd entry</title><link>javascript:alert(1)</link><author>{'a' * 500}</author>"
        "<description>Still news.</description></item></channel></rss>"
    ).encode()
    add_feed(admin_api, f"{live.url}/f/odd.xml", type="rss")
    summary = run_poll(orchestrator, nova_env)
    assert summary.failed == 0 and summary.new_items == 1, summary.errors
    item = admin_api.get("/api/v1/intel/items").json()[0]
    assert item["url"] is None and len(item["author"]) == 200 and item["body"] == "Still news."
