"""Bid prices in live decisions: solved per GTIN in the background, then used; or switched off."""

from __future__ import annotations

import re
import time

from api_fixtures import SLOW, ApiClient, Chain, api_settings, auth, order

from allocator.api.app import create_app
from allocator.config import BidPriceConfig


def _counter(client: ApiClient, chain: Chain, name: str, outcome: str) -> float:
    text = client.get("/metrics", headers=auth(chain.keys["admin"])).text
    m = re.search(rf'^{name}_total{{outcome="{outcome}"}} (\S+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def _dry_run(client: ApiClient, chain: Chain, oid: str) -> dict[str, object]:
    r = client.post("/v1/allocations?dry_run=true", json=order(oid, (SLOW, 1)),
                    headers=auth(chain.keys["oms"]))
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_first_decision_goes_without_then_bid_prices_are_used(chain: Chain) -> None:
    with ApiClient(create_app(api_settings(chain.dsn))) as client:
        _dry_run(client, chain, "o-bid-1")
        assert _counter(client, chain, "shelfsight_bid_price_lookups", "miss") == 1
        deadline = time.monotonic() + 60  # the LP runs in a background thread
        while _counter(client, chain, "shelfsight_bid_price_gtins", "solved") < 1:
            assert time.monotonic() < deadline, "bid prices never solved"
            time.sleep(0.05)
        _dry_run(client, chain, "o-bid-2")
        assert _counter(client, chain, "shelfsight_bid_price_lookups", "hit") == 1
        assert _counter(client, chain, "shelfsight_bid_price_gtins", "failed") == 0


def test_bid_prices_can_be_switched_off(chain: Chain) -> None:
    settings = api_settings(chain.dsn).model_copy(
        update={"bid_prices": BidPriceConfig(enabled=False)})
    with ApiClient(create_app(settings)) as client:
        _dry_run(client, chain, "o-nobid")
        text = client.get("/metrics", headers=auth(chain.keys["admin"])).text
        assert 'shelfsight_bid_price_lookups_total{outcome="miss"}' not in text
        assert 'shelfsight_bid_price_lookups_total{outcome="hit"}' not in text
