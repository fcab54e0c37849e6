"""A steady stream of online orders through the API, as an OMS would send them.

Every `interval_s` (jittered) one order of one or two lines, for GTINs that have stock
somewhere (`GET /v1/dashboard/products`), shipped to a random customer within ~12 km of the
chain's centre, is POSTed to `/v1/allocations` with an API key and an `Idempotency-Key`.
Outcomes are counted; nothing here touches the database directly.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

log = logging.getLogger(__name__)


@dataclass
class OrderFeeder:
    base_url: str
    api_key: str
    centre: tuple[float, float]
    interval_s: float = 2.5
    seed: int = 11
    outcomes: Counter[str] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="demo-orders", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        rng = random.Random(self.seed)
        headers = {"X-API-Key": self.api_key}
        n = 0
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=10.0) as client:
            while not self._stop.wait(self.interval_s * rng.uniform(0.6, 1.4)):
                try:
                    resp = client.get("/v1/dashboard/products")
                    stocked = [
                        p["gtin"] for p in resp.json().get("products", [])
                        if p["shop_units"] + p["warehouse_units"] > 0
                    ] if resp.status_code == 200 else []
                    if not stocked:
                        self.outcomes["no_stock_yet"] += 1
                        continue
                    n += 1
                    self.outcomes[self.place(client, rng, stocked, n)] += 1
                except httpx.HTTPError as exc:
                    self.outcomes["unreachable"] += 1
                    log.debug("order feeder: %s", exc)

    def place(self, client: httpx.Client, rng: random.Random, gtins: list[str], n: int) -> str:
        lines = [{"gtin": g, "qty": rng.choice((1, 1, 1, 2))}
                 for g in rng.sample(gtins, k=min(len(gtins), rng.choice((1, 1, 2))))]
        lat, lon = self.centre
        order = {
            "order_id": f"demo-{uuid.uuid4().hex[:8]}-{n}",
            "lines": lines,
            "ship_lat": round(lat + rng.uniform(-0.1, 0.1), 5),
            "ship_lon": round(lon + rng.uniform(-0.16, 0.16), 5),
            "service_level": "standard",
        }
        resp = client.post("/v1/allocations", json=order,
                           headers={"Idempotency-Key": f"demo-order-{order['order_id']}"})
        if resp.status_code == 201:
            return "reserved"
        if resp.status_code == 409:
            return "not_available"
        log.info("order %s: HTTP %d %s", order["order_id"], resp.status_code, resp.text[:200])
        return f"http_{resp.status_code}"
