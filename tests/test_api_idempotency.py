"""Idempotency-Key: a retry replays the first answer; another body with the same key is refused."""

from __future__ import annotations

import asyncio

import httpx
import psycopg
from api_fixtures import FAST, SLOW, UNKNOWN, ApiClient, Chain, auth, order


def _count(dsn: str, sql: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def test_retry_replays_the_first_answer(client: ApiClient, chain: Chain) -> None:
    h = {**auth(chain.keys["oms"]), "Idempotency-Key": "k-1"}
    first = client.post("/v1/allocations", json=order("i-1", (SLOW, 2)), headers=h)
    assert first.status_code == 201
    retry = client.post("/v1/allocations", json=order("i-1", (SLOW, 2)), headers=h)
    assert retry.status_code == 201 and retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"
    assert _count(chain.dsn, "SELECT count(*) FROM allocations") == 1
    assert _count(chain.dsn, "SELECT sum(qty) FROM reservations") == 2
    # Without the key the same body is a new request: the open order is refused.
    plain = client.post("/v1/allocations", json=order("i-1", (SLOW, 2)), headers=auth(chain.keys["oms"]))
    assert plain.status_code == 409


def test_same_key_other_body_is_refused(client: ApiClient, chain: Chain) -> None:
    h = {**auth(chain.keys["oms"]), "Idempotency-Key": "k-2"}
    assert client.post("/v1/allocations", json=order("i-2", (SLOW, 1)), headers=h).status_code == 201
    other = client.post("/v1/allocations", json=order("i-2", (SLOW, 2)), headers=h)
    assert other.status_code == 422
    assert other.json()["type"].endswith("/idempotency-key-reused")
    dry = client.post("/v1/allocations?dry_run=true", json=order("i-2", (SLOW, 1)), headers=h)
    assert dry.status_code == 422  # the query is part of the request
    assert _count(chain.dsn, "SELECT sum(qty) FROM reservations") == 1
    # Keys belong to the API key that used them: another caller may reuse the string.
    h2 = {**auth(chain.keys["admin"]), "Idempotency-Key": "k-2"}
    assert client.post("/v1/allocations", json=order("i-3", (FAST, 1)), headers=h2).status_code == 201


def test_problems_are_replayed_too(client: ApiClient, chain: Chain) -> None:
    h = {**auth(chain.keys["oms"]), "Idempotency-Key": "k-3"}
    first = client.post("/v1/allocations", json=order("i-4", (UNKNOWN, 1)), headers=h)
    assert first.status_code == 422
    retry = client.post("/v1/allocations", json=order("i-4", (UNKNOWN, 1)), headers=h)
    assert (retry.status_code, retry.content) == (422, first.content)
    assert retry.headers["content-type"] == "application/problem+json"
    assert _count(chain.dsn, "SELECT count(*) FROM orders") == 0


def test_cancel_and_concurrent_duplicates(client: ApiClient, chain: Chain) -> None:
    h = {**auth(chain.keys["oms"]), "Idempotency-Key": "k-4"}

    async def burst() -> list[httpx.Response]:
        return await asyncio.gather(*[
            client.http.post("/v1/allocations", json=order("i-5", (SLOW, 3)), headers=h)
            for _ in range(6)
        ])

    answers = client._run(burst())
    assert {r.status_code for r in answers} == {201}
    assert len({r.content for r in answers}) == 1
    assert _count(chain.dsn, "SELECT sum(qty) FROM reservations") == 3
    alloc = answers[0].json()["allocation_id"]
    hc = {**auth(chain.keys["oms"]), "Idempotency-Key": "c-1"}
    c1 = client.post(f"/v1/allocations/{alloc}/cancel", headers=hc)
    c2 = client.post(f"/v1/allocations/{alloc}/cancel", headers=hc)
    assert c1.status_code == 200 and c2.content == c1.content
    assert _count(chain.dsn, "SELECT count(*) FROM reservations WHERE status = 'active'") == 0
