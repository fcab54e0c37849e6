"""The write floor `bench api` serves beside the trivial endpoint: one row per request, written
by one statement for the requests that arrive together, answered 201 once that commits."""

from __future__ import annotations

import asyncio

import httpx
import psycopg
import pytest

from bench import api_floor


def test_the_floor_writes_one_row_per_request_in_group_commits(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(api_floor.DDL)
    monkeypatch.setenv("SHELFSIGHT__DATABASE__DSN", pg_dsn)
    app = api_floor.floor_app()
    statements: list[int] = []

    async def run() -> list[int]:
        async with app.router.lifespan_context(app):
            writer = app.state.floor_writer
            original = writer.conn.execute

            async def counting(query: str, params: tuple[list[str], list[bytes]]) -> object:
                statements.append(len(params[0]))
                return await original(query, params)

            writer.conn.execute = counting
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://floor") as client:
                answers = await asyncio.gather(*[
                    client.post("/v1/allocations", content=b'{"n": %d}' % i,
                                headers={"Idempotency-Key": f"k{i}"})
                    for i in range(20)
                ])
                return [r.status_code for r in answers]

    assert asyncio.run(run()) == [201] * 20
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(f"SELECT idem_key, body FROM {api_floor.TABLE}").fetchall()
    assert sorted(rows) == sorted((f"k{i}", b'{"n": %d}' % i) for i in range(20))
    assert sum(statements) == 20 and len(statements) < 20  # group-committed
