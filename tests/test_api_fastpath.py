"""The hot route's fast path (allocator/api/fastpath.py): it answers plainly valid requests itself
and hands everything else to FastAPI, whose answers stay exactly as they were."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_fixtures import SLOW, ApiClient, Chain, auth, open_client, order

from allocator.api import fastpath
from allocator.api.fastpath import FastAllocate


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """What `FastAllocate._serve` returned, per request it was asked about."""
    seen: list[bool] = []
    original = FastAllocate._serve

    async def spy(self: FastAllocate, *args: object) -> bool:
        out = await original(self, *args)  # type: ignore[arg-type]
        seen.append(out)
        return out

    monkeypatch.setattr(fastpath.FastAllocate, "_serve", spy)
    return seen


@pytest.fixture
def client(chain: Chain, served: list[bool]) -> Iterator[ApiClient]:
    yield from open_client(chain)


def test_valid_requests_are_answered_by_the_fast_path(
    client: ApiClient, chain: Chain, served: list[bool]
) -> None:
    h = {**auth(chain.keys["oms"]), "Idempotency-Key": "fp-1"}
    first = client.post("/v1/allocations", json=order("fp-1", (SLOW, 2)), headers=h)
    assert first.status_code == 201 and first.headers["content-type"] == "application/json"
    retry = client.post("/v1/allocations", json=order("fp-1", (SLOW, 2)), headers=h)
    assert retry.content == first.content and retry.headers["idempotent-replayed"] == "true"
    by_header = client.post("/v1/allocations", json=order("fp-2", (SLOW, 1)),
                            headers={"X-API-Key": chain.keys["admin"]})
    assert by_header.status_code == 201
    assert served == [True, True, True]
    # A refusal from the service is answered there too, as the app's handler would.
    gone = client.post("/v1/allocations", json=order("fp-3", (SLOW, 99)), headers=auth(chain.keys["oms"]))
    assert gone.status_code == 409 and gone.headers["content-type"] == "application/problem+json"
    assert gone.json()["instance"] == "/v1/allocations" and served[-1] is True


def test_everything_else_gets_the_apps_own_answer(
    client: ApiClient, chain: Chain, served: list[bool]
) -> None:
    oms = auth(chain.keys["oms"])
    bad = client.post("/v1/allocations", json={**order("x", (SLOW, 1)), "qty": 1}, headers=oms)
    assert bad.status_code == 422 and bad.json()["type"].endswith("/validation")
    assert {e["field"] for e in bad.json()["errors"]} == {"qty"}
    anonymous = client.post("/v1/allocations", json=order("x", (SLOW, 1)))
    assert anonymous.status_code == 401 and "WWW-Authenticate" in anonymous.headers
    shop = client.post("/v1/allocations", json=order("x", (SLOW, 1)), headers=auth(chain.keys["store:s1"]))
    assert shop.status_code == 403 and shop.json()["type"].endswith("/forbidden")
    long_key = client.post("/v1/allocations", json=order("x", (SLOW, 1)),
                           headers={**oms, "Idempotency-Key": "k" * 201})
    assert long_key.status_code == 422
    assert served == [False, False, False, False]
    # Not even looked at: a dry run (query string), another content type.
    dry = client.post("/v1/allocations?dry_run=true", json=order("x", (SLOW, 1)), headers=oms)
    assert dry.status_code == 200 and dry.json()["status"] == "dry_run"
    text = client.post("/v1/allocations", content=b"{}", headers={**oms, "Content-Type": "text/plain"})
    assert text.status_code == 422
    assert len(served) == 4
