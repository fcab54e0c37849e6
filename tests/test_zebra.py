"""Zebra FX IoT Connector: samples, encoder round trips, fuzzing, driver dedup/gaps/health."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from readers.batch import NO_SEQ, Read, ReadBatch
from readers.config import ReaderConfig
from readers.driver import InputError, InputErrorReason
from readers.drivers import zebra as zebra_driver
from readers.formats import zebra as zebra_format
from readers.formats._json import format_iso, parse_iso_many, parse_iso_ns
from readers.formats.zebra import (
    encode_zebra_event_chunks,
    encode_zebra_events,
    encode_zebra_heartbeat,
    parse_zebra,
)

SAMPLES = Path("/work/shared/reference/samples")


def sample(name: str) -> bytes:
    path = SAMPLES / name
    if not path.exists():  # the reference samples live beside the repo, not in it
        pytest.skip(f"reference sample {name} not available")
    return path.read_bytes()


def key(r: Read) -> tuple[Any, ...]:
    """A Read as a comparable tuple (NaN RSSI -> None)."""
    rssi = None if math.isnan(r.rssi_dbm) else r.rssi_dbm
    return (r.time_ns, r.reader, r.antenna, r.epc, rssi, r.seq, r.phase, r.frequency_khz, r.read_count)


def reads_of(payload: bytes, reader: str = "fx1") -> list[Read]:
    parsed = parse_zebra(payload, reader, 0)
    assert parsed.errors == []
    return list(parsed.batch.reads())


def driver(**options: Any) -> zebra_driver.ZebraIotcDriver:
    return zebra_driver.factory(ReaderConfig(id="fx1", driver="zebra_iotc", options=options))


# -- samples -----------------------------------------------------------------------------


def test_minimal_sample_local_offset_to_utc() -> None:
    (r,) = reads_of(sample("zebra_fx_tag_event_minimal.json"))
    assert r.epc == bytes.fromhex("000000000000000000000343")
    assert r.seq == 5938
    # 2024-09-05T01:07:01.785-0600 == 07:07:01.785 UTC
    assert r.time_ns == 1725520021785000000
    assert r.antenna == 0 and math.isnan(r.rssi_dbm)
    assert r.phase is None and r.frequency_khz is None


def test_capture_lines() -> None:
    lines = sample("zebra_fx_tag_events_capture.jsonl").splitlines()
    got = [reads_of(line)[0] for line in lines]
    assert [r.seq for r in got] == [16511, 16512, 16513]
    assert [r.epc.hex() for r in got] == [
        "e28011700000020d2a412182", "e28011700000020d2a40c095", "e28011700000020d2a412b0c"
    ]
    assert [r.rssi_dbm for r in got] == [-60.0, -61.0, -63.0]
    assert all(r.antenna == 1 and r.frequency_khz == 866300 for r in got)
    assert got[0].time_ns == 1774682413028000000
    assert got[1].time_ns == got[2].time_ns == 1774682413069000000
    assert got[0].phase == pytest.approx(-170.48005676, abs=1e-4)
    assert [r.read_count for r in got] == [1, 1, 1]  # "reads":1 (SEEN_COUNT on)


def test_batched_array_sample() -> None:
    (r,) = reads_of(sample("zebra_fx_tag_event_batched_array.json"))
    assert (r.epc.hex(), r.seq, r.antenna, r.rssi_dbm) == ("ad99160040aac99525000025", 194, 1, -54.0)
    assert r.frequency_khz == 927250 and r.phase == 0.0
    assert r.time_ns == 1677233682851000000
    assert r.read_count == 9  # "reads":9: one report standing for nine inventory reads
    batch = parse_zebra(sample("zebra_fx_tag_event_batched_array.json"), "fx1", 0).batch
    assert batch.read_count is not None and batch.read_count.tolist() == [9]
    assert batch.read_total == 9


def test_all_fields_sample_and_rfd_sled() -> None:
    (r,) = reads_of(sample("zebra_fx_tag_event_all_fields.json"))
    assert (r.epc.hex(), r.seq, r.antenna, r.rssi_dbm, r.frequency_khz) == (
        "3005fb63ac1f3681ec880468", 1, 1, -39.0, 911750
    )
    assert r.time_ns == 1566656122000000000
    assert r.read_count == 1  # "reads": 1
    (s,) = reads_of(sample("zebra_rfd40_rfd90_dataEVT.json"))
    assert s.epc.hex().upper() == "BEDD11112222333344445555"
    assert (s.seq, s.antenna, s.rssi_dbm, s.frequency_khz) == (1, 0, -39.0, 911750)
    assert s.read_count == 1  # "seenCount": 1


def test_minimal_sample_without_reads_counts_one() -> None:
    batch = parse_zebra(sample("zebra_fx_tag_event_minimal.json"), "fx1", 0).batch
    assert batch.read_count is None and batch.read_total == 1  # SIMPLE mode: no SEEN_COUNT
    assert [r.read_count for r in batch.reads()] == [1]


def test_rfd_seen_count_fills_read_count() -> None:
    doc = msgspec.json.decode(sample("zebra_rfd40_rfd90_dataEVT.json"))
    tag = doc["data"]["tagData"][0]
    doc["data"]["tagData"] = [tag, {**tag, "EPCid": "30" * 12, "seenCount": 4, "eventNum": 2}]
    reads = reads_of(msgspec.json.encode(doc))
    assert [(r.epc.hex().upper(), r.read_count) for r in reads] == [
        ("BEDD11112222333344445555", 1), ("30" * 12, 4)
    ]


def test_heartbeats_into_health() -> None:
    d = driver()
    res = d.decode("zebra/fx1/events", sample("zebra_fx_heartbeat_fx9600.json"), 5)
    assert res.batches == [] and res.errors == []
    assert res.health is not None
    assert res.health.antennas_connected == {i: i == 4 for i in range(1, 9)}
    assert res.health.last_heartbeat_ns == parse_iso_ns("2023-03-01T13:57:29.126+0000")
    assert res.health.extra["radio_control.numErrors"] == "7"
    res = d.decode("zebra/fx1/events", sample("zebra_fx_heartbeat_minimal.json"), 5)
    assert res.health is not None and res.health.connected
    assert res.health.last_heartbeat_ns == parse_iso_ns("2026-03-28T07:19:57.878+0000")


def test_error_events_mark_antenna_down() -> None:
    d = driver()
    msg = (b'{"component":"RC","data":{"message":"Antenna Disconnected on Port 3"},'
           b'"eventNum":9,"timestamp":"2023-03-01T13:57:29.126+0000","type":"errors"}')
    res = d.decode("zebra/fx1/events", msg, 0)
    assert res.health is not None and res.health.antennas_connected == {3: False}
    assert res.health.errors == ["errors: Antenna Disconnected on Port 3"]


# -- encoders ----------------------------------------------------------------------------


def test_encode_reproduces_capture_byte_for_byte() -> None:
    for line in sample("zebra_fx_tag_events_capture.jsonl").splitlines():
        batch = parse_zebra(line, "fx1", 0).batch
        assert encode_zebra_events(batch) == line
    minimal = sample("zebra_fx_tag_event_minimal.json").strip()
    batch = parse_zebra(minimal, "fx1", 0).batch
    assert encode_zebra_events(batch, utc_offset_minutes=-360, read_count=False) == minimal


@pytest.mark.parametrize(
    "name", ["zebra_fx_tag_event_batched_array.json", "zebra_fx_tag_event_all_fields.json"]
)
def test_encode_of_parsed_sample_keeps_its_content(name: str) -> None:
    reads = reads_of(sample(name))
    again = reads_of(encode_zebra_events(reads, array=name.endswith("array.json")))
    assert [key(r) for r in again] == [key(r) for r in reads]


def test_single_object_vs_array() -> None:
    r = Read(1_700_000_000_123_000_000, "fx1", 2, b"\x30\x01", -50.0, seq=7)
    assert encode_zebra_events([r]).startswith(b"{")
    assert encode_zebra_events([r], array=True).startswith(b"[{")
    assert encode_zebra_events([r, r]).startswith(b"[")
    with pytest.raises(ValueError):
        encode_zebra_events([r, r], array=False)
    with pytest.raises(ValueError):
        encode_zebra_events([Read(0, "fx1", 1, b"\x01", -1.0)])


f32 = st.floats(-180, 180, allow_nan=False, width=32)
read_st = st.builds(
    Read,
    time_ns=st.integers(0, 4_000_000_000_000).map(lambda ms: ms * 1_000_000),
    reader=st.just("fx1"),
    antenna=st.integers(0, 64),
    epc=st.binary(min_size=1, max_size=62),
    rssi_dbm=st.one_of(st.integers(-128, 0).map(float), st.just(math.nan)),
    seq=st.integers(0, 2**53),
    phase=st.one_of(st.none(), f32.map(float)),
    frequency_khz=st.one_of(st.none(), st.integers(1, 1_999_999)),
    read_count=st.one_of(st.just(1), st.integers(1, 2**31 - 1)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(read_st, min_size=1, max_size=20), st.integers(-720, 840), st.booleans())
def test_roundtrip_parse_encode(reads: list[Read], offset: int, array: bool) -> None:
    payload = encode_zebra_events(reads, utc_offset_minutes=offset, array=array or len(reads) > 1)
    parsed = parse_zebra(payload, "fx1", 0)
    assert parsed.errors == []
    assert [key(r) for r in parsed.batch.reads()] == [key(r) for r in reads]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**62 // 1), st.integers(-720, 840), st.sampled_from([0, 3, 6, 9]))
def test_timestamp_roundtrip(ns: int, offset: int, digits: int) -> None:
    ns = ns % (9_000_000_000 * 10**9)
    text = format_iso(ns, digits, offset)
    trunc = ns - ns % 10 ** (9 - digits)
    assert parse_iso_ns(text) == trunc


def test_timestamp_forms() -> None:
    base = parse_iso_ns("2023-02-24T10:14:42.851Z")
    assert parse_iso_ns("2023-02-24T10:14:42.851+0000") == base
    assert parse_iso_ns("2023-02-24T11:14:42.851+01:00") == base
    assert parse_iso_ns("2023-02-24T04:14:42.851-0600") == base
    assert parse_iso_ns("2023-02-24T10:14:42.851") == base
    assert parse_iso_ns("2023-02-24T10:14:42.851000001Z") == base + 1
    assert parse_iso_ns("2023-02-24T10:14:42.8510000019Z") == base + 1  # truncated to ns
    for bad in ("", "2023-02-30T10:14:42Z", "2023-02-24T10:14:42.Z", "2023-02-24T10:14:42+2500",
                "yesterday at noon", "2023-02-24T10:14:42.851+00", "١٢٣٤-02-24T10:14:42Z"):
        if bad == "2023-02-24T10:14:42.851+00":
            assert parse_iso_ns(bad) == base  # ±hh is accepted
            continue
        with pytest.raises(InputError) as exc:
            parse_iso_ns(bad)
        assert exc.value.reason is InputErrorReason.BAD_FIELD


def test_heartbeat_encoder_parses() -> None:
    d = driver()
    for full in (True, False):
        payload = encode_zebra_heartbeat(10**18, 4, {1: True, 2: False}, full=full, uptime_s=3700)
        res = d.decode("zebra/fx1/events", payload, 0)
        assert res.errors == [] and res.health is not None
        assert res.health.last_heartbeat_ns == 10**18
        if full:
            assert res.health.antennas_connected == {1: True, 2: False}


# -- bad input ----------------------------------------------------------------------------


def test_malformed_and_partly_bad_payloads() -> None:
    d = driver()
    res = d.decode("zebra/fx1/data", b'{"data":{"eventNum":1,', 0)
    assert [e.reason for e in res.errors] == [InputErrorReason.MALFORMED_JSON]
    good = [Read(10**18 + i * 10**6, "fx1", 1, bytes([i + 1]) * 12, -50.0, seq=i) for i in range(4)]
    chunks = encode_zebra_event_chunks(good)
    chunks[1] = chunks[1].replace(b'"antenna":1', b'"antenna":"one"')
    chunks[2] = chunks[2].replace(b'"idHex":"', b'"idHex":"zz')
    res = d.decode("zebra/fx1/data", b"[" + b",".join(chunks) + b"]", 0)
    assert sorted(e.reason.value for e in res.errors) == ["bad_epc", "bad_field"]
    assert [r.seq for b in res.batches for r in b.reads()] == [0, 3]
    assert d.counters()["error.malformed_json"] == 1


@pytest.mark.parametrize(
    "payload",
    [b"[]", b"{}", b'{"type":"INVENTORY"}', b'{"data":{"idHex":""},"type":"X"}', b"null", b"3",
     b'{"data":{"idHex":"00 11"}}', b'{"data":{"idHex":"0011","format":"tid"}}',
     b'{"data":{"idHex":"0011","antenna":-1}}', b'{"data":{"idHex":"0011","eventNum":-5}}',
     b'{"data":{"idHex":"0011","channel":1e300}}', b'{"data":{"tagData":[{}]}}',
     b'{"data":{"idHex":"0011","peakRssi":1e999}}', b'{"data":{"idHex":"0011","phase":-1e9}}'],
)
def test_odd_payloads_are_counted_not_raised(payload: bytes) -> None:
    res = driver().decode("zebra/fx1/data", payload, 0)
    n = sum(len(b) for b in res.batches)
    assert n == 0
    if payload != b"[]":
        assert len(res.errors) == 1


def _event(reads: Any, seq: int = 1, epc: str = "3005fb63ac1f3681ec880468") -> bytes:
    return msgspec.json.encode({
        "data": {"antenna": 1, "eventNum": seq, "format": "epc", "idHex": epc, "peakRssi": -50,
                 "reads": reads},
        "timestamp": "2026-03-28T07:20:13.028+0000", "type": "INVENTORY",
    })


@pytest.mark.parametrize(
    "reads", [0, -1, -(2**40), 2**31, 2**70, 2.5, 3.0, "3", True, [3], {"n": 3}],
)
def test_bad_read_count_is_a_counted_bad_field(reads: Any) -> None:
    """A count below 1 (or not an integer) is bad input: a counted BAD_FIELD, the event out,
    the other events of the payload in."""
    d = driver()
    res = d.decode("zebra/fx1/data", _event(reads), 0)
    assert sum(len(b) for b in res.batches) == 0
    assert [e.reason for e in res.errors] == [InputErrorReason.BAD_FIELD]
    assert d.counters()["error.bad_field"] == 1
    payload = b"[" + b",".join([_event(2, 1), _event(reads, 2), _event(5, 3, "30" * 12)]) + b"]"
    res = driver().decode("zebra/fx1/data", payload, 0)
    assert [(r.seq, r.read_count) for b in res.batches for r in b.reads()] == [(1, 2), (3, 5)]
    assert [e.reason for e in res.errors] == [InputErrorReason.BAD_FIELD]
    rfd = msgspec.json.encode({"data": {"tagData": [
        {"EPCid": "30" * 12, "eventNum": 1, "seenCount": reads},
    ]}, "timestamp": "2019-08-24T14:15:22Z", "type": "CYCLE_COUNT"})
    res = driver().decode("zebra/fx1/data", rfd, 0)
    assert sum(len(b) for b in res.batches) == 0
    assert [e.reason for e in res.errors] == [InputErrorReason.BAD_FIELD]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-(2**33), 2**33)), min_size=1, max_size=8))
def test_any_integer_read_count_is_kept_or_counted(counts: list[int | None]) -> None:
    payload = b"[" + b",".join(
        _event(c, i + 1, f"{i + 1:024x}") for i, c in enumerate(counts)
    ).replace(b',"reads":null', b"") + b"]"
    res = parse_zebra(payload, "fx1", 0)
    good = [(i + 1, 1 if c is None else c) for i, c in enumerate(counts)
            if c is None or 1 <= c <= 2**31 - 1]
    assert [(r.seq, r.read_count) for r in res.batch.reads()] == good
    assert len(res.errors) == len(counts) - len(good)
    assert all(e.reason is InputErrorReason.BAD_FIELD for e in res.errors)
    assert res.batch.read_total == sum(c for _, c in good)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
fields = st.fixed_dictionaries(
    {},
    optional={
        "idHex": json_values | st.binary(max_size=16).map(bytes.hex),
        "eventNum": json_values | st.integers(-5, 2**64),
        "antenna": json_values,
        "peakRssi": json_values,
        "channel": json_values,
        "phase": json_values,
        "reads": json_values | st.integers(-3, 2**40),
        "format": st.sampled_from(["epc", "tid"]) | json_values,
        "tagData": json_values,
    },
)
events = st.fixed_dictionaries(
    {"data": fields | json_values},
    optional={"timestamp": st.text(max_size=30) | json_values, "type": json_values,
              "component": json_values, "eventNum": json_values},
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_bytes_never_raise(data: bytes) -> None:
    res = driver().decode("zebra/fx1/data", data, 0)
    assert all(isinstance(e, InputError) for e in res.errors)


@settings(max_examples=300, deadline=None)
@given(json_values | events | st.lists(events, max_size=4))
def test_fuzz_json_never_raise(doc: Any) -> None:
    try:
        payload = msgspec.json.encode(doc)
    except (OverflowError, msgspec.EncodeError):
        return
    res = driver().decode("zebra/fx1/data", payload, 0)
    got = sum(len(b) for b in res.batches)
    items = doc if isinstance(doc, list) else [doc]
    assert got + len(res.errors) >= 0
    assert got <= sum(1 if isinstance(i, dict) else 0 for i in items) or any(
        isinstance(i, dict) and isinstance(i.get("data"), dict) and "tagData" in i["data"]
        for i in items
    )


# -- driver: identity, dedup, gaps, replays, resets ----------------------------------------


def _payload(seqs: list[int], t0: int = 10**18, epc: bytes = b"\x30" * 12) -> bytes:
    reads = [Read(t0 + s * 10**6, "x", 1, epc, -55.0, seq=s) for s in seqs]
    return encode_zebra_events(reads, array=True)


def test_reader_identity_comes_from_topic_not_payload() -> None:
    d = driver(topic_template="shop7/{reader}/tags")
    assert d.topic == "shop7/fx1/tags"
    res = d.decode("shop7/fx1/tags", _payload([1]), 0)
    assert res.batches[0].reader == "fx1"
    res = d.decode("shop7/fx2/tags", _payload([2]), 0)
    assert res.batches == [] and res.errors[0].reason is InputErrorReason.UNKNOWN_MESSAGE
    multi = driver(topic_template="shop7/{reader}/tags", reader_from_topic=True)
    assert multi.topic == "shop7/+/tags"
    res = multi.decode("shop7/fx9/tags", _payload([1]), 0)
    assert res.batches[0].reader == "fx9"
    explicit = zebra_driver.factory(ReaderConfig(id="fx1", driver="zebra_iotc", topic="a/b"))
    assert explicit.topic == "a/b"


def test_duplicates_dropped_and_gaps_counted() -> None:
    d = driver()
    t = "zebra/fx1/data"
    res = d.decode(t, _payload([1, 2, 3]), 0)
    assert (sum(map(len, res.batches)), res.duplicates, res.gaps) == (3, 0, 0)
    res = d.decode(t, _payload([2, 3]), 0)  # QoS 1 redelivery
    assert (res.batches, res.duplicates) == ([], 2)
    res = d.decode(t, _payload([7, 8]), 0)
    assert (sum(map(len, res.batches)), res.gaps) == (2, 3)
    res = d.decode(t, _payload([4, 5, 6, 8]), 0)  # late replay fills the gap; 8 is a dup
    assert [int(s) for s in res.batches[0].seq] == [4, 5, 6] and res.duplicates == 1
    assert d.seq.stats("fx1").missing == 0
    assert d.counters()["reads"] == 8 and d.counters()["duplicates"] == 3


def test_replay_after_outage_keeps_old_event_time() -> None:
    d = driver()
    t = "zebra/fx1/data"
    d.decode(t, _payload([1, 2]), 0)
    live = d.decode(t, _payload([500], t0=2 * 10**18), 0)
    assert live.gaps == 497
    replay = d.decode(t, _payload(list(range(3, 500))), 0)
    assert replay.duplicates == 0 and len(replay.batches[0]) == 497
    assert int(replay.batches[0].time_ns[0]) == 10**18 + 3 * 10**6  # event time, not arrival


def test_counter_reset_is_a_new_epoch() -> None:
    d = driver()
    t = "zebra/fx1/data"
    d.decode(t, _payload([100, 101, 102]), 0)
    later = 10**18 + 600 * 10**9  # after a reboot: newer events, counter back at 1
    res = d.decode(t, _payload([1, 2, 3], t0=later), 0)
    assert res.duplicates == 0 and len(res.batches[0]) == 3
    assert d.seq.stats("fx1").resets == 1
    res = d.decode(t, _payload([2], t0=later), 0)
    assert res.duplicates == 1


def test_decode_capture_jsonl_and_array() -> None:
    results = list(zebra_driver.decode_capture(sample("zebra_fx_tag_events_capture.jsonl"), "fx1"))
    assert len(results) == 3
    assert [int(r.batches[0].seq[0]) for r in results] == [16511, 16512, 16513]
    assert all(r.batches[0].reader == "fx1" for r in results)
    bad = sample("zebra_fx_tag_events_capture.jsonl") + b"\n{not json\n\r\n"
    results = list(zebra_driver.decode_capture(bad, "fx1"))
    assert [len(r.errors) for r in results] == [0, 0, 0, 1]
    (one,) = zebra_driver.decode_capture(sample("zebra_fx_tag_event_all_fields.json"), "fx1")
    assert len(one.batches[0]) == 1
    assert zebra_driver.SPEC.transport == "mqtt" and zebra_driver.SPEC.name == "zebra_iotc"


def test_columns_dtypes() -> None:
    b: ReadBatch = parse_zebra(sample("zebra_fx_tag_events_capture.jsonl").splitlines()[0], "fx1", 0).batch
    assert b.time_ns.dtype == np.int64 and b.antenna.dtype == np.int16
    assert b.rssi_dbm.dtype == np.float32 and b.seq.dtype == np.int64
    assert b.frequency_khz is not None and b.frequency_khz.dtype == np.int32
    assert parse_zebra(sample("zebra_fx_tag_event_minimal.json"), "fx1", 0).batch.seq[0] != NO_SEQ


def test_bench_zebra_runs_and_reports_both() -> None:
    from bench.parsers_json import bench_zebra

    out = bench_zebra(0.1, per_message=20)
    assert out["shelfsight_reads_per_s"] > 0 and out["naive_reads_per_s"] > 0
    assert out["reads_per_payload"] == 20


# -- the column-wise fast path against the event-by-event reference -------------------------


def _reference(payload: bytes, received_ns: int) -> Any:
    """What the event-by-event path (the reference for values and errors) makes of a payload."""
    decoded = zebra_format._typed.decode(payload)
    evs = decoded if isinstance(decoded, list) else [decoded]
    return zebra_format._parse_events(evs, payload, "fx1", received_ns, [], [])


def _same_batch(a: ReadBatch, b: ReadBatch) -> None:
    for col in ("time_ns", "antenna", "epc", "rssi_dbm", "seq", "phase", "frequency_khz"):
        x, y = getattr(a, col), getattr(b, col)
        assert (x is None) == (y is None), col
        if x is not None:
            assert x.dtype == y.dtype, col
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), col


_minute = "2026-03-28T07:20"
stamp = st.one_of(
    st.builds(lambda s, ms, off: f"{_minute}:{s:02d}.{ms:03d}{off}", st.integers(0, 59),
              st.integers(0, 999), st.sampled_from(["+0000", "-0600", "+0530"])),
    st.sampled_from([None, "2026-03-28T07:21:00.000+0000", "2026-03-28T07:20:05.12+0000",
                     "2026-03-28T07:20:05.123Z", "2026-03-28T07:20:05.123456789Z",
                     "2026-03-28T07:20:61.123+0000", "2026-02-30T07:20:05.123+0000",
                     "2026-03-28T07:20:05.1x3+0000", "2026-03-28T07:20:05.123+2500",
                     "2026-03-28T07:20:05.123 0000", "2026-03-28T07:20:٠٥.123+0000"]),
)
plain = st.fixed_dictionaries(
    {"idHex": st.one_of(st.binary(min_size=1, max_size=16).map(bytes.hex),
                        st.sampled_from(["", "0", "00 11", "zz11", "ABCDEF012345"]))},
    optional={
        "eventNum": st.integers(-2, 2**64),
        "antenna": st.integers(-1, 40000),
        "peakRssi": st.floats(-250, 150) | st.integers(-250, 150),
        "channel": st.floats(-1, 2_100_000) | st.sampled_from([0, 865.7, 2_000_000]),
        "phase": st.floats(-2e6, 2e6),
        "format": st.sampled_from(["epc", "tid"]),
    },
)
plain_event = st.builds(
    lambda d, ts: {"data": d, "type": "CUSTOM"} | ({} if ts is None else {"timestamp": ts}),
    plain, stamp,
)


@settings(max_examples=400, deadline=None)
@given(st.lists(plain_event, min_size=1, max_size=30), st.booleans())
def test_column_path_equals_event_path(evs: list[dict[str, Any]], mostly_valid: bool) -> None:
    if mostly_valid:  # most real payloads: every event valid, so the column path is taken
        for ev in evs:
            d = ev["data"]
            d["idHex"] = d["idHex"] if len(d["idHex"]) % 2 == 0 and d["idHex"].isalnum() else "3034"
            d.pop("format", None)
            for k, lo, hi in (("antenna", 0, 32767), ("eventNum", 0, 2**63 - 1),
                              ("peakRssi", -200, 100), ("phase", -1e6, 1e6)):
                if k in d and not lo <= d[k] <= hi:
                    d[k] = lo
            if "channel" in d and not 0 < d["channel"] < 2_000_000:
                d["channel"] = 865.7
            ev["timestamp"] = f"{_minute}:{len(d['idHex']) % 60:02d}.{d.get('antenna', 7) % 1000:03d}+0000"
    payload = msgspec.json.encode(evs)
    got = parse_zebra(payload, "fx1", 123)
    ref = _reference(payload, 123)
    _same_batch(got.batch, ref.batch)
    assert [(e.reason, str(e)) for e in got.errors] == [(e.reason, str(e)) for e in ref.errors]


def test_column_path_taken_for_plain_payloads() -> None:
    reads = [Read(10**18 + i * 10**6, "fx1", 1 + i % 4, bytes([i + 1]) * 12, -50.0 - i, seq=i,
                  phase=1.5 * i, frequency_khz=865700) for i in range(50)]
    payload = encode_zebra_events(reads)
    decoded = zebra_format._typed.decode(payload)
    assert isinstance(decoded, list)
    assert zebra_format._tag_columns(decoded, "fx1", 0) is not None
    _same_batch(parse_zebra(payload, "fx1", 0).batch, _reference(payload, 0).batch)


@settings(max_examples=200, deadline=None)
@given(st.lists(stamp, min_size=1, max_size=40))
def test_parse_iso_many_equals_one_by_one(texts: list[str | None]) -> None:
    want: list[int] | None = []
    for t in texts:
        try:
            want.append(7 if t is None else parse_iso_ns(t))  # type: ignore[union-attr]
        except InputError:
            want = None
            break
    if want is None:
        with pytest.raises(InputError):
            parse_iso_many(texts, 7)
    else:
        assert parse_iso_many(texts, 7).tolist() == want
