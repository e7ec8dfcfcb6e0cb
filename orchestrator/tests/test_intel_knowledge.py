"""Intel feeds, items and recommendations, knowledge sources and crawls, and the credential vault, through
the real orchestrator on the embedded PostgreSQL."""

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
from fastapi.testclient import TestClient

MASTER_KEY = "test-credential-master-key-0123456789"


@pytest.fixture(autouse=True)
def vault_master_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.knowledge import vault

    monkeypatch.setenv("CREDENTIAL_MASTER_KEY", MASTER_KEY)
    vault._configured_master_key.cache_clear()


def _fetch(database_url: str, query: str, *args: Any) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(database_url)
        try:
            return [dict(r) for r in await conn.fetch(query, *args)]
        finally:
            await conn.close()

    return asyncio.run(run())


def add_feed(client: TestClient, admin: dict[str, str], url: str, **extra: Any) -> dict[str, Any]:
    response = client.post("/api/v1/intel/feeds", headers=admin, json={"url": url, **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


# Feeds ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "feed_type", "category"),
    [
        ("https://www.reddit.com/r/LocalLLaMA/.json", "reddit_json", "reddit"),
        ("https://github.com/trending/python?since=daily", "github_trending", "github"),
        ("https://github.com/astral-sh/uv/releases.atom", "github_releases", "github"),
        ("https://simonwillison.net/atom/everything/", "rss", "blog"),
        ("https://example.com/feed.xml", "rss", "blog"),
        ("https://example.com/changelog", "page", "other"),
    ],
)
def test_a_feeds_type_and_category_are_detected_from_its_url_when_not_given(
    client: TestClient, admin: dict[str, str], url: str, feed_type: str, category: str
) -> None:
    feed = add_feed(client, admin, url)
    assert (feed["type"], feed["category"]) == (feed_type, category)


def test_a_feed_url_watched_twice_is_a_409_and_feeds_are_admin_only(
    client: TestClient, admin: dict[str, str], service: dict[str, str]
) -> None:
    add_feed(client, admin, "https://example.com/rss")
    again = client.post("/api/v1/intel/feeds", headers=admin, json={"url": "https://example.com/rss"})
    assert again.status_code == 409 and "exists already" in again.json()["detail"]
    assert client.post("/api/v1/intel/feeds", json={"url": "https://x.example/rss"}).status_code == 401
    assert client.post(
        "/api/v1/intel/feeds", headers=service, json={"url": "https://x.example/rss"}
    ).status_code in (
        401,
        403,
    )
    bad = client.post("/api/v1/intel/feeds", headers=admin, json={"url": "ftp://example.com/feed"})
    assert bad.status_code == 422


def test_a_failing_feed_backs_off_exponentially_and_a_success_resets_it(
    client: TestClient, admin: dict[str, str], service: dict[str, str]
) -> None:
    feed = add_feed(client, admin, "https://example.com/blog/rss", check_interval_seconds=600)
    due = client.get("/api/v1/intel/feeds/due", headers=service).json()
    assert [f["id"] for f in due] == [feed["id"]]  # never checked: due at once

    for errors in (1, 2, 3):
        report = client.post(
            f"/api/v1/intel/feeds/{feed['id']}/status",
            headers=service,
            json={"ok": False, "error": "HTTP 500"},
        )
        assert report.status_code == 200, report.text
        body = report.json()
        waited = _seconds(body["next_check_at"]) - _seconds(body["last_checked_at"])
        assert body["error_count"] == errors and body["last_error"] == "HTTP 500"
        assert waited == pytest.approx(600 * 2**errors)
    assert client.get("/api/v1/intel/feeds/due", headers=service).json() == []

    ok = client.post(
        f"/api/v1/intel/feeds/{feed['id']}/status",
        headers=service,
        json={
            "ok": True,
            "etag": '"v1"',
            "last_modified": "Fri, 04 Dec 2026 10:00:00 GMT",
            "content_hash": "h1",
        },
    ).json()
    assert ok["error_count"] == 0 and ok["last_error"] is None and ok["etag"] == '"v1"'
    assert _seconds(ok["next_check_at"]) - _seconds(ok["last_checked_at"]) == pytest.approx(600)
    # A 304 carries no validators: the stored ones stay so the next request is conditional again.
    not_modified = client.post(
        f"/api/v1/intel/feeds/{feed['id']}/status", headers=service, json={"ok": True, "not_modified": True}
    ).json()
    assert not_modified["etag"] == '"v1"' and not_modified["last_content_hash"] == "h1"


def test_backoff_never_waits_longer_than_a_day(
    client: TestClient, admin: dict[str, str], service: dict[str, str]
) -> None:
    feed = add_feed(client, admin, "https://example.com/news/rss", check_interval_seconds=3600)
    for _ in range(8):
        body = client.post(
            f"/api/v1/intel/feeds/{feed['id']}/status",
            headers=service,
            json={"ok": False, "error": "timeout"},
        ).json()
    assert _seconds(body["next_check_at"]) - _seconds(body["last_checked_at"]) == pytest.approx(86_400)


def test_check_now_makes_a_feed_due_and_a_disabled_feed_is_never_due(
    client: TestClient, admin: dict[str, str], service: dict[str, str]
) -> None:
    feed = add_feed(client, admin, "https://example.com/atom.xml")
    client.post(f"/api/v1/intel/feeds/{feed['id']}/status", headers=service, json={"ok": True})
    assert client.get("/api/v1/intel/feeds/due", headers=service).json() == []
    assert client.post(f"/api/v1/intel/feeds/{feed['id']}/check", headers=admin).status_code == 202
    assert [f["id"] for f in client.get("/api/v1/intel/feeds/due", headers=service).json()] == [feed["id"]]
    client.patch(f"/api/v1/intel/feeds/{feed['id']}", headers=admin, json={"enabled": False})
    assert client.get("/api/v1/intel/feeds/due", headers=service).json() == []


def _seconds(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value).timestamp()


# Items and recommendations ----------------------------------------------------------------------------------


def test_a_repost_of_the_same_item_is_stored_once(
    client: TestClient, admin: dict[str, str], service: dict[str, str]
) -> None:
    first = add_feed(client, admin, "https://a.example/rss")
    second = add_feed(client, admin, "https://b.example/rss")
    item = {"title": "Llama 5 released", "body": "Weights   are out.", "url": "https://a.example/1"}
    stored = client.post(
        "/api/v1/intel/items", headers=service, json={"feed_id": first["id"], "items": [item]}
    )
    assert stored.status_code == 200, stored.text
    assert stored.json()["duplicates"] == 0 and len(stored.json()["stored"]) == 1
    repost = {**item, "url": "https://b.example/99", "title": "llama 5 RELEASED", "body": "Weights are out."}
    again = client.post(
        "/api/v1/intel/items", headers=service, json={"feed_id": second["id"], "items": [repost, repost]}
    ).json()
    assert again["duplicates"] == 2 and again["stored"] == []
    assert len(client.get("/api/v1/intel/items", headers=admin).json()) == 1
    stats = client.get("/api/v1/intel/stats", headers=admin).json()
    assert stats["items_total"] == 1 and stats["undigested_items"] == 1 and stats["feeds"] == 2


def _insert_recommendation(database_url: str) -> str:
    rows = _fetch(
        database_url,
        """INSERT INTO intel_recommendations (theme, title, summary, relevance)
           VALUES ('local models', 'Try Llama 5 on the local backend', 'It fits in 24 GB.', 0.9) RETURNING id""",
    )
    return str(rows[0]["id"])


def test_approving_a_recommendation_creates_a_goal_once(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    rec_id = _insert_recommendation(database_url)
    approved = client.post(f"/api/v1/intel/recommendations/{rec_id}/approve", headers=admin)
    assert approved.status_code == 200, approved.text
    goal_id = approved.json()["goal_id"]
    assert approved.json()["status"] == "approved" and goal_id
    goal = client.get(f"/api/v1/goals/{goal_id}", headers=admin).json()
    assert goal["title"] == "Try Llama 5 on the local backend" and "24 GB" in goal["description"]
    twice = client.post(f"/api/v1/intel/recommendations/{rec_id}/approve", headers=admin)
    assert twice.status_code == 409
    assert len(client.get("/api/v1/goals", headers=admin).json()) == 1


def test_a_recommendation_is_dismissed_and_commented_but_not_approved_by_patch(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    rec_id = _insert_recommendation(database_url)
    url = f"/api/v1/intel/recommendations/{rec_id}"
    assert client.patch(url, headers=admin, json={"status": "approved"}).status_code == 409
    assert client.patch(url, headers=admin, json={"status": "dismissed"}).json()["status"] == "dismissed"
    commented = client.post(f"{url}/comments", headers=admin, json={"body": "Not now."})
    assert commented.status_code == 201
    assert [c["body"] for c in commented.json()["comments"]] == ["Not now."]
    listed = client.get("/api/v1/intel/recommendations", headers=admin, params={"status": "dismissed"}).json()
    assert [r["id"] for r in listed] == [rec_id] and listed[0]["comments"][0]["author"] == "admin"
    assert client.get(f"/api/v1/intel/recommendations/{uuid.uuid4()}", headers=admin).status_code == 404


def test_digest_without_a_reachable_gateway_is_a_503_and_keeps_the_items_undigested(
    client: TestClient, admin: dict[str, str], service: dict[str, str]
) -> None:
    feed = add_feed(client, admin, "https://c.example/rss")
    client.post(
        "/api/v1/intel/items", headers=service, json={"feed_id": feed["id"], "items": [{"title": "x"}]}
    )
    response = client.post("/api/v1/intel/recommendations/digest", headers=service)
    assert response.status_code == 503
    assert client.get("/api/v1/intel/stats", headers=admin).json()["undigested_items"] == 1


# Credential vault -------------------------------------------------------------------------------------------


def test_a_credential_is_stored_as_ciphertext_shown_masked_and_revealed_only_to_a_service(
    client: TestClient, admin: dict[str, str], service: dict[str, str], database_url: str
) -> None:
    secret = "ghp_S3cretTokenValue1234567890abcd"
    created = client.post(
        "/api/v1/knowledge/credentials",
        headers=admin,
        json={"name": "gh", "platform": "github", "secret": secret},
    )
    assert created.status_code == 201, created.text
    assert created.json()["masked"] == "••••abcd" and secret not in created.text
    listed = client.get("/api/v1/knowledge/credentials", headers=admin)
    assert secret not in listed.text

    rows = _fetch(database_url, "SELECT * FROM credentials")
    stored = b"".join(v if isinstance(v, bytes) else str(v).encode() for v in rows[0].values())
    assert secret.encode() not in stored and b"S3cretToken" not in stored

    cred_id = created.json()["id"]
    assert client.get(f"/api/v1/knowledge/credentials/{cred_id}/secret", headers=admin).status_code in (
        401,
        403,
    )
    revealed = client.get(f"/api/v1/knowledge/credentials/{cred_id}/secret", headers=service)
    assert revealed.status_code == 200 and revealed.json()["secret"] == secret


def test_a_credential_sealed_under_another_master_key_is_a_clear_503_not_garbage(
    client: TestClient, admin: dict[str, str], service: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator.knowledge import vault

    created = client.post(
        "/api/v1/knowledge/credentials",
        headers=admin,
        json={"name": "gh", "platform": "github", "secret": "t0ken-abc"},
    ).json()
    monkeypatch.setenv("CREDENTIAL_MASTER_KEY", "another-master-key-0123456789")
    vault._configured_master_key.cache_clear()
    response = client.get(f"/api/v1/knowledge/credentials/{created['id']}/secret", headers=service)
    assert response.status_code == 503 and "CREDENTIAL_MASTER_KEY" in response.json()["detail"]


def test_without_a_master_key_storing_a_credential_is_a_503_naming_the_setting(
    client: TestClient, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator.knowledge import vault

    monkeypatch.setenv("CREDENTIAL_MASTER_KEY", "")
    vault._configured_master_key.cache_clear()
    response = client.post(
        "/api/v1/knowledge/credentials",
        headers=admin,
        json={"name": "gh", "platform": "github", "secret": "t0ken"},
    )
    assert response.status_code == 503 and "CREDENTIAL_MASTER_KEY" in response.json()["detail"]


def test_validation_is_requested_by_the_admin_and_recorded_by_the_worker(
    client: TestClient, admin: dict[str, str], service: dict[str, str]
) -> None:
    cred = client.post(
        "/api/v1/knowledge/credentials",
        headers=admin,
        json={"name": "gh", "platform": "github", "secret": "t0ken"},
    ).json()
    assert (
        client.post(f"/api/v1/knowledge/credentials/{cred['id']}/validate", headers=admin).status_code == 202
    )
    pending = client.get("/api/v1/knowledge/credentials/to-validate", headers=service).json()
    assert [c["id"] for c in pending] == [cred["id"]]
    verdict = client.post(
        f"/api/v1/knowledge/credentials/{cred['id']}/validation",
        headers=service,
        json={"valid": False, "message": "GitHub answered 401"},
    ).json()
    assert verdict["valid"] is False and verdict["validation_requested_at"] is None
    assert client.get("/api/v1/knowledge/credentials/to-validate", headers=service).json() == []


# Knowledge sources ------------------------------------------------------------------------------------------


def test_a_source_is_claimed_once_crawled_with_progress_and_then_waits_for_its_refresh(
    client: TestClient, admin: dict[str, str], service: dict[str, str]
) -> None:
    created = client.post(
        "/api/v1/knowledge/sources",
        headers=admin,
        json={
            "name": "docs",
            "kind": "site",
            "url": "https://Docs.Example.org/start",
            "crawl": {"max_pages": 5},
        },
    )
    assert created.status_code == 201, created.text
    source = created.json()
    assert source["status"] == "queued" and source["crawl"]["allowed_hosts"] == ["docs.example.org"]

    claimed = client.post("/api/v1/knowledge/sources/claim", headers=service).json()
    assert [s["id"] for s in claimed] == [source["id"]] and claimed[0]["status"] == "crawling"
    assert client.post("/api/v1/knowledge/sources/claim", headers=service).json() == []
    assert client.post(f"/api/v1/knowledge/sources/{source['id']}/crawl", headers=admin).status_code == 409

    crawl = client.post(f"/api/v1/knowledge/sources/{source['id']}/crawls", headers=service).json()
    url = f"/api/v1/knowledge/sources/{source['id']}/crawls/{crawl['id']}"
    running = client.put(url, headers=service, json={"fetched": 2, "queued": 3, "skipped": {"robots": 1}})
    assert running.status_code == 200 and running.json()["status"] == "running"
    done = client.put(
        url, headers=service, json={"status": "partial", "fetched": 5, "skipped": {"robots": 1}}
    )
    assert done.json()["finished_at"] is not None
    assert client.put(url, headers=service, json={"status": "complete"}).status_code == 409

    after = client.get(f"/api/v1/knowledge/sources/{source['id']}", headers=admin).json()
    assert after["status"] == "idle" and after["last_crawl_at"] is not None
    assert client.post("/api/v1/knowledge/sources/claim", headers=service).json() == []  # refresh not due yet
    history = client.get(f"/api/v1/knowledge/sources/{source['id']}/crawls", headers=admin).json()
    assert [(c["status"], c["fetched"], c["skipped"]) for c in history] == [("partial", 5, {"robots": 1})]
    assert client.post(f"/api/v1/knowledge/sources/{source['id']}/crawl", headers=admin).status_code == 202


def test_a_source_needs_the_content_of_its_kind_and_an_existing_credential(
    client: TestClient, admin: dict[str, str]
) -> None:
    no_text = client.post("/api/v1/knowledge/sources", headers=admin, json={"name": "n", "kind": "text"})
    assert no_text.status_code == 422 and "text" in no_text.text
    no_url = client.post("/api/v1/knowledge/sources", headers=admin, json={"name": "n", "kind": "github"})
    assert no_url.status_code == 422
    missing = client.post(
        "/api/v1/knowledge/sources",
        headers=admin,
        json={
            "name": "n",
            "kind": "github",
            "url": "https://github.com/x",
            "credential_id": str(uuid.uuid4()),
        },
    )
    assert missing.status_code == 404 and "credential" in missing.json()["detail"]


def test_a_source_left_crawling_by_a_silent_worker_is_taken_again_and_its_crawl_closed_as_failed(
    client: TestClient, admin: dict[str, str], service: dict[str, str], database_url: str
) -> None:
    source = client.post(
        "/api/v1/knowledge/sources",
        headers=admin,
        json={"name": "s", "kind": "site", "url": "https://a.example/"},
    ).json()
    assert len(client.post("/api/v1/knowledge/sources/claim", headers=service).json()) == 1
    crawl = client.post(f"/api/v1/knowledge/sources/{source['id']}/crawls", headers=service).json()
    client.put(
        f"/api/v1/knowledge/sources/{source['id']}/crawls/{crawl['id']}", headers=service, json={"fetched": 1}
    )
    assert client.post("/api/v1/knowledge/sources/claim", headers=service).json() == []  # still reporting

    _fetch(
        database_url,
        "UPDATE knowledge_sources SET updated_at = now() - interval '20 minutes' WHERE id = $1::uuid RETURNING id",
        source["id"],
    )
    again = client.post("/api/v1/knowledge/sources/claim", headers=service).json()
    assert [s["id"] for s in again] == [source["id"]]
    old = client.get(f"/api/v1/knowledge/sources/{source['id']}/crawls", headers=admin).json()[0]
    assert old["status"] == "failed" and "abandoned" in old["error"]


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://10.1.2.3/feed.xml", "private"),
        ("http://127.0.0.1:8000/api/v1/agents", "loopback"),
        ("http://localhost:8002/feed", "localhost"),
        ("http://redis:6379/", "internal host"),
        ("http://[::ffff:192.168.1.1]/rss", "private"),
    ],
)
def test_a_feed_or_site_pointing_inside_the_network_is_refused_with_a_400_naming_why(
    client: TestClient, admin: dict[str, str], url: str, named: str
) -> None:
    feed = client.post("/api/v1/intel/feeds", headers=admin, json={"url": url})
    assert feed.status_code == 400 and named in feed.json()["detail"], feed.text
    site = client.post(
        "/api/v1/knowledge/sources", headers=admin, json={"name": "s", "kind": "site", "url": url}
    )
    assert site.status_code == 400 and named in site.json()["detail"], site.text


@pytest.mark.parametrize("url", ["http://[::1/feed", "https://example.com:99999/rss"])
def test_a_malformed_url_is_a_400_not_a_500(client: TestClient, admin: dict[str, str], url: str) -> None:
    feed = client.post("/api/v1/intel/feeds", headers=admin, json={"url": url})
    assert feed.status_code == 400 and "not a valid URL" in feed.json()["detail"], feed.text
    site = client.post(
        "/api/v1/knowledge/sources", headers=admin, json={"name": "s", "kind": "github", "url": url}
    )
    assert site.status_code == 400, site.text


@pytest.mark.parametrize(
    "answer",
    ["no json here", "[1, 2]", '{"recommendations": 5}', '{"recommendations": [{"title": "x", "items": 3}]}'],
)
def test_an_unusable_digest_answer_is_refused_as_a_value_error(answer: str) -> None:
    from orchestrator.intel.service import parse_digest

    with pytest.raises(ValueError):
        parse_digest(answer, 3)


def test_a_digest_answer_keeps_only_item_numbers_that_exist_and_clamps_relevance() -> None:
    from orchestrator.intel.service import parse_digest

    found = parse_digest(
        'Sure! {"recommendations": [{"theme": "t", "title": "Do it", "relevance": 7, "items": [1, 9, "2"]}]}',
        3,
    )
    assert found == [{"theme": "t", "title": "Do it", "summary": "", "relevance": 1.0, "numbers": [1]}]
