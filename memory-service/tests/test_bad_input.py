"""Input PostgreSQL cannot store is a 422 naming the field, never a 500 (found by a Schemathesis run:
NUL characters, lone surrogates, non-finite numbers, dates outside the range once in UTC)."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

MEMORIES = "/api/v1/memories"
UNKNOWN_ID = "6f1c1c59-64f2-4f6e-8d5e-8e3c2a9e1b00"
FACT = {"project_id": "p", "category": "c", "key": "k", "value": "v"}

# Raw JSON bodies: a lone surrogate or 1e400 cannot be written with `json=` (Python would refuse or
# turn it into Infinity, which is not JSON).
CASES = [
    ("post", "", '{"content": "before\\u0000after"}', "content"),
    ("post", "", '{"content": "x", "metadata": {"note": "a\\u0000b"}}', "metadata"),
    ("post", "", '{"content": "x", "metadata": {"k\\u0000": 1}}', "metadata"),
    ("post", "", '{"content": "x", "metadata": {"note": "\\ud800"}}', "metadata"),
    ("post", "", '{"content": "x", "metadata": {"n": 1e400}}', "metadata"),
    ("post", "", '{"content": "x", "metadata": {"nested": {"n": -1e400}}}', "metadata"),
    (
        "post",
        "",
        '{"content": "x", "tier": "working", "expires_at": "0001-01-01T00:00:00+01:00"}',
        "expires_at",
    ),
    (
        "post",
        "",
        '{"content": "x", "tier": "working", "expires_at": "9999-12-31T23:59:59-14:00"}',
        "expires_at",
    ),
    ("post", "/bulk", '{"items": [{"content": "ok"}, {"content": "\\u0000"}]}', "content"),
    ("post", "/facts", '{"project_id": "p", "category": "c", "key": "k", "value": "v\\u0000"}', "value"),
    (
        "post",
        "/facts",
        '{"project_id": "p", "category": "c", "key": "k", "value": "v", "metadata": {"x": 1e999}}',
        "metadata",
    ),
    ("post", "/search", '{"query": "x", "metadata": {"n": 1e400}}', "metadata"),
    ("post", "/search", '{"query": "x", "metadata": {"s": "\\u0000"}}', "metadata"),
    ("post", "/agent-1/context", '{"query": "x", "project_id": "\\u0000"}', "project_id"),
    ("patch", f"/{UNKNOWN_ID}", '{"content": "a\\u0000"}', "content"),
    ("patch", f"/{UNKNOWN_ID}", '{"metadata": {"n": 1e400}}', "metadata"),
    ("patch", f"/{UNKNOWN_ID}", '{"expires_at": "0001-01-01T00:00:00+01:00"}', "expires_at"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), CASES)
def test_unstorable_input_is_422_naming_the_field(
    service: TestClient, method: str, path: str, body: str, field: str
) -> None:
    response = service.request(
        method.upper(), f"{MEMORIES}{path}", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422, response.text
    assert field in {str(part) for error in response.json()["detail"] for part in error["loc"]}


def test_browse_filter_with_a_nul_character_is_422(service: TestClient) -> None:
    response = service.get(f"{MEMORIES}/browse", params={"project_id": "a\x00b"})

    assert response.status_code == 422
    assert "project_id" in response.text


def test_patching_an_unknown_memory_is_404(service: TestClient) -> None:
    response = service.patch(f"{MEMORIES}/{UNKNOWN_ID}", json={"content": "new text"})

    assert response.status_code == 404


def test_large_but_finite_numbers_in_metadata_are_stored(service: TestClient) -> None:
    metadata: dict[str, Any] = {"big": 10**40, "small": 1e-300, "negative": -(10**30)}

    response = service.post(MEMORIES, json={"content": "numbers", "metadata": metadata})

    assert response.status_code == 201, response.text
    assert response.json()["metadata"] == metadata
