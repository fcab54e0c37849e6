"""The pipeline on its own: real outbox (SQLite), real cleaner, a hand-driven clock."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from gateway.config import CleaningConfig, FullPolicy
from gateway.metrics import GatewayMetrics
from gateway.outbox import Outbox
from gateway.pipeline import Pipeline, Work
from gateway.presence import Cleaner
from gateway.quarantine import QuarantineLog
from gateway.record_builder import EpcIdentities
from gateway.records import ReadSummaryRow, TagEventRow, TagStateRow
from readers.batch import ReadBatch
from readers.driver import InputError, InputErrorReason
from readers.epc import encode_sgtin
from shelfsight.settings import ZoneKind

NS = 1_000_000_000
T0 = 1_700_000_000 * NS
ZONES = {"floor": ZoneKind.SALES, "backroom": ZoneKind.STORAGE, "exit": ZoneKind.EXIT}


def epc(serial: int) -> bytes:
    return encode_sgtin("00614141123452", str(serial))


class Clock:
    def __init__(self, t: int) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t


def make(tmp_path: Path, max_rows: int = 100_000, policy: FullPolicy = FullPolicy.BACKPRESSURE,
         cycle_s: float = 1.0) -> tuple[Pipeline, Outbox, Clock]:
    outbox = Outbox(tmp_path / "outbox.sqlite", max_rows, policy)
    cleaner = Cleaner(CleaningConfig(), {("r1", 1): "floor", ("r1", 2): "exit"}, ZONES)
    clock = Clock(T0)
    p = Pipeline("shop-1", outbox, cleaner, GatewayMetrics("shop-1"), cycle_s=cycle_s,
                 clock=clock, put_timeout_s=0.05,
                 quarantine=QuarantineLog(tmp_path / "q.sqlite"))
    return p, outbox, clock


def batch(times_s: list[float], serials: list[int], antenna: int = 1, reader: str = "r1") -> ReadBatch:
    return ReadBatch.from_columns(
        reader, [T0 + int(t * NS) for t in times_s], [antenna] * len(times_s),
        [epc(s) for s in serials], [-50.0] * len(times_s),
    )


def all_records(outbox: Outbox) -> list[object]:
    return list(outbox.peek(1_000_000).records)


def read_sum(outbox: Outbox) -> int:
    return sum(r.read_count for r in all_records(outbox) if isinstance(r, ReadSummaryRow))


def test_reads_collapse_into_cycles_and_acks_wait_for_the_cycle(tmp_path: Path) -> None:
    p, outbox, clock = make(tmp_path)
    acked: list[int] = []
    p.process(Work("r1", (batch([0.1, 0.2, 0.3], [1, 1, 2]),), ack=lambda: acked.append(1),
                   redeliverable=True))
    p.process(Work("r1", (batch([0.6, 0.7], [1, 2]),), ack=lambda: acked.append(2),
                   redeliverable=True))
    clock.t = T0 + int(0.8 * NS)
    p.flush()
    assert acked == []  # cycle [0, 1) is still open: nothing of it is durable
    assert read_sum(outbox) == 0
    # the next message's event time closes cycle 0 (1.0 + lateness 0.5 <= 1.6)
    p.process(Work("r1", (batch([1.6], [3]),), ack=lambda: acked.append(3), redeliverable=True))
    p.flush()
    assert acked == [1, 2]
    rows = [r for r in all_records(outbox) if isinstance(r, ReadSummaryRow)]
    assert sorted((r.epc, r.read_count) for r in rows) == [(epc(1), 3), (epc(2), 2)]
    assert {r.cycle_start.timestamp() for r in rows} == {T0 / NS}
    # the arrivals are events with GTIN + serial, and state rows follow them
    events = [r for r in all_records(outbox) if isinstance(r, TagEventRow)]
    assert {(e.kind, e.serial) for e in events} >= {("arrived", "1"), ("arrived", "2")}
    assert all(e.gtin == "00614141123452" for e in events)
    states = [r for r in all_records(outbox) if isinstance(r, TagStateRow)]
    assert {s.epc for s in states} >= {epc(1), epc(2)}


def test_shutdown_flushes_serial_reads_but_leaves_open_mqtt_cycles_unacked(tmp_path: Path) -> None:
    p, outbox, _clock = make(tmp_path)
    acked: list[str] = []
    p.process(Work("r1", (batch([0.1, 0.2], [1, 2]),), ack=lambda: acked.append("m"),
                   redeliverable=True))
    p.process(Work("r2", (batch([0.1, 0.3, 0.4], [5, 5, 6], reader="r2"),),
                   ack=lambda: acked.append("s")))
    p.flush(shutdown=True)
    assert acked == []  # FIFO: the MQTT input ahead of it is still open
    rows = [r for r in all_records(outbox) if isinstance(r, ReadSummaryRow)]
    assert sum(r.read_count for r in rows) == 3 and {r.reader_id for r in rows} == {"r2"}


def test_bad_epcs_are_kept_raw_and_counted_by_reason(tmp_path: Path) -> None:
    p, outbox, clock = make(tmp_path, cycle_s=0)
    odd = bytes.fromhex("E2801160600002054A3C12AB")  # TID prefix, not an EPC identity
    b = ReadBatch.from_columns("r1", [T0, T0 + 1, T0 + 2], [1, 1, 1], [odd, odd, epc(7)],
                               [-40.0] * 3)
    p.process(Work("r1", (b,)))
    clock.t = T0 + 5 * NS
    p.flush()
    assert p.counters.bad_epc == {"tid_prefix": 2}
    rows = [r for r in all_records(outbox) if isinstance(r, ReadSummaryRow)]
    assert sum(r.read_count for r in rows if r.epc == odd) == 2  # cycle 0: one row per read
    assert p.metrics.value("shelfsight_bad_epc_reads_total", reason="tid_prefix") == 2


def test_folded_read_counts_of_one_tag_in_a_cycle_add_up(tmp_path: Path) -> None:
    """Two reports of one tag in one cycle, standing for 3 and 4 device reads: one row of 7."""
    p, outbox, clock = make(tmp_path)
    b = ReadBatch.from_columns("r1", [T0 + NS // 10, T0 + NS // 2], [1, 1], [epc(1), epc(1)],
                               [-50.0, -48.0], read_count=[3, 4])
    p.process(Work("r1", (b,)))
    odd = bytes.fromhex("E2801160600002054A3C12AB")
    p.process(Work("r1", (ReadBatch.from_columns("r1", [T0 + NS // 3], [1], [odd], [-40.0],
                                                 read_count=[5]),)))
    clock.t = T0 + 3 * NS
    p.flush(shutdown=True)
    rows = [r for r in all_records(outbox) if isinstance(r, ReadSummaryRow)]
    assert sorted((r.epc, r.read_count) for r in rows) == sorted([(epc(1), 7), (odd, 5)])
    assert p.counters.reads == 12 == read_sum(outbox)
    assert p.counters.bad_epc == {"tid_prefix": 5}
    assert p.metrics.value("shelfsight_reads_ingested_total", reader="r1") == 12


def test_unparseable_input_is_acked_only_after_its_quarantine_entry(tmp_path: Path) -> None:
    p, _outbox, _clock = make(tmp_path)
    acked: list[int] = []
    err = InputError(InputErrorReason.MALFORMED_JSON, "x")
    p.process(Work("r1", errors=(err,), ack=lambda: acked.append(1), redeliverable=True,
                   payload=b"{not json"))
    assert p.quarantine is not None
    assert QuarantineLog(tmp_path / "q.sqlite").totals() == {("r1", "malformed_json"): 1}
    p.flush()
    assert acked == [1]
    assert p.metrics.value(
        "shelfsight_quarantined_inputs_total", reader="r1", reason="malformed_json") == 1


def test_drop_policy_counts_exactly_the_reads_it_dropped(tmp_path: Path) -> None:
    p, outbox, clock = make(tmp_path, max_rows=5, policy=FullPolicy.DROP, cycle_s=0)
    rng = np.random.default_rng(3)
    total = 0
    for k in range(20):
        serials = rng.integers(0, 4, size=3).tolist()
        p.process(Work("r1", (batch([k + 0.1, k + 0.2, k + 0.3], serials),)))
        total += 3
    clock.t = T0 + 100 * NS
    p.flush()
    assert p.counters.records_dropped > 0
    assert read_sum(outbox) + p.counters.reads_dropped == total


def test_backpressure_blocks_the_flush_and_the_queue(tmp_path: Path) -> None:
    p, outbox, clock = make(tmp_path, max_rows=2, cycle_s=0)
    p.process(Work("r1", (batch([0.1, 0.2, 0.3], [1, 2, 3]),)))
    clock.t = T0 + 10 * NS
    p.flush()  # an oversize put is let into an empty outbox
    depth = outbox.depth()
    acked: list[int] = []
    p.process(Work("r1", (batch([1.1], [4]),), ack=lambda: acked.append(1), redeliverable=True))
    p._stopping.set()  # stop waiting for space after one timeout
    p.flush()
    assert acked == [] and outbox.depth() == depth  # nothing stored, nothing acked
    # the bounded queue refuses work once full (what makes serial `deliver` block)
    small = Pipeline("s", outbox, None, GatewayMetrics("s"), queue_size=1)
    assert small.submit(Work("r1"), timeout=0)
    assert not small.submit(Work("r1"), timeout=0.01)


def test_thread_drains_everything_at_stop(tmp_path: Path) -> None:
    p, outbox, _clock = make(tmp_path)
    p.clock = lambda: T0 + 3 * NS
    acked: list[int] = []
    p.start()
    def acker(k: int) -> Callable[[], None]:
        return lambda: acked.append(k)

    for k in range(10):
        assert p.submit(Work("r2", (batch([k * 0.1], [k % 3], reader="r2"),), ack=acker(k)))
    p.stop(drain=True)
    assert not p.alive
    assert acked == list(range(10))
    assert read_sum(outbox) == 10


@pytest.mark.parametrize("raw", [b"\x30", b"", bytes(12)])
def test_identities_never_raise(raw: bytes) -> None:
    ident = EpcIdentities().of(raw)
    assert ident.gtin is None and ident.reason


@pytest.mark.parametrize("capacity", [1_000_000, 3])
def test_bad_reads_counts_every_read_by_reason(capacity: int) -> None:
    ids = EpcIdentities(capacity=capacity)
    sscc = bytes.fromhex("311BA1B300CE0A6A83000000")  # a valid EPC that is not an SGTIN
    reads = [epc(1), b"\x30", sscc, epc(2), b"\x30", bytes(12), b"\x30", epc(1), sscc]
    for _ in range(3):  # again with everything cached (or, at capacity 3, evicted on the way)
        got = ids.bad_reads(reads)
        assert got["not_sgtin"] == 2
        assert sum(got.values()) == 6
        assert got == Counter(
            r for e in reads if (r := EpcIdentities().of(e).reason) is not None
        )


def test_state_rows_for_items_with_events_then_for_what_changed_at_refresh(tmp_path: Path) -> None:
    p, _outbox, clock = make(tmp_path)
    p.process(Work("r1", (batch([0.1, 0.2, 0.3], [1, 2, 3]),)))
    clock.t = T0 + 2 * NS
    p.flush()
    assert p.cleaner is not None
    b = p.builder
    # not due for a refresh: rows of the items named, in tag order, nothing else
    assert [r.epc for r in b.states(p.cleaner, {epc(3), epc(1)}, force=False)] == [epc(1), epc(3)]
    assert b.states(p.cleaner, {b"\x30" * 12}, force=False) == []  # unknown to the cleaner
    # a refresh: items whose (status, zone, last seen) did not change since their last row are skipped
    assert b.states(p.cleaner, set(), force=True) == []
    p.process(Work("r1", (batch([2.5], [2], antenna=2),)))  # item 2 read at the exit
    assert [r.epc for r in b.states(p.cleaner, set(), force=True)] == [epc(2)]
