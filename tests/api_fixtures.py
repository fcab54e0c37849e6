"""Helpers of the API tests: a seeded chain, API keys per scope, an in-process client.

`tests/conftest.py` serves `make_chain` / `open_client` as the `chain` and `client` fixtures
(imported inside the fixtures: importing fixture functions from this module into test modules
trips pytest's assertion-rewrite warning, an error under filterwarnings); a module overrides
them where it needs a different chain or client.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Coroutine, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import httpx
import psycopg
from fastapi import FastAPI

from allocator.api.app import create_app
from allocator.api.auth import new_key
from readers.epc import check_digit, encode_sgtin
from shelfsight.settings import ApiSettings, load_settings


def gtin(body13: str) -> str:
    return body13 + check_digit(body13)


# Two products: SLOW (markdown soon, no sales: cheap to take) and FAST (sells daily).
SLOW = gtin("0950600013435")
FAST = gtin("0950600013436")
# Only 10 units chain-wide, for the concurrency proof: in clearance (marked down 20 days ago,
# 8 selling days left) so that the policy wants to ship every unit rather than protect it.
THIN = gtin("0950600013437")
UNKNOWN = gtin("0950600099999")


@dataclasses.dataclass(frozen=True)
class Chain:
    dsn: str
    epcs: dict[tuple[str, str], list[str]]  # (shop, gtin) -> EPC hex of items present
    keys: dict[str, str]  # scope -> token


def epc_hex(g: str, serial: int) -> str:
    return encode_sgtin(g, str(serial)).hex().upper()


def seed_chain(dsn: str, *, thin_units: int = 10) -> dict[tuple[str, str], list[str]]:
    """Shops s1 (Berlin), s2 (Hamburg), warehouse w1 (Kassel); items per shop x GTIN."""
    now = datetime.now(UTC)
    epcs: dict[tuple[str, str], list[str]] = {}
    serial = 1000
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO stores VALUES ('s1', 'Berlin', 'shop', 52.52, 13.40, 500),"
            " ('s2', 'Hamburg', 'shop', 53.55, 9.99, 500),"
            " ('w1', 'Kassel DC', 'warehouse', 51.31, 9.48, 100000)"
        )
        conn.execute(
            "INSERT INTO products (gtin, sku, name, price, cost, markdown_date, markdown_price,"
            " salvage_value) VALUES (%s, 'SL', 'slow jacket', 80, 30, %s, 40, 5),"
            " (%s, 'FA', 'fast tee', 20, 6, NULL, NULL, 1),"
            " (%s, 'TH', 'thin cap', 25, 8, %s, 9, 1)",
            (SLOW, date.today() + timedelta(days=10), FAST, THIN, date.today() - timedelta(days=20)),
        )
        stock = {("s1", SLOW): 6, ("s2", SLOW): 3, ("s1", FAST): 2, ("s2", FAST): 5}
        thin_split = {"s1": thin_units // 2, "s2": thin_units - thin_units // 2}
        for shop, n in thin_split.items():
            stock[(shop, THIN)] = n
        for (shop, g), n in stock.items():
            for i in range(n):
                serial += 1
                hexa = epc_hex(g, serial)
                epcs.setdefault((shop, g), []).append(hexa)
                zone = "floor" if i % 2 == 0 else "backroom"
                conn.execute(
                    "INSERT INTO tag_state (epc, store_id, gtin, serial, zone, status, last_seen,"
                    " read_rate, confidence, last_seq, updated_at)"
                    " VALUES (%s, %s, %s, %s, %s, 'present', %s, 0.8, 0.95, 1, %s)",
                    (bytes.fromhex(hexa), shop, g, str(serial), zone, now, now),
                )
                conn.execute(
                    "INSERT INTO tag_events (store_id, epc, seq, time, kind, zone, gtin, serial)"
                    " VALUES (%s, %s, 1, %s, 'arrived', %s, %s, %s)",
                    (shop, bytes.fromhex(hexa), now - timedelta(minutes=5), zone, g, str(serial)),
                )
        conn.execute(
            "INSERT INTO warehouse_stock (warehouse_id, gtin, on_hand) VALUES ('w1', %s, 50),"
            " ('w1', %s, 0), ('w1', %s, 0)",
            (FAST, SLOW, THIN),
        )
        for d in range(14):
            day = datetime.combine(date.today() - timedelta(days=d), datetime.min.time(), UTC)
            conn.execute(
                "INSERT INTO sales_daily (store_id, gtin, day, units) VALUES ('s1', %s, %s, 3),"
                " ('s2', %s, %s, 2)",
                (FAST, day, FAST, day),
            )
    return epcs


SCOPES = ("admin", "oms", "store:s1", "store:s2")


def insert_keys(dsn: str, scopes: tuple[str, ...] = SCOPES) -> dict[str, str]:
    out: dict[str, str] = {}
    with psycopg.connect(dsn) as conn:
        for scope in scopes:
            key = new_key()
            conn.execute(
                "INSERT INTO api_keys (key_id, secret_hash, scopes) VALUES (%s, %s, %s)",
                (key.key_id, key.secret_hash, [scope]),
            )
            out[scope] = key.token
    return out


def api_settings(dsn: str, **env: str) -> ApiSettings:
    return load_settings(
        ApiSettings, None, database={"dsn": dsn, "pool_min": 1, "pool_max": 4}, **env
    )


def make_chain(dsn: str) -> Chain:
    """Seed a migrated database (see `seed_chain`) and give it one key per scope."""
    return Chain(dsn, seed_chain(dsn), insert_keys(dsn))


T = TypeVar("T")


class ApiClient:
    """A synchronous client of an in-process app: its own event loop thread runs the lifespan.

    (starlette's TestClient now warns about httpx; this is the same idea in a few lines.)
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._stop: asyncio.Event | None = None
        self._done: asyncio.Future[None] | None = None

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=60)

    async def _lifespan(self, started: asyncio.Event) -> None:
        self._stop = asyncio.Event()
        async with self.app.router.lifespan_context(self.app):
            started.set()
            await self._stop.wait()

    def __enter__(self) -> ApiClient:
        self._thread.start()

        async def start() -> None:
            started = asyncio.Event()
            self._task = asyncio.ensure_future(self._lifespan(started))
            self.http = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.app), base_url="http://api"
            )
            await started.wait()

        self._run(start())
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            await self.http.aclose()
            assert self._stop is not None
            self._stop.set()
            await self._task

        self._run(stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        return self._run(self.http.request(method, url, **kw))

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)


def open_client(chain: Chain) -> Iterator[ApiClient]:
    """For a test module's `client` fixture: the app on the chain's database, lifespan run."""
    with ApiClient(create_app(api_settings(chain.dsn))) as c:
        yield c


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def order(order_id: str, *lines: tuple[str, int], lat: float = 52.5, lon: float = 13.4) -> dict[str, object]:
    return {
        "order_id": order_id,
        "lines": [{"gtin": g, "qty": q} for g, q in lines],
        "ship_lat": lat,
        "ship_lon": lon,
    }
