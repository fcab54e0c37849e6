"""Presence cleaning: each transition and event kind on hand-built read streams."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gateway.config import CleaningConfig, CleaningMethod
from gateway.presence import Cleaner, EventKind, TagEvent, TagStatus
from gateway.presence.smurf import (
    SmurfPolicy,
    completeness_window,
    reads_in_window,
    transition_detected,
)
from readers.batch import ReadBatch
from readers.driver import InputError, InputErrorReason
from shelfsight.settings import ZoneKind

S = 1_000_000_000
T0 = 1_700_000_000 * S
ZONES = {
    "floor": ZoneKind.SALES,
    "backroom": ZoneKind.STORAGE,
    "fitting": ZoneKind.FITTING,
    "exit": ZoneKind.EXIT,
    "pos": ZoneKind.POS,
}
ANT = {"floor": 1, "backroom": 2, "fitting": 3, "exit": 4, "pos": 5}
ZMAP = {("r", a): z for z, a in ANT.items()}
A, B, C, D = (bytes([0x30, i]) + bytes(10) for i in range(1, 5))


def cleaner(**cfg: object) -> Cleaner:
    return Cleaner(CleaningConfig(**cfg), ZMAP, ZONES)


def read(t_s: float, zone: str, *epcs: bytes, rssi: float = -55.0) -> ReadBatch:
    t = T0 + round(t_s * S)
    return ReadBatch.from_columns(
        "r", [t] * len(epcs), [ANT[zone]] * len(epcs), list(epcs), [rssi] * len(epcs)
    )


def kinds(events: list[TagEvent]) -> list[EventKind]:
    return [e.kind for e in events]


def status(c: Cleaner, epc: bytes) -> tuple[TagStatus, str | None]:
    row = next(r for r in c.snapshot() if r.epc == epc)
    return row.status, row.zone


def test_first_read_is_an_arrival_in_the_antennas_zone() -> None:
    c = cleaner()
    ev = c.ingest(read(0.1, "floor", A))
    assert ev == [TagEvent(T0 + S // 10, A, EventKind.ARRIVED, "floor", None, 1)]
    assert status(c, A) == (TagStatus.PRESENT, "floor")
    assert c.ingest(read(0.3, "floor", A)) == []


def test_moved_only_after_the_holdoff() -> None:
    c = cleaner(moved_holdoff_s=3.0, rssi_half_life_s=5.0)
    events: list[TagEvent] = []
    for s in range(10):
        events += c.ingest(read(s + 0.1, "floor", A))
    # a brief excursion (the strongest reads elsewhere for less than the hold-off): no move
    for s in range(10, 12):
        events += c.ingest(read(s + 0.1, "backroom", A, rssi=-45.0))
    for s in range(12, 20):
        events += c.ingest(read(s + 0.1, "floor", A, rssi=-45.0))
    assert kinds(events) == [EventKind.ARRIVED]
    # a real move: backroom stays best; the move is reported hold-off after it became best
    became_best = None
    for s in range(20, 40):
        got = c.ingest(read(s + 0.1, "backroom", A, rssi=-45.0))
        if became_best is None and c.tags.pending[0] == c.zones.index["backroom"]:
            became_best = s
        if got:
            assert kinds(got) == [EventKind.MOVED]
            assert (got[0].zone, got[0].from_zone) == ("backroom", "floor")
            assert became_best is not None and s - became_best == 3
            break
    else:
        pytest.fail("no moved event")
    assert status(c, A) == (TagStatus.PRESENT, "backroom")


def test_missing_after_a_fixed_window_then_arrival_again() -> None:
    c = cleaner(method=CleaningMethod.FIXED, fixed_window_s=5.0)
    for s in range(11):
        c.ingest(read(s + 0.1, "floor", A))
    # last read in epoch 10; window 5 -> epoch 15 is the first without a read in the window;
    # it closes at 16 s and is evaluated once the watermark passes 16.5 s (lateness 0.5 s)
    assert c.tick(T0 + 16 * S + S // 4) == []
    ev = c.tick(T0 + 17 * S)
    assert kinds(ev) == [EventKind.MISSING]
    assert ev[0].time_ns == T0 + 16 * S and ev[0].zone == "floor"
    assert status(c, A) == (TagStatus.MISSING, "floor")
    ev = c.ingest(read(30.1, "floor", A))
    assert kinds(ev) == [EventKind.ARRIVED]


def test_departed_after_missing_for_departed_after_s() -> None:
    c = cleaner(method=CleaningMethod.FIXED, fixed_window_s=2.0, departed_after_s=60.0)
    c.ingest(read(0.1, "backroom", A))
    missing = c.tick(T0 + 10 * S)
    assert kinds(missing) == [EventKind.MISSING]
    assert c.tick(missing[0].time_ns + 59 * S) == []
    ev = c.tick(missing[0].time_ns + 61 * S)
    assert kinds(ev) == [EventKind.DEPARTED]
    assert ev[0].time_ns == missing[0].time_ns + 60 * S and ev[0].zone == "backroom"
    assert status(c, A)[0] is TagStatus.DEPARTED


@pytest.mark.parametrize("till", ["exit", "pos"])
def test_sold_when_last_seen_in_an_exit_or_pos_zone(till: str) -> None:
    c = cleaner(method=CleaningMethod.FIXED, fixed_window_s=3.0)
    for s in range(5):
        c.ingest(read(s + 0.1, "floor", A, B))
    # A is at the till/exit (read there strongly: its best zone); B stays on the floor, unread
    c.ingest(read(5.1, till, A, rssi=-45.0))
    c.ingest(read(6.1, till, A, rssi=-45.0))
    ev = c.tick(T0 + 20 * S)
    by_epc = {e.epc: e for e in ev}
    assert by_epc[A].kind is EventKind.SOLD
    assert by_epc[A].zone == till and by_epc[A].from_zone == "floor"
    assert by_epc[A].time_ns == T0 + 6 * S + S // 10  # when it was last seen there
    assert by_epc[B].kind is EventKind.MISSING  # not through an exit: missing, not sold
    assert status(c, A)[0] is TagStatus.SOLD
    assert [e.seq for e in ev] == sorted(e.seq for e in ev)


@pytest.mark.parametrize("method", [CleaningMethod.SMURF, CleaningMethod.FIXED])
def test_stray_exit_read_of_a_floor_item_then_a_gap_is_missing_not_sold(method: CleaningMethod) -> None:
    """Regression (bench cleaning, seed 1, item 301): an item on a floor fixture beside the exit
    gets a weak stray read from the exit antenna, then goes unread for longer than its window.
    It used to be `sold` (an exit read within the grace of its last read), a false departure;
    the exit read is a stray (the floor stays its best zone), so it is `missing`."""
    c = cleaner(method=method, fixed_window_s=5.0)
    events: list[TagEvent] = []
    for s in range(40):
        events += c.ingest(read(s + 0.2, "floor", A))
    events += c.ingest(read(40.3, "exit", A, rssi=-72.0))  # the stray read
    events += c.ingest(read(40.5, "floor", A))  # then its own antenna, then a gap
    for s in range(41, 120):
        events += c.tick(T0 + (s + 1) * S)
    assert kinds(events) == [EventKind.ARRIVED, EventKind.MISSING]
    assert (events[1].zone, events[1].from_zone) == ("floor", None)
    assert status(c, A) == (TagStatus.MISSING, "floor")


@pytest.mark.parametrize("tills_only", [True, False])
def test_transition_shortcut_only_for_items_at_a_till(tills_only: bool) -> None:
    """A steadily read floor item (w* = 10 epochs at delta 1e-4) unread for 7 epochs: SMURF's
    transition test halves its window; with `transition_at_tills_only` that shorter window only
    applies at exit/POS zones, so the floor item stays present; an item at the till (read
    there strongly) that stops being read is still sold on the shortened window."""
    c = cleaner(transition_at_tills_only=tills_only)
    events: list[TagEvent] = []
    for s in range(40):
        events += c.ingest(read(s + 0.2, "floor", A))
        events += c.ingest(read(s + 0.3, "floor" if s < 30 else "pos", B, rssi=-45.0))
    for s in range(40, 47):
        events += c.tick(T0 + (s + 1) * S)
    events += c.ingest(read(47.2, "floor", A))
    assert int(c.columns().window_epochs[0]) < 10  # the test did fire on A
    a = [e.kind for e in events if e.epc == A]
    flap = [EventKind.ARRIVED, EventKind.MISSING, EventKind.ARRIVED]
    assert a == ([EventKind.ARRIVED] if tills_only else flap)
    b = [(e.kind, e.zone) for e in events if e.epc == B]
    assert b == [(EventKind.ARRIVED, "floor"), (EventKind.MOVED, "pos"), (EventKind.SOLD, "pos")]


def test_census_resets_confidence_and_marks_absent_items_missing() -> None:
    c = cleaner()
    for s in range(3):
        c.ingest(read(s + 0.1, "backroom", A, B))
        c.ingest(read(s + 0.1, "floor", C))
    t = T0 + 3 * S
    census = ReadBatch.from_columns("hh", [t, t], [0, 0], [A, D], [-50.0, -50.0], census_zone="backroom")
    ev = c.ingest(census)
    got = {(e.epc, e.kind) for e in ev}
    assert got == {(A, EventKind.CENSUS), (D, EventKind.CENSUS), (B, EventKind.MISSING)}
    rows = {r.epc: r for r in c.snapshot()}
    assert rows[A].confidence == 1.0 and rows[A].census_only and rows[A].zone == "backroom"
    assert rows[D].status is TagStatus.PRESENT and rows[D].zone == "backroom"
    assert rows[B].status is TagStatus.MISSING
    assert rows[C].status is TagStatus.PRESENT and rows[C].zone == "floor"
    # census-only items do not time out with the read window; they age by confidence
    later = c.tick(T0 + 600 * S)
    assert {e.epc for e in later} == {C}  # only the fixed-read item went missing
    rows = {r.epc: r for r in c.snapshot()}
    assert rows[D].status is TagStatus.PRESENT and 0.99 < rows[D].confidence < 1.0
    # a census found somewhere else reports where it was believed to be
    ev = c.ingest(
        ReadBatch.from_columns("hh", [T0 + 601 * S], [0], [D], [-50.0], census_zone="fitting")
    )
    assert [(e.kind, e.zone, e.from_zone) for e in ev] == [(EventKind.CENSUS, "fitting", "backroom")]


def test_census_of_an_unknown_zone_is_a_typed_error() -> None:
    c = cleaner()
    with pytest.raises(InputError) as err:
        c.ingest(ReadBatch.from_columns("hh", [T0], [0], [A], [-50.0], census_zone="attic"))
    assert err.value.reason is InputErrorReason.BAD_FIELD
    assert c.counters.bad_census == 1


def test_reads_of_unmapped_antennas_are_counted_not_fatal() -> None:
    c = cleaner()
    batch = ReadBatch.from_columns("r", [T0, T0], [9, 1], [A, B], [-50.0, -50.0])
    assert [e.epc for e in c.ingest(batch)] == [B]
    assert c.counters.unmapped_reads == 1


def test_smurf_window_formula_hand_computed() -> None:
    # ln(1/0.05) = 2.9957: /0.9 = 3.33 -> 4, /0.6 = 4.99 -> 5, /0.3 = 9.99 -> 10 (reference §2)
    assert completeness_window(np.array([0.9, 0.6, 0.3]), 0.05).tolist() == [4, 5, 10]
    assert math.ceil(math.log(1 / 0.05) / 0.6) == 5
    # (1 - p)^w* <= e^(-p w*) <= delta, and w* is the smallest window with e^(-p w) <= delta
    for p in (0.2, 0.5, 0.75, 0.95):
        w = int(completeness_window(np.array([p]), 0.01)[0])
        assert (1 - p) ** w <= math.exp(-p * w) <= 0.01 < math.exp(-p * (w - 1))
    # transition: w = 5, p = 0.8: 4 - 2 sqrt(0.8) = 2.211 -> |S| = 2 fires, 3 does not
    fired = transition_detected(np.array([2, 3]), np.array([5, 5]), np.array([0.8, 0.8]))
    assert fired.tolist() == [True, False]
    assert reads_in_window(np.array([0b1011011], np.uint64), np.array([4])).tolist() == [3]
    pol = SmurfPolicy(0.05, min_w=1, max_w=60)
    # growth: w = 2, p = 0.6 -> w* = 5 -> w + 2 = 4
    assert pol.update(np.array([2]), np.array([0b11], np.uint64), np.array([0.6])).tolist() == [4]
    # shrink: w = 10, p = 0.9 (w* = 4), 5 reads of 10 < 9 - 2 sqrt(0.9) = 7.1 -> min(10 // 2, 4)
    bits = np.array([0b1010101010], np.uint64)
    assert pol.update(np.array([10]), bits, np.array([0.9])).tolist() == [4]
    # steady: w = 4 = w*, 4 reads: unchanged
    assert pol.update(np.array([4]), np.array([0b1111], np.uint64), np.array([0.9])).tolist() == [4]


def _flaky_run(c: Cleaner) -> list[TagEvent]:
    events: list[TagEvent] = []
    for s in range(300):
        if s % 3 == 0:  # read one epoch in three
            events += c.ingest(read(s + 0.5, "floor", A))
        events += c.tick(T0 + (s + 1) * S)
    return events


def test_flaky_tag_fixed_window_flaps_smurf_adapts() -> None:
    fixed = _flaky_run(cleaner(method=CleaningMethod.FIXED, fixed_window_s=2.0))
    smurf = _flaky_run(cleaner(method=CleaningMethod.SMURF, delta=0.001, min_window_s=2.0))
    assert kinds(fixed).count(EventKind.MISSING) >= 90  # missing after every gap
    assert kinds(smurf) == [EventKind.ARRIVED]
    c = cleaner(method=CleaningMethod.SMURF, delta=0.001)
    _flaky_run(c)
    col = c.columns()
    assert abs(col.read_rate[0] - 1 / 3) < 0.03
    assert col.window_epochs[0] >= math.ceil(math.log(1000) / 0.37)


def test_restore_round_trip_and_sequence_continues() -> None:
    c = cleaner()
    for s in range(30):
        c.ingest(read(s + 0.1, "floor", A, *([B] if s < 20 else [])))
        c.ingest(read(s + 0.2, "backroom", C))
        if s in (20, 21):
            c.ingest(read(s + 0.3, "exit", B, rssi=-40.0))
    c.tick(T0 + 30 * S)
    rows = c.snapshot()
    assert {r.epc: r.status for r in rows} == {
        A: TagStatus.PRESENT, B: TagStatus.SOLD, C: TagStatus.PRESENT
    }
    r = cleaner()
    r.restore(rows, c.last_seq)
    again = {x.epc: x for x in r.snapshot()}
    for x in rows:
        y = again[x.epc]
        assert (y.zone, y.status, y.last_seen_ns) == (x.zone, x.status, x.last_seen_ns)
        assert y.read_rate == pytest.approx(x.read_rate, rel=1e-6)
    # back two hours later: restored present items get a window before they can go missing
    later = 2 * 3600 + 0.1
    ev = r.ingest(read(later, "floor", A))
    assert ev == []
    assert r.last_seq == c.last_seq
    ev = []
    for k in range(1, 120):
        ev += r.ingest(read(later + k, "floor", A))
    assert kinds(ev) == [EventKind.MISSING] and ev[0].epc == C
    assert ev[0].seq == c.last_seq + 1
    assert status(r, A) == (TagStatus.PRESENT, "floor")


def test_events_of_a_batch_are_time_ordered_with_consecutive_seq() -> None:
    c = cleaner()
    batch = ReadBatch.from_columns(
        "r", [T0 + 3, T0 + 1, T0 + 2], [1, 2, 3], [A, B, C], [-50.0, -50.0, -50.0]
    )
    ev = c.ingest(batch)
    assert [e.epc for e in ev] == [B, C, A]
    assert [e.seq for e in ev] == [1, 2, 3]


def test_adaptive_beats_a_small_fixed_window_in_the_shop_sim() -> None:
    from bench.cleaning import run

    cfgs = [
        ("smurf", CleaningConfig(method=CleaningMethod.SMURF)),
        ("fixed_2s", CleaningConfig(method=CleaningMethod.FIXED, fixed_window_s=2.0)),
    ]
    res = run(seed=7, items=300, minutes=3.0, configs=cfgs)
    m = res["methods"]
    assert res["true_sales"] > 0
    smurf, fixed2 = m["smurf"], m["fixed_2s"]
    assert smurf["presence_accuracy_pct"] >= fixed2["presence_accuracy_pct"]
    assert smurf["false_departures"] <= fixed2["false_departures"]
    assert smurf["presence_accuracy_pct"] > 99.0
    assert res["target"]["beats_fixed_on_accuracy"] == {"fixed_2s": True}


def test_false_departure_target_is_judged_on_the_stricter_rate() -> None:
    from bench.cleaning import false_departure_pct, target_check

    def method(acc: float, per_event: float | None, per_item: float) -> dict[str, float | None]:
        return {
            "presence_accuracy_pct": acc,
            "false_departure_rate_pct": per_event,
            "false_departures_per_item_pct": per_item,
        }

    assert false_departure_pct(method(99.9, 0.88, 0.03)) == 0.88
    assert false_departure_pct(method(99.9, None, 0.03)) == 0.03  # no departure event at all
    fixed = {"fixed_10s": method(99.97, 0.0, 0.0)}
    got = target_check(method(99.98, 0.88, 0.03), fixed)
    assert got["accuracy_ok"] and not got["false_departures_ok"] and not got["met"]
    assert got["no_more_false_departures_than_fixed"] == {"fixed_10s": False}
    assert target_check(method(99.98, 0.0, 0.0), fixed)["met"]
    assert not target_check(method(99.96, 0.0, 0.0), fixed)["met"]  # worse than fixed_10s
