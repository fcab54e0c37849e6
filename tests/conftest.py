"""Session fixtures: a real PostgreSQL and a real MQTT broker, started here on free ports."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from shelfsight.embedded.broker import Broker, start_broker
from shelfsight.testing.proxy import TcpProxy
from shelfsight.testing.servers import MqttHandle, PgHandle, session_mqtt, session_postgres

if TYPE_CHECKING:
    from api_fixtures import ApiClient, Chain


@pytest.fixture(scope="session")
def pg() -> Iterator[PgHandle]:
    handle = session_postgres()
    yield handle
    handle.close()


@pytest.fixture
def pg_dsn(pg: PgHandle) -> str:
    """A fresh, empty database."""
    return pg.create_database()


@pytest.fixture
def pg_migrated_dsn(pg: PgHandle) -> str:
    """A fresh database with the whole schema migrated."""
    return pg.migrated_database()


@pytest.fixture
def chain(pg_migrated_dsn: str) -> Chain:
    """The API tests' seeded chain (`api_fixtures.make_chain`); a module may override it."""
    from api_fixtures import make_chain

    return make_chain(pg_migrated_dsn)


@pytest.fixture
def client(chain: Chain) -> Iterator[ApiClient]:
    """An in-process API client on `chain` (`api_fixtures.open_client`)."""
    from api_fixtures import open_client

    yield from open_client(chain)


@pytest.fixture(scope="session")
def mqtt_broker() -> Iterator[MqttHandle]:
    handle = session_mqtt()
    yield handle
    handle.close()


@pytest.fixture
def own_broker() -> Iterator[Callable[..., Broker]]:
    """Start brokers of a test's own (to restart them); all closed at the end."""
    started: list[Broker] = []

    def make(prefer: str | None = None, port: int | None = None) -> Broker:
        broker = start_broker(prefer=prefer, port=port)
        started.append(broker)
        return broker

    yield make
    for broker in started:
        broker.close()


@pytest.fixture
def tcp_proxy() -> Iterator[Callable[[str, int], TcpProxy]]:
    proxies: list[TcpProxy] = []

    def make(host: str, port: int) -> TcpProxy:
        proxy = TcpProxy(host, port)
        proxy.start()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ts_items = [item for item in items if "timescale" in item.keywords]
    if ts_items:
        reason = _timescale_skip_reason()
        if reason:
            for item in ts_items:
                item.add_marker(pytest.mark.skip(reason=reason))
    if not (shutil.which("chromium") or os.path.exists("/usr/bin/chromium")):
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(
                    pytest.mark.skip(reason="no Chromium installed (apt-get install chromium)")
                )


def _timescale_skip_reason() -> str | None:
    dsn = os.environ.get("SHELFSIGHT_TEST_DSN")
    if not dsn:
        return "TimescaleDB tests need SHELFSIGHT_TEST_DSN pointing at a server with the extension"
    try:
        return None if PgHandle(admin_dsn=dsn).timescale_available() else (
            "the server at SHELFSIGHT_TEST_DSN has no timescaledb extension"
        )
    except Exception as exc:  # the reason is printed, the run goes on
        return f"SHELFSIGHT_TEST_DSN unreachable: {exc}"
