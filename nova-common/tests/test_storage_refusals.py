"""What PostgreSQL refuses to store becomes a 4xx with a detail, never a 500 (the net under the contracts)."""

import asyncpg
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nova_common.errors import install_error_handlers


def _app(database_url: str) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/number/{value}")
    async def store_number(value: int) -> dict[str, int]:
        conn = await asyncpg.connect(database_url)
        try:
            return {"stored": await conn.fetchval("SELECT $1::bigint::int4", value)}
        finally:
            await conn.close()

    @app.get("/text")
    async def store_text(value: str) -> dict[str, str]:
        conn = await asyncpg.connect(database_url)
        try:
            return {"stored": await conn.fetchval("SELECT $1::text", value)}
        finally:
            await conn.close()

    @app.get("/positive/{value}")
    async def store_positive(value: int) -> dict[str, int]:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute("CREATE TEMP TABLE p (n INT CONSTRAINT p_n_positive CHECK (n > 0))")
            await conn.execute("INSERT INTO p VALUES ($1)", value)
            return {"stored": value}
        finally:
            await conn.close()

    return app


def test_values_postgresql_cannot_store_are_4xx_with_a_detail(database_url: str) -> None:
    client = TestClient(_app(database_url), raise_server_exceptions=False)
    assert client.get("/number/5").json() == {"stored": 5}

    out_of_range = client.get(f"/number/{2**40}")
    assert out_of_range.status_code == 400
    assert out_of_range.json()["code"] == "unstorable_value"

    nul = client.get("/text", params={"value": "a\x00b"})
    assert nul.status_code == 400

    broken_rule = client.get("/positive/-1")
    assert broken_rule.status_code == 400
    assert "p_n_positive" in broken_rule.json()["detail"]
