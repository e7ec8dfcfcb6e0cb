"""Crawls of a local website with robots.txt disallows, a redirect to a private address, an off-host link,
a slow page, a huge page and a PDF; GitHub sources against a fake GitHub API; the credential check."""

import asyncio
import itertools
from typing import Any

import httpx
import redis.asyncio as aioredis
from fakes.server import LiveServer, free_port
from fakes.web_sites import SiteState

from knowledge_worker.config import Settings
from knowledge_worker.documents import DocumentSink
from knowledge_worker.worker import KnowledgeWorker
from nova_common.http import ServiceClient
from nova_common.redis import redis_url_for
from nova_common.ssrf import SsrfGuard

Site = tuple[LiveServer, SiteState]


def run_worker(
    orchestrator: LiveServer,
    redis_base_url: str,
    nova_env: dict[str, str],
    *,
    job: str = "crawl_due",
    gateway_url: str | None = None,
    **overrides: Any,
) -> int:
    values: dict[str, Any] = {
        "per_host_interval_seconds": 0.05,
        "fetch_timeout_seconds": 1.0,
        "max_page_bytes": 256 * 1024,
        "llm_link_scoring": gateway_url is not None,
        "concurrent_crawls": 1,
        **overrides,
    }
    settings = Settings.model_validate(values)

    async def run() -> int:
        redis = aioredis.Redis.from_url(
            redis_url_for("knowledge-worker", redis_base_url), decode_responses=True
        )
        token = nova_env["NOVA_SERVICE_TOKEN"]
        orchestrator_client = ServiceClient("orchestrator", orchestrator.url, service_token=token)
        gateway = (
            ServiceClient("llm-gateway", gateway_url, service_token=token, connect_retries=0)
            if gateway_url
            else None
        )
        worker = KnowledgeWorker(
            settings,
            orchestrator=orchestrator_client,
            gateway=gateway,
            sink=DocumentSink(redis, None),
            guard=SsrfGuard(allow_loopback_for_tests=True),
        )
        try:
            count: int = await getattr(worker, job)()
            return count
        finally:
            await orchestrator_client.aclose()
            if gateway is not None:
                await gateway.aclose()
            await redis.aclose()

    return asyncio.run(run())


