"""Auth matrix: every route x (no key, bad key, each scope) -> 401 / 403 / allowed."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from api_fixtures import SLOW, THIN, ApiClient, Chain, auth, order

from allocator.api.auth import new_key


@dataclass(frozen=True)
class Case:
    method: str
    template: str  # the route's path template
    path: str
    allowed: frozenset[str]  # scopes that pass (admin always does)
    json: object = None


def _cases(alloc: str, shop: str, epc: str) -> list[Case]:
    other = "s2" if shop == "s1" else "s1"
    open_ = frozenset({"none", "bad", "admin", "oms", "store:s1", "store:s2"})
    return [
        Case("POST", "/v1/allocations", "/v1/allocations?dry_run=true", frozenset({"admin", "oms"}),
             order("auth", (SLOW, 1))),
        Case("GET", "/v1/allocations/{allocation_id}", f"/v1/allocations/{alloc}",
             frozenset({"admin", "oms", f"store:{shop}"})),
        Case("POST", "/v1/allocations/{allocation_id}/picks", f"/v1/allocations/{alloc}/picks",
             frozenset({"admin", f"store:{shop}"}), {"node_id": shop, "epcs": [epc]}),
        Case("GET", "/v1/stock/{gtin}", f"/v1/stock/{SLOW}", frozenset({"admin", "oms"})),
        Case("GET", "/v1/shops/{shop_id}/stock", f"/v1/shops/{other}/stock",
             frozenset({"admin", "oms", f"store:{other}"})),
        Case("GET", "/v1/shops/{shop_id}/slow-movers", f"/v1/shops/{shop}/slow-movers",
             frozenset({"admin", "oms", f"store:{shop}"})),
        Case("GET", "/v1/shops/{shop_id}/epcis", f"/v1/shops/{shop}/epcis",
             frozenset({"admin", "oms", f"store:{shop}"})),
        *(
            Case("GET", f"/v1/dashboard/{name}", f"/v1/dashboard/{name}", frozenset({"admin", "oms"}))
            for name in ("summary", "stock", "slow-movers", "decisions", "products")
        ),
        Case("GET", "/healthz", "/healthz", open_),
        Case("GET", "/readyz", "/readyz", open_),
        Case("GET", "/metrics", "/metrics", open_),
        # Last: it changes the allocation's state.
        Case("POST", "/v1/allocations/{allocation_id}/cancel", f"/v1/allocations/{alloc}/cancel",
             frozenset({"admin", "oms"})),
    ]


def test_every_route_every_scope(client: ApiClient, chain: Chain) -> None:
    body = order("auth-matrix", (SLOW, 1))
    body["collect_shop"] = "s1"
    r = client.post("/v1/allocations", json=body, headers=auth(chain.keys["admin"]))
    assert r.status_code == 201, r.text
    alloc, shop = r.json()["allocation_id"], r.json()["reservations"][0]["node_id"]
    # A wrong-GTIN EPC: passes auth, then is refused as a pick (so the matrix changes nothing).
    epc = chain.epcs[(shop, THIN)][0] if (shop, THIN) in chain.epcs else chain.epcs[(shop, SLOW)][0]
    cases = _cases(alloc, shop, epc)

    paths = client.get("/openapi.json").json()["paths"]
    routes = {(m.upper(), p) for p, ops in paths.items() for m in ops}
    assert routes == {(c.method, c.template) for c in cases}, "a route is missing from the matrix"

    key_id = chain.keys["oms"].split("_")[1]
    callers = {
        "none": {},
        "bad": auth(f"ssk_{key_id}_{'x' * 43}"),  # a real key id with a wrong secret
        **{scope: auth(token) for scope, token in chain.keys.items()},
    }
    failures = []
    for case in cases:
        for who, headers in callers.items():
            r = client.request(case.method, case.path, headers=headers, json=case.json)
            if who in case.allowed:
                ok = r.status_code not in (401, 403) and r.status_code < 500
            elif who in ("none", "bad"):
                ok = r.status_code == 401 and r.json()["type"].endswith("/unauthorized")
            else:
                ok = r.status_code == 403 and r.json()["type"].endswith("/forbidden")
            if not ok:
                failures.append(f"{case.method} {case.path} as {who}: {r.status_code} {r.text[:120]}")
    assert failures == []


def test_key_forms_and_revocation(client: ApiClient, chain: Chain) -> None:
    assert client.get(f"/v1/stock/{SLOW}", headers={"X-API-Key": chain.keys["oms"]}).status_code == 200
    for token in ("garbage", "ssk_nothex_abc", chain.keys["oms"] + "x", ""):
        r = client.get(f"/v1/stock/{SLOW}", headers=auth(token))
        assert r.status_code == 401, token
        assert r.headers["www-authenticate"].startswith("Bearer")
    key = new_key()
    with psycopg.connect(chain.dsn) as conn:
        conn.execute(
            "INSERT INTO api_keys (key_id, secret_hash, scopes, revoked_at) VALUES (%s, %s, %s, now())",
            (key.key_id, key.secret_hash, ["admin"]),
        )
        stored = conn.execute("SELECT secret_hash FROM api_keys WHERE key_id = %s", (key.key_id,)).fetchone()
    assert stored is not None and key.token.split("_", 2)[2].encode() not in bytes(stored[0])
    assert client.get(f"/v1/stock/{SLOW}", headers=auth(key.token)).status_code == 401
