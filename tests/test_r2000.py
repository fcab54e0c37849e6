"""R2000 0xA0 protocol: golden frames, checksum, encoders byte-exact, resynchronisation."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from readers.driver import InputError, InputErrorReason
from readers.formats import r2000 as r

SAMPLES = Path("/work/shared/reference/samples/r2000_a0_frames.json")
FRAMES = {f["name"]: f for f in json.loads(SAMPLES.read_text())} if SAMPLES.exists() else {}
needs_samples = pytest.mark.skipif(not FRAMES, reason="reference samples not present")
TAG_SAMPLES = [n for n in FRAMES if n.startswith("rt_inventory_tag_")]


@needs_samples
def test_every_sample_frame_sums_to_zero_and_decodes_cleanly() -> None:
    for name, f in FRAMES.items():
        raw = bytes.fromhex(f["hex"])
        assert sum(raw) % 256 == 0, name
        if f["direction"] == "host_to_module":
            dec = r.CommandDecoder()
            ((addr, cmd, data),) = dec.feed(raw)
            assert cmd == int(f["cmd"], 16) and dec.errors == [], name
            assert r.encode_frame(addr, cmd, data) == raw, name
        else:
            result = r.R2000Decoder("r").feed(raw, 0)
            assert result.errors == [], name


@needs_samples
def test_tag_samples_decode_to_documented_reads() -> None:
    raw = b"".join(bytes.fromhex(FRAMES[n]["hex"]) for n in TAG_SAMPLES)
    raw += bytes.fromhex(FRAMES["rt_inventory_end_of_round"]["hex"])
    decoder = r.R2000Decoder("r")
    result = decoder.feed(raw, 123)
    reads = [x for b in result.batches for x in b.reads()]
    exp = [FRAMES[n]["decoded"] for n in TAG_SAMPLES]
    assert [x.epc.hex().upper() for x in reads] == [e["epc"] for e in exp]
    assert [x.antenna for x in reads] == [e["antenna"] for e in exp]
    assert [x.rssi_dbm for x in reads] == [e["rssi_dbm"] for e in exp]
    assert [x.frequency_khz for x in reads] == [
        round(e["freq_mhz_per_pyimpinj_table"] * 1000) for e in exp
    ]
    assert all(x.time_ns == 123 for x in reads)
    (resp,) = decoder.take_responses()
    eor = FRAMES["rt_inventory_end_of_round"]["decoded"]
    assert resp.end_of_round == r.EndOfRound(eor["antenna_index"] + 1, eor["read_rate"], eor["total_read"])


@needs_samples
def test_encoders_reproduce_sample_frames() -> None:
    for name in TAG_SAMPLES:
        d = FRAMES[name]["decoded"]
        rec = r.TagRecord(bytes.fromhex(d["epc"]), d["antenna"], d["freq_index"], d["rssi_dbm"])
        assert r.encode_tag_record(rec, address=1) == bytes.fromhex(FRAMES[name]["hex"]), name
    assert r.encode_end_of_round(r.EndOfRound(1, 17, 5), 1) == bytes.fromhex(
        FRAMES["rt_inventory_end_of_round"]["hex"]
    )
    assert r.encode_realtime_inventory(1, 1) == bytes.fromhex(FRAMES["real_time_inventory_cmd"]["hex"])
    assert r.encode_realtime_inventory(0xFF, 0xFF) == bytes.fromhex(
        FRAMES["real_time_inventory_broadcast_cmd"]["hex"]
    )
    assert r.encode_set_work_antenna(1, 1) == bytes.fromhex(FRAMES["set_work_antenna_1_cmd"]["hex"])
    assert r.encode_status(1, r.CMD_SET_WORK_ANTENNA) == bytes.fromhex(
        FRAMES["set_work_antenna_response"]["hex"]
    )


def test_frequency_table() -> None:
    assert [r.frequency_khz(i) for i in (0, 6, 7, 35, 59, 60)] == [
        865_000, 868_000, 902_000, 916_000, 928_000, -1,
    ]
    assert all(r.frequency_index(r.frequency_khz(i)) == i for i in range(60))


recs = st.builds(
    r.TagRecord,
    epc=st.binary(min_size=0, max_size=62).filter(lambda b: len(b) % 2 == 0),
    antenna=st.integers(1, 4),
    freq_index=st.integers(0, 59),
    rssi_dbm=st.integers(-129, 126),
)


@given(recs, st.integers(0, 0xFE))
def test_any_record_round_trips(rec: r.TagRecord, address: int) -> None:
    frame = r.encode_tag_record(rec, address)
    decoder = r.R2000Decoder("r", address=address)
    results = [decoder.feed(frame, 5), decoder.finish(5)]  # an A0 inside may defer the decision
    (read,) = [x for res in results for b in res.batches for x in b.reads()]
    assert all(res.errors == [] for res in results)
    assert (read.epc, read.antenna, read.rssi_dbm, read.frequency_khz) == (
        rec.epc, rec.antenna, rec.rssi_dbm, rec.frequency_khz,
    )
    pc = (len(rec.epc) // 2) << 11
    again = r.TagRecord(read.epc, read.antenna, r.frequency_index(rec.frequency_khz), int(read.rssi_dbm), pc)
    assert r.encode_tag_record(again, address) == frame


@given(st.binary(max_size=600), st.integers(1, 50))
def test_arbitrary_bytes_only_produce_counted_input_errors(data: bytes, chunk: int) -> None:
    results = list(r.decode_capture(data, "r", chunk=chunk))
    assert all(isinstance(e, InputError) for res in results for e in res.errors)


@settings(max_examples=150)
@given(
    st.lists(recs, min_size=1, max_size=12),
    st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\xa0", b"")), max_size=5),
    st.integers(1, 64),
)
def test_clean_frames_between_garbage_all_come_through(
    records: list[r.TagRecord], garbage: list[bytes], chunk: int
) -> None:
    data = bytearray()
    for i, rec in enumerate(records):
        data += garbage[i % len(garbage)] if garbage else b""
        data += r.encode_tag_record(rec)
    got = [x.epc for res in r.decode_capture(bytes(data), "r", chunk) for b in res.batches for x in b.reads()]
    assert got == [rec.epc for rec in records]


def test_bad_checksum_truncation_garbage_counted() -> None:
    a = r.encode_tag_record(r.TagRecord(b"\x01" * 12))
    b = r.encode_tag_record(r.TagRecord(b"\x02" * 12))
    bad = bytearray(b)
    bad[10] ^= 0x01
    data = a + bytes(bad) + b[:8] + a + b"\x00\x13\x37" + a + b[:5]
    results = list(r.decode_capture(data, "r", chunk=4))
    got = [x.epc[0] for res in results for bt in res.batches for x in bt.reads()]
    assert got == [1, 1, 1]
    reasons = Counter(e.reason for res in results for e in res.errors)
    assert reasons == {
        InputErrorReason.BAD_CRC: 1,
        InputErrorReason.TRUNCATED: 2,
        InputErrorReason.GARBAGE: 1,
    }


def test_false_header_in_garbage_does_not_swallow_frames() -> None:
    a = r.encode_tag_record(r.TagRecord(b"\x05" * 12))
    data = b"\xa0\xff\x01\x89" + a * 20
    got = [x for res in r.decode_capture(data, "r", 7) for b in res.batches for x in b.reads()]
    assert len(got) == 20


def test_truncated_head_over_a_real_frame_is_not_taken_for_a_frame() -> None:
    """A cut frame's head plus the next frame's bytes can pass the 8-bit checksum (1 in 256)."""
    real = r.encode_tag_record(r.TagRecord(b"\x11" * 12, rssi_dbm=-60))
    found = 0
    for cut in range(6, 19):
        for k in range(256):
            head = r.encode_tag_record(r.TagRecord(bytes([k, 0x22] * 6)))[:cut]
            data = head + real + real
            if sum(data[: len(real)]) % 256:
                continue  # the false candidate fails the checksum anyway
            found += 1
            got = [x.epc for res in r.decode_capture(data, "r", 5) for b in res.batches for x in b.reads()]
            assert got == [b"\x11" * 12] * 2
    assert found > 0


def test_inventory_error_frame_reaches_health() -> None:
    result = r.R2000Decoder("r").feed(r.encode_status(1, r.CMD_REAL_TIME_INVENTORY, 0x22), 0)
    assert result.health is not None and result.health.errors == ["inventory error 22"]
