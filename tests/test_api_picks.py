"""Pick confirmation: every EPC checked; a refusal names each EPC's reason and writes nothing."""

from __future__ import annotations

from typing import Any

import psycopg
from api_fixtures import (
    FAST,
    SLOW,
    THIN,
    ApiClient,
    Chain,
    auth,
    epc_hex,
    order,
)


def _allocate(client: ApiClient, chain: Chain) -> tuple[str, str]:
    """Two SLOW units collected at s1; returns (allocation id, shop that reserved them)."""
    body = order("pick-1", (SLOW, 2))
    body["collect_shop"] = "s1"
    r = client.post("/v1/allocations", json=body, headers=auth(chain.keys["oms"]))
    assert r.status_code == 201, r.text
    shops = {x["node_id"] for x in r.json()["reservations"]}
    assert len(shops) == 1
    return r.json()["allocation_id"], shops.pop()


def _pick(client: ApiClient, chain: Chain, alloc: str, shop: str, epcs: list[str]) -> Any:
    return client.post(
        f"/v1/allocations/{alloc}/picks", json={"node_id": shop, "epcs": epcs},
        headers=auth(chain.keys[f"store:{shop}"]),
    )


def _state(dsn: str) -> tuple[dict[str, str], int]:
    with psycopg.connect(dsn) as conn:
        status = {bytes(e).hex().upper(): s for e, s in conn.execute("SELECT epc, status FROM tag_state")}
        row = conn.execute("SELECT count(*) FROM tag_events WHERE kind = 'picked'").fetchone()
    assert row is not None
    return status, int(row[0])


def _codes(r: Any) -> list[str]:
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/pick-rejected")
    return [e["code"] for e in r.json()["errors"]]


def test_each_bad_epc_is_refused_with_its_reason(client: ApiClient, chain: Chain) -> None:
    alloc, shop = _allocate(client, chain)
    other = "s2" if shop == "s1" else "s1"
    good = chain.epcs[(shop, SLOW)][0]
    before = _state(chain.dsn)
    assert _codes(_pick(client, chain, alloc, shop, [chain.epcs[(other, SLOW)][0]])) == ["wrong_shop"]
    assert _codes(_pick(client, chain, alloc, shop, [chain.epcs[(shop, THIN)][0]])) == ["wrong_gtin"]
    assert _codes(_pick(client, chain, alloc, shop, [epc_hex(SLOW, 999_999)])) == ["unknown_epc"]
    assert _codes(_pick(client, chain, alloc, shop, [good, good])) == ["duplicate_epc"]
    # A mixed request: the good EPC is not recorded either (all or nothing).
    mixed = _pick(client, chain, alloc, shop, [good, chain.epcs[(shop, FAST)][0]])
    assert _codes(mixed) == ["wrong_gtin"] and mixed.json()["errors"][0]["field"] == "epcs[1]"
    assert _state(chain.dsn) == before


def test_pick_records_state_event_and_fulfils(client: ApiClient, chain: Chain) -> None:
    alloc, shop = _allocate(client, chain)
    first, second, third = chain.epcs[(shop, SLOW)][:3]
    r = _pick(client, chain, alloc, shop, [first])
    assert r.status_code == 200, r.text
    assert r.json()["allocation"]["status"] == "picking"
    assert r.json()["picked"] == [{"gtin": SLOW, "units": 1}]
    status, events = _state(chain.dsn)
    assert status[first] == "picked" and events == 1
    assert _codes(_pick(client, chain, alloc, shop, [first])) == ["already_picked"]
    # More units than are outstanding: refused.
    assert _codes(_pick(client, chain, alloc, shop, [second, third])) == ["over_pick"]
    done = _pick(client, chain, alloc, shop, [second])
    assert done.status_code == 200
    body = done.json()["allocation"]
    assert body["status"] == "fulfilled"
    assert body["reservations"][0]["status"] == "fulfilled" and body["reservations"][0]["picked"] == 2
    # Picked items no longer count as present, and nothing is reserved for them any more.
    stock = client.get(f"/v1/stock/{SLOW}", headers=auth(chain.keys["oms"])).json()
    cell = next(n for n in stock["nodes"] if n["node_id"] == shop)
    assert cell["units"] == len(chain.epcs[(shop, SLOW)]) - 2 and cell["reserved"] == 0
    # A closed allocation takes no more picks; cancel refuses a fulfilled one.
    assert _pick(client, chain, alloc, shop, [third]).status_code == 409
    assert client.post(f"/v1/allocations/{alloc}/cancel", headers=auth(chain.keys["oms"])).status_code == 409


def test_pick_at_a_shop_outside_the_allocation(client: ApiClient, chain: Chain) -> None:
    alloc, shop = _allocate(client, chain)
    other = "s2" if shop == "s1" else "s1"
    r = _pick(client, chain, alloc, other, [chain.epcs[(other, SLOW)][0]])
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "not_in_allocation"
