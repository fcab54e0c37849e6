"""Outages mid-stream lose and duplicate nothing: PostgreSQL stopped and restarted, network cut.

A producer keeps filling the outbox while `drain` writes it; the fault hits while batches are in
flight. After recovery every record put into the outbox is stored exactly once (row count and
the sum of read_count match what was produced).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from gateway.config import SinkConfig
from gateway.outbox import Outbox
from gateway.records import ReadSummaryRow
from gateway.sink import DrainResult, Sink, drain
from shelfsight.testing.proxy import TcpProxy
from shelfsight.testing.servers import PgHandle

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
FAST_RETRY = SinkConfig(batch_rows=400, retry_initial_s=0.05, retry_max_s=0.5)


def chunk(k: int, n: int = 200) -> list[ReadSummaryRow]:
    return [
        ReadSummaryRow("s1", "r1", 1, (k * n + i).to_bytes(12, "big"),
                       T0 + timedelta(seconds=k), T0, T0, 1 + (k * n + i) % 5, -50.0)
        for i in range(n)
    ]


class Stream:
    """A producer thread putting chunks into the outbox and a drain thread writing them."""

    def __init__(self, box: Outbox, sink: Sink) -> None:
        self.box = box
        self.sink = sink
        self.produced: list[ReadSummaryRow] = []
        self.stop_producing = threading.Event()
        self.stop_draining = threading.Event()
        self.result: list[DrainResult] = []
        self._producer = threading.Thread(target=self._produce, daemon=True)
        self._drainer = threading.Thread(
            target=lambda: self.result.append(drain(box, sink, self.stop_draining)), daemon=True
        )

    def _produce(self) -> None:
        k = 0
        while not self.stop_producing.is_set():
            rows = chunk(k)
            assert self.box.put(rows).stored == len(rows)
            self.produced.extend(rows)
            k += 1
            self.stop_producing.wait(0.01)

    def start(self) -> None:
        self._producer.start()
        self._drainer.start()

    def wait_committed(self, at_least: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while self.box.counters().committed < at_least:
            assert time.monotonic() < deadline, "the sink made no progress"
            time.sleep(0.02)

    def finish(self, timeout: float = 60.0) -> DrainResult:
        self.stop_producing.set()
        self._producer.join(10)
        deadline = time.monotonic() + timeout
        while self.box.depth() > 0:
            assert time.monotonic() < deadline, f"outbox still holds {self.box.depth()} rows"
            time.sleep(0.05)
        self.stop_draining.set()
        self._drainer.join(10)
        return self.result[0]


def assert_stored_exactly_once(dsn: str, produced: list[ReadSummaryRow]) -> None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT epc), sum(read_count) FROM tag_reads"
        ).fetchone()
    assert row is not None
    assert row[0] == row[1] == len(produced)
    assert row[2] == sum(r.read_count for r in produced)


@contextmanager
def streaming(dsn: str, tmp_path: Path) -> Iterator[Stream]:
    with Outbox(tmp_path / "o.sqlite", max_rows=1_000_000) as box, Sink(dsn, "s1", FAST_RETRY) as sink:
        stream = Stream(box, sink)
        stream.start()
        try:
            yield stream
        finally:
            stream.stop_producing.set()
            stream.stop_draining.set()


def _postgres_outage(pg: PgHandle, dsn: str, tmp_path: Path, outage_s: float) -> None:
    if pg.server is None:
        pytest.skip("external PostgreSQL (SHELFSIGHT_TEST_DSN): the test cannot stop it")
    with streaming(dsn, tmp_path) as stream:
        stream.wait_committed(2000)
        pg.server.stop()  # fast shutdown: in-flight transactions are aborted (57P01)
        try:
            time.sleep(outage_s)
            depth_during = stream.box.depth()
        finally:
            pg.server.start()
        stream.wait_committed(stream.box.counters().committed + 1)
        result = stream.finish()
    assert depth_during > 0  # the outbox buffered during the outage
    assert result.retries > 0
    assert_stored_exactly_once(dsn, stream.produced)


def test_postgres_stopped_mid_stream_loses_and_duplicates_nothing(
    pg: PgHandle, pg_migrated_dsn: str, tmp_path: Path
) -> None:
    _postgres_outage(pg, pg_migrated_dsn, tmp_path, outage_s=2.0)


@pytest.mark.slow
def test_postgres_down_30s_loses_and_duplicates_nothing(
    pg: PgHandle, pg_migrated_dsn: str, tmp_path: Path
) -> None:
    _postgres_outage(pg, pg_migrated_dsn, tmp_path, outage_s=30.0)


def test_network_cut_mid_stream_loses_and_duplicates_nothing(
    pg_migrated_dsn: str, tmp_path: Path, tcp_proxy: Callable[[str, int], TcpProxy]
) -> None:
    info = psycopg.conninfo.conninfo_to_dict(pg_migrated_dsn)
    proxy = tcp_proxy(str(info.get("host", "127.0.0.1")), int(str(info.get("port", 5432))))
    via = psycopg.conninfo.make_conninfo(pg_migrated_dsn, host=proxy.host, port=proxy.port)
    with streaming(via, tmp_path) as stream:
        for _ in range(3):  # three cuts, each while batches are flowing
            stream.wait_committed(stream.box.counters().committed + 1000)
            proxy.cut()
            time.sleep(0.5)
            proxy.restore()
        result = stream.finish()
    assert result.retries > 0
    assert_stored_exactly_once(pg_migrated_dsn, stream.produced)