def add_source(api: httpx.Client, **body: Any) -> dict[str, Any]:
    response = api.post("/api/v1/knowledge/sources", json={"name": "site", "kind": "site", **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def last_crawl(api: httpx.Client, source_id: str) -> dict[str, Any]:
    crawls = api.get(f"/api/v1/knowledge/sources/{source_id}/crawls").json()
    return dict(crawls[0])


def test_the_crawl_stays_in_its_host_obeys_robots_and_skips_private_slow_huge_and_non_html_pages(
    orchestrator: LiveServer,
    admin_api: httpx.Client,
    site: Site,
    redis_base_url: str,
    nova_env: dict[str, str],
) -> None:
    live, state = site
    source = add_source(admin_api, url=f"{live.url}/", crawl={"max_pages": 30, "max_depth": 5})
    assert run_worker(orchestrator, redis_base_url, nova_env, per_host_interval_seconds=1.0) == 1

    crawl = last_crawl(admin_api, source["id"])
    assert crawl["status"] == "complete", crawl
    fetched = state.paths("127.0.0.1")
    assert not any(p.startswith("/private/") for p in fetched)  # robots.txt disallows it
    assert state.paths("localhost") == []  # the off-host link was never requested
    assert fetched.count("/robots.txt") == 1  # cached for the whole crawl
    assert fetched.count("/docs/install") == 1  # the #fragment link is the same page
    skipped = crawl["skipped"]
    assert skipped["robots"] == 1 and skipped["not_html"] == 1 and skipped["too_large"] == 1
    assert skipped["timeout"] == 1 and skipped["off_host"] >= 2 and skipped["duplicate"] >= 1
    # The redirect to the metadata address was judged as a link: off-host, never fetched.
    assert any("169.254.169.254" in line for line in crawl["log"])
    assert crawl["fetched"] == 6 and crawl["ingested"] == 6
    # One request per second per host, as the server saw it.
    arrivals = [h.at for h in state.hits if h.host.startswith("127.0.0.1")]
    assert all(later - earlier >= 0.95 for earlier, later in itertools.pairwise(arrivals))


def test_a_private_address_is_refused_by_the_guard_even_inside_the_allowed_hosts(
    orchestrator: LiveServer,
    admin_api: httpx.Client,
    site: Site,
    redis_base_url: str,
    nova_env: dict[str, str],
) -> None:
    live, _ = site
    host = live.url.removeprefix("http://")
    source = add_source(
        admin_api, url=f"{live.url}/go/internal", crawl={"allowed_hosts": [host, "169.254.169.254"]}
    )
    run_worker(orchestrator, redis_base_url, nova_env)
    crawl = last_crawl(admin_api, source["id"])
    assert crawl["fetched"] == 0 and crawl["skipped"] == {"refused": 1}
    assert any("metadata" in line for line in crawl["log"])


def test_the_crawl_stops_at_its_page_and_depth_limits(
    orchestrator: LiveServer,
    admin_api: httpx.Client,
    site: Site,
    redis_base_url: str,
    nova_env: dict[str, str],
) -> None:
    live, state = site
    few = add_source(admin_api, url=f"{live.url}/", crawl={"max_pages": 2, "max_depth": 5})
    run_worker(orchestrator, redis_base_url, nova_env)
    assert last_crawl(admin_api, few["id"])["fetched"] == 2

    state.hits.clear()
    shallow = add_source(admin_api, url=f"{live.url}/docs/install", crawl={"max_pages": 50, "max_depth": 1})
    run_worker(orchestrator, redis_base_url, nova_env)
    assert "/docs/deep/1" in state.paths() and "/docs/deep/2" not in state.paths()
    assert last_crawl(admin_api, shallow["id"])["status"] == "complete"


def test_a_refresh_ingests_only_the_pages_whose_content_changed(
    orchestrator: LiveServer,
    admin_api: httpx.Client,
    site: Site,
    redis_base_url: str,
    nova_env: dict[str, str],
) -> None:
    live, state = site
    source = add_source(admin_api, url=f"{live.url}/docs/install", crawl={"max_depth": 1})
    run_worker(orchestrator, redis_base_url, nova_env)
    first = last_crawl(admin_api, source["id"])
    # The start page, its two links and the nav's link home (depth 1 stops there).
    assert first["ingested"] == first["fetched"] == 4

    assert admin_api.post(f"/api/v1/knowledge/sources/{source['id']}/crawl").status_code == 202
    run_worker(orchestrator, redis_base_url, nova_env)
    second = last_crawl(admin_api, source["id"])
    assert (second["ingested"], second["unchanged"]) == (0, 4)

    state.documents["/docs/config"] = (
        b"<html><title>Configure</title><main>Settings moved to nova.toml.</main></html>"
    )
    admin_api.post(f"/api/v1/knowledge/sources/{source['id']}/crawl")
    run_worker(orchestrator, redis_base_url, nova_env)
    third = last_crawl(admin_api, source["id"])
    assert (third["ingested"], third["unchanged"]) == (1, 3)


def test_after_repeated_scorer_failures_the_breaker_opens_and_the_crawl_is_marked_partial(
    orchestrator: LiveServer,
    admin_api: httpx.Client,
    site: Site,
    redis_base_url: str,
    nova_env: dict[str, str],
) -> None:
    live, _ = site
    source = add_source(admin_api, url=f"{live.url}/", crawl={"max_pages": 6, "max_depth": 3})
    unreachable_gateway = f"http://127.0.0.1:{free_port()}"
    run_worker(orchestrator, redis_base_url, nova_env, gateway_url=unreachable_gateway, link_batch_size=2)
    crawl = last_crawl(admin_api, source["id"])
    assert crawl["status"] == "partial"
    assert crawl["fetched"] == 5  # the heuristic kept the crawl going: every HTML page within depth 3
    assert any("heuristic" in line for line in crawl["log"])


def test_a_github_source_reads_profile_repositories_and_readmes_with_the_vault_token(
    orchestrator: LiveServer,
    admin_api: httpx.Client,
    site: Site,
    redis_base_url: str,
    nova_env: dict[str, str],
) -> None:
    live, state = site
    credential = admin_api.post(
        "/api/v1/knowledge/credentials",
        json={"name": "gh", "platform": "github", "secret": state.github_token},
    ).json()
    source = add_source(
        admin_api,
        name="octo",
        kind="github",
        url="https://github.com/octo-nova",
        credential_id=credential["id"],
    )
    run_worker(orchestrator, redis_base_url, nova_env, github_api_url=live.url)
    crawl = last_crawl(admin_api, source["id"])
    assert crawl["status"] == "complete", crawl
    assert crawl["ingested"] == 3 and crawl["skipped"] == {"no_readme": 1}
    paths = state.paths()
    # Most recently pushed first; every call carried the token from the vault.
    assert paths == [
        "/users/octo-nova",
        "/users/octo-nova/repos",
        "/repos/octo-nova/pgvector-bench/readme",
        "/repos/octo-nova/tiny-agent/readme",
        "/repos/octo-nova/dotfiles/readme",
    ]
    assert all(h.headers.get("authorization") == f"Bearer {state.github_token}" for h in state.hits)


def test_the_github_extractor_stops_when_the_rate_limit_is_used_up(
    orchestrator: LiveServer,
    admin_api: httpx.Client,
    site: Site,
    redis_base_url: str,
    nova_env: dict[str, str],
) -> None:
    live, state = site
    state.github_remaining = 3  # two calls left after the profile
    source = add_source(admin_api, name="octo", kind="github", url="https://github.com/octo-nova")
    run_worker(orchestrator, redis_base_url, nova_env, github_api_url=live.url)
    crawl = last_crawl(admin_api, source["id"])
    assert crawl["status"] == "partial"
    assert state.paths() == [
        "/users/octo-nova",
        "/users/octo-nova/repos",
        "/repos/octo-nova/pgvector-bench/readme",
    ]
    assert any("rate limit" in line for line in crawl["log"])


def test_credentials_are_checked_against_the_platform_and_the_verdict_recorded(
    orchestrator: LiveServer,
    admin_api: httpx.Client,
    site: Site,
    redis_base_url: str,
    nova_env: dict[str, str],
) -> None:
    live, state = site
    good = admin_api.post(
        "/api/v1/knowledge/credentials",
        json={"name": "good", "platform": "github", "secret": state.github_token},
    ).json()
    bad = admin_api.post(
        "/api/v1/knowledge/credentials",
        json={"name": "bad", "platform": "github", "secret": "ghp_revoked_token_x"},
    ).json()
    checked = run_worker(
        orchestrator, redis_base_url, nova_env, job="validate_credentials", github_api_url=live.url
    )
    assert checked == 2
    verdicts = {c["name"]: c for c in admin_api.get("/api/v1/knowledge/credentials").json()}
    assert verdicts["good"]["valid"] is True and "repo" in verdicts["good"]["validation_message"]
    assert verdicts["bad"]["valid"] is False and "401" in verdicts["bad"]["validation_message"]
    assert good["id"] != bad["id"]


def test_a_pasted_text_source_is_ingested_once(
    orchestrator: LiveServer, admin_api: httpx.Client, redis_base_url: str, nova_env: dict[str, str]
) -> None:
    source = admin_api.post(
        "/api/v1/knowledge/sources",
        json={"name": "notes", "kind": "text", "text": "I prefer Postgres to MySQL."},
    ).json()
    run_worker(orchestrator, redis_base_url, nova_env)
    assert last_crawl(admin_api, source["id"])["ingested"] == 1
    admin_api.post(f"/api/v1/knowledge/sources/{source['id']}/crawl")
    run_worker(orchestrator, redis_base_url, nova_env)
    assert last_crawl(admin_api, source["id"])["unchanged"] == 1
