"""The sink stores each row once, applies only newer states, dead-letters bad rows, rolls up sales."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from gateway.config import SinkConfig
from gateway.outbox import Outbox
from gateway.records import ReadSummaryRow, Record, TagEventRow, TagStateRow
from gateway.sink import Sink, SinkUnavailableError, drain, refresh_sales_daily
from gateway.sqlstate import ErrorClass, classify_sqlstate
from shelfsight.db import make_pool

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
GTIN = "00614141123452"


def reads(n: int, start: int = 0, store: str = "s1") -> list[ReadSummaryRow]:
    return [
        ReadSummaryRow(store, "r1", 1 + i % 4, (i + start).to_bytes(12, "big"),
                       T0 + timedelta(seconds=i // 100), T0, T0 + timedelta(milliseconds=5),
                       1 + (i + start) % 7, -60.0)
        for i in range(n)
    ]


def counts(dsn: str) -> tuple[int, int, int, int]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM tag_reads), (SELECT coalesce(sum(read_count), 0)"
            " FROM tag_reads), (SELECT count(*) FROM tag_events),"
            " (SELECT count(*) FROM dead_letters)"
        ).fetchone()
    assert row is not None
    return (int(row[0]), int(row[1]), int(row[2]), int(row[3]))


def test_same_batch_twice_stores_each_row_once(pg_migrated_dsn: str) -> None:
    batch: list[Record] = [*reads(500), *[
        TagEventRow("s1", i.to_bytes(12, "big"), i, T0, "arrived", "floor") for i in range(50)
    ]]
    sink = Sink(pg_migrated_dsn, "s1")
    first = sink.write(batch)
    second = sink.write(batch)
    sink.close()
    assert (first.reads_inserted, first.events_inserted) == (500, 50)
    assert (second.reads_inserted, second.events_inserted, second.duplicates) == (0, 0, 550)
    total = sum(r.read_count for r in batch if isinstance(r, ReadSummaryRow))
    assert counts(pg_migrated_dsn) == (500, total, 50, 0)


def test_duplicates_inside_one_batch_are_stored_once(pg_migrated_dsn: str) -> None:
    rows = reads(10)
    with Sink(pg_migrated_dsn, "s1") as sink:
        assert sink.write(rows + rows).reads_inserted == 10


def test_state_is_applied_only_when_newer(pg_migrated_dsn: str) -> None:
    epc = b"\x30" * 12

    def state(seq: int, status: str, store: str = "s1", at: datetime = T0) -> TagStateRow:
        return TagStateRow(epc, store, status, at, seq, at, gtin=GTIN, zone="floor")

    with Sink(pg_migrated_dsn, "s1") as sink:
        assert sink.write([state(5, "present")]).states_applied == 1
        assert sink.write([state(4, "sold")]).states_applied == 0  # older: ignored
        assert sink.write([state(5, "sold")]).states_applied == 0  # replay: ignored
        # two versions in one batch: the newest wins
        assert sink.write([state(7, "missing"), state(6, "present")]).states_applied == 1
        # another store, later: the item moved there (its sequence is that store's own)
        later = T0 + timedelta(hours=1)
        assert sink.write([state(1, "present", "s2", later)]).states_applied == 1
    with psycopg.connect(pg_migrated_dsn) as conn:
        assert conn.execute("SELECT store_id, status, last_seq FROM tag_state").fetchall() == [
            ("s2", "present", 1)
        ]


def test_bad_row_goes_to_dead_letters_and_the_rest_lands(pg_migrated_dsn: str) -> None:
    good = reads(300)
    events: list[Record] = [
        TagEventRow("s1", i.to_bytes(12, "big"), i, T0, "arrived") for i in range(100)
    ]
    events[37] = TagEventRow("s1", b"\x01", 37, T0, "teleported")  # violates the kind CHECK
    events[80] = TagEventRow("s1", b"\x02", 80, T0, "sold", gtin="123")  # violates the GTIN CHECK
    bad_read = ReadSummaryRow("s1", "r1", 1, b"\x03", T0, T0, T0, 0, None)  # read_count > 0
    huge = ReadSummaryRow("s1", "r1", 70_000, b"\x04", T0, T0, T0, 1, None)  # smallint overflow
    naive = ReadSummaryRow("s1", "r1", 1, b"\x05", T0.replace(tzinfo=None), T0, T0, 1, None)
    batch: list[Record] = [*good[:150], bad_read, huge, naive, *events, *good[150:]]
    with Sink(pg_migrated_dsn, "s1") as sink:
        result = sink.write(batch)
        assert (result.reads_inserted, result.events_inserted, result.dead_lettered) == (300, 98, 5)
        again = sink.write(batch)  # a replay adds no dead letter twice
        assert again.reads_inserted == again.events_inserted == 0
    stored = counts(pg_migrated_dsn)
    assert (stored[0], stored[2], stored[3]) == (300, 98, 5)
    with psycopg.connect(pg_migrated_dsn) as conn:
        rows = conn.execute(
            "SELECT target, sqlstate, payload->>'kind', payload->>'epc' FROM dead_letters"
            " ORDER BY payload->>'epc'"
        ).fetchall()
    assert rows == [
        ("tag_events", "23514", "teleported", "01"),
        ("tag_events", "23514", "sold", "02"),
        ("tag_reads", "23514", None, "03"),
        ("tag_reads", "22003", None, "04"),
        ("tag_reads", None, None, "05"),
    ]


def test_sold_events_roll_up_into_sales_daily(pg_migrated_dsn: str) -> None:
    sold = [
        TagEventRow("s1", i.to_bytes(12, "big"), i, T0 + timedelta(hours=20 * (i % 2)), "sold",
                    "exit", "floor", GTIN, str(i))
        for i in range(6)
    ]
    with Sink(pg_migrated_dsn, "s1") as sink:
        sink.write(sold[:4])
        sink.write(sold)  # overlapping replay: counts are recomputed, not added
    with psycopg.connect(pg_migrated_dsn) as conn:
        rows = conn.execute(
            "SELECT store_id, gtin, day, units FROM sales_daily ORDER BY day"
        ).fetchall()
        day0 = T0.replace(hour=0)
        assert rows == [("s1", GTIN, day0, 3), ("s1", GTIN, day0 + timedelta(days=1), 3)]
        assert refresh_sales_daily(conn, T0, "s1") == 0  # nothing changed


def test_drain_empties_the_outbox_through_a_pool(pg_migrated_dsn: str, tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite", max_rows=100_000) as box:
        for k in range(5):
            box.put(reads(1000, start=k * 1000))
        pool = make_pool(pg_migrated_dsn, max_size=2)
        pool.open(wait=True)
        try:
            sink = Sink(pool, "s1", SinkConfig(batch_rows=1500))
            result = drain(box, sink, threading.Event(), until_empty=True)
        finally:
            pool.close()
        assert box.depth() == 0
    assert (result.rows, result.inserted, result.batches) == (5000, 5000, 4)
    assert counts(pg_migrated_dsn)[0] == 5000


def test_missing_schema_is_retried_not_dead_lettered(pg_dsn: str) -> None:
    with Sink(pg_dsn, "s1") as sink, pytest.raises(SinkUnavailableError) as err:
        sink.write(reads(3))
    assert err.value.error_class is ErrorClass.CONFIG
    assert err.value.sqlstate == "42P01"


@pytest.mark.parametrize(
    ("state", "kind"),
    [("08006", "retryable"), ("40001", "retryable"), ("40P01", "retryable"),
     ("53100", "retryable"), ("57P01", "retryable"), ("57P03", "retryable"),
     ("23505", "permanent"), ("22003", "permanent"), ("42P01", "config"), (None, "permanent")],
)
def test_sqlstate_classes(state: str | None, kind: str) -> None:
    assert classify_sqlstate(state) == kind


def test_zebra_reads_count_reaches_tag_reads(pg_migrated_dsn: str, tmp_path: Path) -> None:
    """End to end: a Zebra INVENTORY event with "reads":5 (SEEN_COUNT) is five reads in
    tag_reads.read_count, and two reports of one tag in one cycle add up (3 + 4 = 7)."""
    from gateway.metrics import GatewayMetrics
    from gateway.pipeline import Pipeline, Work
    from readers.config import ReaderConfig
    from readers.drivers import zebra

    def event(num: int, id_hex: str, ms: int, reads: int) -> str:
        return (f'{{"data":{{"antenna":1,"eventNum":{num},"format":"epc","idHex":"{id_hex}",'
                f'"peakRssi":-54,"reads":{reads}}},'
                f'"timestamp":"2023-02-24T10:14:42.{ms:03d}+0000","type":"INVENTORY"}}')

    a, b = "ad99160040aac99525000025", "e28011700000020d2a412182"
    payload = f"[{event(1, a, 100, 5)},{event(2, b, 200, 3)},{event(3, b, 900, 4)}]".encode()
    result = zebra.factory(ReaderConfig(id="fx1", driver="zebra_iotc")).decode(
        "zebra/fx1/data", payload, 0
    )
    assert result.errors == []
    outbox = Outbox(tmp_path / "outbox.sqlite", 10_000)
    pipeline = Pipeline("s1", outbox, None, GatewayMetrics("s1"), cycle_s=1.0)
    pipeline.process(Work("fx1", result.batches))
    pipeline.flush(shutdown=True)  # a final (non-redeliverable) input: every cycle flushed
    with Sink(pg_migrated_dsn, "s1") as sink:
        drained = drain(outbox, sink, threading.Event(), until_empty=True)
    assert drained.dead_lettered == 0 and outbox.depth() == 0
    with psycopg.connect(pg_migrated_dsn) as conn:
        rows = conn.execute(
            "SELECT reader_id, antenna, encode(epc, 'hex'), read_count FROM tag_reads ORDER BY 3"
        ).fetchall()
    assert rows == [("fx1", 1, a, 5), ("fx1", 1, b, 7)]
    assert pipeline.counters.reads == 12
