"""`FastPath` serves a hot POST route ahead of FastAPI's router; the kit's middleware still applies, and what
the fast route does not take is answered by the FastAPI route exactly as before."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from starlette.responses import Response
from starlette.types import Scope

from nova_common.app import create_service_app
from nova_common.config import NovaSettings
from nova_common.errors import Forbidden
from nova_common.fast_path import FastRoute, header, install_fast_path
from nova_contracts.base import RequestModel


class Greeting(BaseModel):
    name: str = Field(min_length=1, max_length=20)


class Note(RequestModel):
    text: str
    tags: dict[str, Any] = {}


@contextlib.asynccontextmanager
async def _no_resources(app: FastAPI) -> AsyncIterator[None]:
    yield


def _app(served: list[str]) -> TestClient:
    settings = NovaSettings(service_name="fast-path-test", cors_allowed_origins="http://localhost:5173")
    app = create_service_app(settings, title="t", description="d", version="0", lifespan=_no_resources)

    @app.post("/greet")
    async def greet(body: Greeting, x_mood: str | None = Header(default=None, pattern="^[a-z]+$")) -> Any:
        served.append("router")
        return {"hello": body.name, "by": "router"}

    async def fast_greet(body: Greeting, request: Request) -> Response:
        served.append("fast")
        if body.name == "mallory":
            raise Forbidden("mallory may not be greeted")
        return JSONResponse({"hello": body.name, "by": "fast"})

    def mood_is_lower_case(scope: Scope) -> bool:
        mood = header(scope, b"x-mood")
        return mood is None or (mood.isalpha() and mood.islower())

    @app.post("/note")
    async def note(body: Note) -> Any:
        served.append("router")
        return {"text": body.text}

    async def fast_note(body: Note, request: Request) -> Response:
        served.append("fast")
        return JSONResponse({"text": body.text, "tags": body.tags})

    install_fast_path(
        app,
        {
            "/greet": FastRoute(Greeting, fast_greet, accepts=mood_is_lower_case),
            "/note": FastRoute(Note, fast_note),
        },
    )
    return TestClient(app, base_url="http://localhost")


@pytest.fixture
def served() -> list[str]:
    return []


@pytest.fixture
def client(served: list[str]) -> TestClient:
    return _app(served)


def test_a_valid_post_is_answered_by_the_fast_route_with_the_kits_headers(
    client: TestClient, served: list[str]
) -> None:
    response = client.post(
        "/greet",
        json={"name": "ada"},
        headers={"X-Request-ID": "req-fast-1", "Origin": "http://localhost:5173"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"hello": "ada", "by": "fast"}
    assert served == ["fast"]
    assert response.headers["X-Request-ID"] == "req-fast-1"
    assert response.headers["access-control-allow-origin"] == "http://localhost:5173"


def test_a_body_that_does_not_validate_gets_the_routers_422(client: TestClient, served: list[str]) -> None:
    for content, content_type in (
        (b'{"name": ""}', "application/json"),
        (b"{not json", "application/json"),
        (b"name=ada", "text/plain"),
    ):
        response = client.post("/greet", content=content, headers={"Content-Type": content_type})
        assert response.status_code == 422, response.text
        assert isinstance(response.json()["detail"], list)  # FastAPI's validation errors
    assert "fast" not in served


def test_a_request_the_route_does_not_accept_goes_to_the_router(
    client: TestClient, served: list[str]
) -> None:
    refused = client.post("/greet", json={"name": "ada"}, headers={"X-Mood": "Grumpy"})
    assert refused.status_code == 422  # the header's pattern, judged by FastAPI
    assert served == []
    answered = client.post("/greet", json={"name": "ada"}, headers={"X-Mood": "happy"})
    assert answered.json()["by"] == "fast"


def test_a_nova_error_in_the_fast_route_is_answered_in_the_kits_shape(
    client: TestClient, served: list[str]
) -> None:
    response = client.post("/greet", json={"name": "mallory"}, headers={"X-Request-ID": "req-fast-2"})
    assert response.status_code == 403
    assert response.json()["detail"] == "mallory may not be greeted"
    assert response.headers["X-Request-ID"] == "req-fast-2"


def test_other_methods_and_paths_pass_through(client: TestClient, served: list[str]) -> None:
    assert client.get("/greet").status_code == 405
    redirected = client.post("/greet/", json={"name": "ada"}, follow_redirects=False)
    assert redirected.status_code == 307  # the router's trailing-slash redirect
    assert served == []


def test_the_kits_body_cap_still_applies(client: TestClient, served: list[str]) -> None:
    response = client.post(
        "/greet",
        content=b'{"name": "' + b"a" * 2_000_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert served == []


def test_a_nul_anywhere_in_a_contracts_body_is_the_routers_422_and_its_look_alike_text_is_fine(
    client: TestClient, served: list[str]
) -> None:
    # A contract refuses NUL in any text (PostgreSQL cannot store it); the fast route skips that check's walk
    # only for a body whose JSON cannot hold one.
    for body in (
        b'{"text": "a\\u0000b"}',
        b'{"text": "ok", "tags": {"deep": [{"er": "x\\u0000"}]}}',
        b'{"text": "ok", "tags": {"k\\u0000": 1}}',
    ):
        response = client.post("/note", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 422, body
        assert "NUL" in response.text
    assert "fast" not in served
    # The six characters `\u0000` written as text (an escaped backslash) are no NUL: served, and kept as sent.
    look_alike = client.post(
        "/note",
        content=b'{"text": "ok", "tags": {"k": "\\\\u0000"}}',
        headers={"Content-Type": "application/json"},
    )
    assert look_alike.status_code == 200 and look_alike.json()["tags"] == {"k": "\\u0000"}
    plain = client.post("/note", json={"text": "ok", "tags": {"schema": {"type": "object"}}})
    assert plain.json() == {"text": "ok", "tags": {"schema": {"type": "object"}}}
    assert served == ["fast", "fast"]
