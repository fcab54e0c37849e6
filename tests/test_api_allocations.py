"""Allocate, read, cancel; stock reads; problem documents for bad input."""

from __future__ import annotations

import time

import psycopg
from api_fixtures import (
    FAST,
    SLOW,
    UNKNOWN,
    ApiClient,
    Chain,
    api_settings,
    auth,
    order,
)

from allocator.api.app import create_app


def _reserved(dsn: str) -> dict[tuple[str, str], int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT node_id, gtin, sum(qty - picked) FROM reservations WHERE status = 'active'"
            " GROUP BY 1, 2"
        ).fetchall()
    return {(n, g): int(q) for n, g, q in rows}


def test_dry_run_decides_and_writes_nothing(client: ApiClient, chain: Chain) -> None:
    r = client.post("/v1/allocations?dry_run=true", json=order("o-dry", (SLOW, 2)),
                    headers=auth(chain.keys["oms"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "dry_run" and body["allocation_id"] is None
    assert sum(x["qty"] for x in body["lines"]) == 2
    assert {x["node_id"] for x in body["lines"]} <= {"s1", "s2"}
    assert body["cost"]["total"] > 0
    assert _reserved(chain.dsn) == {}


def test_reserve_get_cancel_round_trip(client: ApiClient, chain: Chain) -> None:
    h = auth(chain.keys["oms"])
    r = client.post("/v1/allocations", json=order("o-1", (SLOW, 2), (FAST, 1)), headers=h)
    assert r.status_code == 201, r.text
    body = r.json()
    alloc = body["allocation_id"]
    assert body["status"] == "reserved"
    reserved = _reserved(chain.dsn)
    assert sum(q for (_, g), q in reserved.items() if g == SLOW) == 2
    assert sum(q for (_, g), q in reserved.items() if g == FAST) == 1
    got = client.get(f"/v1/allocations/{alloc}", headers=h)
    assert got.status_code == 200
    assert got.json()["lines"] == body["lines"]
    assert {(x["node_id"], x["gtin"], x["qty"]) for x in got.json()["reservations"]} == {
        (n, g, q) for (n, g), q in reserved.items()
    }
    # A second allocation of the same open order is refused.
    again = client.post("/v1/allocations", json=order("o-1", (SLOW, 1)), headers=h)
    assert again.status_code == 409
    assert again.json()["type"].endswith("/order-already-allocated")
    c = client.post(f"/v1/allocations/{alloc}/cancel", headers=h)
    assert c.status_code == 200 and c.json()["status"] == "cancelled"
    assert _reserved(chain.dsn) == {}
    assert client.post(f"/v1/allocations/{alloc}/cancel", headers=h).json()["status"] == "cancelled"


def test_reservations_reduce_stock_and_run_out(client: ApiClient, chain: Chain) -> None:
    h = auth(chain.keys["oms"])
    before = client.get(f"/v1/stock/{SLOW}", headers=h).json()
    assert before["total_available"] == 9
    assert client.post("/v1/allocations", json=order("a", (SLOW, 6)), headers=h).status_code == 201
    assert client.post("/v1/allocations", json=order("b", (SLOW, 3)), headers=h).status_code == 201
    after = client.get(f"/v1/stock/{SLOW}", headers=h).json()
    assert after["total_available"] == 0
    r = client.post("/v1/allocations", json=order("c", (SLOW, 1)), headers=h)
    assert r.status_code == 409
    problem = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert problem["type"].endswith("/not-available") and problem["status"] == 409
    assert problem["unfilled"][0]["gtin"] == SLOW


def test_expired_reservations_stop_counting(client: ApiClient, chain: Chain) -> None:
    h = auth(chain.keys["oms"])
    assert client.post("/v1/allocations", json=order("e", (SLOW, 9)), headers=h).status_code == 201
    with psycopg.connect(chain.dsn) as conn:
        conn.execute("UPDATE reservations SET expires_at = now() - interval '1 s'")
        conn.execute("UPDATE allocations SET expires_at = now() - interval '1 s'")
    assert client.get(f"/v1/stock/{SLOW}", headers=h).json()["total_available"] == 9
    with psycopg.connect(chain.dsn) as conn:
        rows = conn.execute("SELECT count(*) FROM reservations").fetchone()
        assert rows is not None and rows[0] == 2  # 6 at s1 + 3 at s2
        assert conn.execute("SELECT shelfsight_expire_reservations()").fetchone() == rows
        assert conn.execute("SELECT status FROM allocations").fetchone() == ("expired",)
    assert client.post("/v1/allocations", json=order("e2", (SLOW, 9)), headers=h).status_code == 201


def test_bad_input_is_422_with_field_paths(client: ApiClient, chain: Chain) -> None:
    h = auth(chain.keys["oms"])
    bad = order("x", (SLOW[:-1] + "0", 1))
    bad["lines"].append({"gtin": FAST, "qty": 0})  # type: ignore[attr-defined]
    r = client.post("/v1/allocations", json=bad, headers=h)
    assert r.status_code == 422
    p = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    fields = {e["field"]: e["reason"] for e in p["errors"]}
    assert "lines[0].gtin" in fields and "check digit" in fields["lines[0].gtin"]
    assert "lines[1].qty" in fields
    assert {"type", "title", "status", "detail"} <= p.keys()


def test_unknown_gtin_and_shop_are_clear_problems(client: ApiClient, chain: Chain) -> None:
    h = auth(chain.keys["oms"])
    r = client.post("/v1/allocations", json=order("u", (UNKNOWN, 1)), headers=h)
    assert r.status_code == 422
    assert r.json()["type"].endswith("/unknown-gtin")
    assert r.json()["errors"][0]["field"] == "lines[0].gtin"
    o = order("u2", (SLOW, 1))
    o["collect_shop"] = "nowhere"
    r = client.post("/v1/allocations", json=o, headers=h)
    assert r.status_code == 422 and r.json()["type"].endswith("/unknown-node")
    assert client.get(f"/v1/stock/{UNKNOWN}", headers=h).status_code == 404
    assert client.get("/v1/shops/nowhere/stock", headers=h).status_code == 404
    assert client.get("/v1/allocations/00000000-0000-0000-0000-000000000000", headers=h).status_code == 404
    assert _reserved(chain.dsn) == {}
    with psycopg.connect(chain.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM allocations").fetchone() == (0,)


def test_shop_stock_and_slow_movers(client: ApiClient, chain: Chain) -> None:
    h = auth(chain.keys["store:s1"])
    r = client.get("/v1/shops/s1/stock", headers=h)
    assert r.status_code == 200
    zones = {(z["gtin"], z["zone"]): z["units"] for z in r.json()["zones"]}
    assert zones[(SLOW, "floor")] + zones[(SLOW, "backroom")] == 6
    assert all(z["age_s"] >= 0 for z in r.json()["zones"])
    slow = client.get("/v1/shops/s1/slow-movers", headers=h).json()["items"]
    first = slow[0]
    assert first["gtin"] == SLOW and first["at_risk"] is True
    assert first["days_of_cover"] > first["days_to_markdown"]
    fast = next(x for x in slow if x["gtin"] == FAST)
    assert fast["at_risk"] is False


def test_health_ready_metrics(client: ApiClient, chain: Chain) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    client.post("/v1/allocations?dry_run=true", json=order("m", (SLOW, 1)),
                headers=auth(chain.keys["oms"]))
    text = client.get("/metrics").text
    assert 'shelfsight_allocations_total{outcome="dry_run"} 1.0' in text
    assert "shelfsight_allocation_seconds_bucket" in text


def test_background_sweep_marks_lapsed_reservations(chain: Chain) -> None:


    app = create_app(api_settings(chain.dsn), sweep_interval_s=0.1)
    with ApiClient(app) as c:
        r = c.post("/v1/allocations", json=order("sw", (SLOW, 1)), headers=auth(chain.keys["oms"]))
        assert r.status_code == 201
        with psycopg.connect(chain.dsn) as conn:
            conn.execute("UPDATE reservations SET expires_at = now() - interval '1 s'")
            conn.execute("UPDATE allocations SET expires_at = now() - interval '1 s'")
        deadline = time.monotonic() + 20
        status = None
        while time.monotonic() < deadline:
            status = c.get(f"/v1/allocations/{r.json()['allocation_id']}",
                           headers=auth(chain.keys["oms"])).json()["status"]
            if status == "expired":
                break
            time.sleep(0.05)
        assert status == "expired"
