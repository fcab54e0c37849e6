"""Mercury serial protocol: golden frames, CRC, encoders byte-exact, resynchronisation."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from readers.driver import DecodeResult, InputError, InputErrorReason
from readers.formats import mercury as m

SAMPLES = Path("/work/shared/reference/samples/thingmagic_mercury_frames.json")
FRAMES = {f["name"]: f for f in json.loads(SAMPLES.read_text())} if SAMPLES.exists() else {}
needs_samples = pytest.mark.skipif(not FRAMES, reason="reference samples not present")


def _hex(name: str) -> bytes:
    return bytes.fromhex(FRAMES[name]["hex"])


def _reads(result: DecodeResult) -> list[tuple[bytes, int, float]]:
    return [(r.epc, r.antenna, r.rssi_dbm) for b in result.batches for r in b.reads()]


def test_crc_check_values() -> None:
    assert m.crc16(b"123456789") == 0xA69D
    assert m.crc16(b"\x00\x03") == 0x1D0C
    assert m.crc16(b"\x00\x00") == 0x1D0F
    assert m.crc16(b"") == 0xFFFF
    assert m.gen2_crc(b"123456789") == 0xD64E


@given(st.binary(min_size=2, max_size=64))
def test_crc_table_form_equals_nibble_definition(data: bytes) -> None:
    reg = 0xFFFF
    for byte in data:
        for nibble in (byte >> 4, byte & 0x0F):
            t = reg >> 12
            reg = ((reg << 4) | nibble) & 0xFFFF
            reg ^= m._NIBBLE_TABLE[t]
    assert m.crc16(data) == reg


@needs_samples
def test_every_sample_frame_has_a_valid_crc_and_is_decoded_without_error() -> None:
    for name, f in FRAMES.items():
        raw = bytes.fromhex(f["hex"])
        if f["direction"] == "host_to_module":
            dec = m.CommandDecoder()
            cmds = dec.feed(raw)
            assert dec.errors == [], name
            assert [c.opcode for c in cmds] == [int(f["opcode"], 16)], name
            assert m.encode_command(cmds[0].opcode, cmds[0].data) == raw, name
        else:
            decoder = m.MercuryDecoder("r1")
            result = decoder.feed(raw, 1_000)
            assert result.errors == [], name
            assert decoder.counters.frames == 1, name


@needs_samples
def test_streaming_record_01ff_decodes_to_documented_fields() -> None:
    exp = FRAMES["stream_tag_record_meta_01FF"]["decoded"]
    result = m.MercuryDecoder("r1").feed(_hex("stream_tag_record_meta_01FF"), 42)
    reads = [r for b in result.batches for r in b.reads()]
    assert len(reads) == 1
    (read,) = reads
    assert read.epc.hex().upper() == exp["epc"]
    assert read.rssi_dbm == exp["rssi_dbm"]
    assert read.antenna == 1  # antenna byte 11: TX1/RX1
    assert read.frequency_khz == exp["frequency_khz"]
    assert read.phase == exp["phase"]
    assert read.time_ns == 42  # continuous mode: host time on receipt
    assert read.read_count == exp["read_count"] == 1
    assert result.batches[0].read_count is None  # every record counts 1: no column to carry
    records, _ = m.parse_tag_records(_hex("stream_tag_record_meta_01FF"), 11, 1, 0x01FF)
    rec = records[0]
    assert rec.timestamp_ms == exp["timestamp_ms"]
    assert rec.read_count == exp["read_count"]
    assert rec.gpio == int(exp["gpio"], 16)
    assert rec.tag_crc == int(exp["tag_crc"], 16)
    assert m.gen2_crc(bytes.fromhex(exp["pc"] + exp["epc"])) == rec.tag_crc


@needs_samples
def test_tag_buffer_response_decodes_both_tags_with_host_anchored_time() -> None:
    exp = FRAMES["get_tag_buffer_response_2_tags"]["decoded"]["tags"]
    decoder = m.MercuryDecoder("r1")
    decoder.set_search_start(1_000_000_000)
    result = decoder.feed(_hex("get_tag_buffer_response_2_tags"), 5_000_000_000)
    reads = [r for b in result.batches for r in b.reads()]
    assert [r.epc.hex().upper() for r in reads] == [t["epc"] for t in exp]
    assert [r.rssi_dbm for r in reads] == [t["rssi_dbm"] for t in exp]
    assert [r.antenna for r in reads] == [int(t["antenna_byte"], 16) >> 4 for t in exp]
    assert [r.time_ns for r in reads] == [1_000_000_000 + t["timestamp_ms"] * 1_000_000 for t in exp]
    assert all(r.frequency_khz is None and r.phase is None for r in reads)
    assert [r.read_count for r in reads] == [t["read_count"] for t in exp] == [3, 1]
    assert result.batches[0].read_total == 4 == decoder.counters.reads
    assert decoder.take_responses()[0].tag_count == 2


@needs_samples
def test_stream_record_0057_and_keepalive() -> None:
    decoder = m.MercuryDecoder("r1")
    result = decoder.feed(_hex("stream_tag_record_meta_0057") + _hex("stream_no_tags_keepalive"), 7)
    assert _reads(result) == [(bytes.fromhex("E28011606000020D2A412182"), 1, -58.0)]
    assert decoder.counters.keepalives == 1
    assert result.health is not None and result.health.last_heartbeat_ns == 7


@needs_samples
@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("start_continuous_read_cmd", lambda: m.encode_start_continuous(0x01FF, 1000, 0x001B)),
        ("stop_continuous_read_cmd", m.encode_stop_continuous),
        ("disable_read_filter_cmd", m.encode_disable_read_filter),
        ("read_tag_multiple_sync_cmd", lambda: m.encode_timed_read(500, 0x0057, 0x0010)),
        ("get_tag_buffer_cmd", lambda: m.encode_get_tag_buffer(0x0057, 0)),
        ("get_version_cmd", lambda: m.encode_command(m.OP_VERSION)),
        ("set_region_na2_cmd", lambda: m.encode_command(m.OP_SET_REGION, b"\x0d")),
        ("stream_no_tags_keepalive", lambda: m.encode_timed_read_response(0)),
        ("set_region_response", lambda: m.encode_response(m.OP_SET_REGION)),
    ],
)
def test_encoders_reproduce_sample_frames(name: str, encoded: object) -> None:
    assert callable(encoded)
    assert encoded() == _hex(name)


@needs_samples
@pytest.mark.parametrize(
    ("name", "offset", "meta"),
    [("stream_tag_record_meta_01FF", 11, 0x01FF), ("stream_tag_record_meta_0057", 11, 0x0057)],
)
def test_stream_frames_round_trip_byte_exact(name: str, offset: int, meta: int) -> None:
    raw = _hex(name)
    records, end = m.parse_tag_records(raw, offset, 1, meta)
    assert end == len(raw) - 2
    assert m.encode_stream_tag_frame(records, meta, 0x001B, 0x10) == raw


@needs_samples
def test_tag_buffer_round_trip_byte_exact() -> None:
    raw = _hex("get_tag_buffer_response_2_tags")
    records, _ = m.parse_tag_records(raw, 9, 2, 0x0057)
    assert m.encode_tag_buffer_response(records, 0x0057) == raw


# ---------------------------------------------------------------- properties

epcs = st.binary(min_size=2, max_size=30).filter(lambda b: len(b) % 2 == 0)
records = st.builds(
    m.TagRecord,
    epc=epcs,
    rssi_dbm=st.integers(-128, 127),
    antenna_byte=st.sampled_from([0x11, 0x22, 0x33, 0x44]),
    frequency_khz=st.integers(0, 0xFFFFFF),
    timestamp_ms=st.integers(0, 0xFFFFFFFF),
    phase=st.integers(0, 0xFFFF),
    read_count=st.integers(1, 255),
    data=st.binary(max_size=8),
)
metas = st.sampled_from([0x0057, 0x01FF, 0x0002 | 0x0004, 0x1FFF, 0x0000, 0x00FF])


@given(records, metas)
def test_any_record_round_trips(rec: m.TagRecord, meta: int) -> None:
    frame = m.encode_stream_tag_frame([rec], meta)
    result = m.MercuryDecoder("r").feed(frame, 9)
    assert result.errors == []
    (read,) = [r for b in result.batches for r in b.reads()]
    assert read.epc == rec.epc
    assert read.antenna == (rec.antenna if meta & m.META_ANTENNA else 1)
    if meta & m.META_RSSI:
        assert read.rssi_dbm == rec.rssi_dbm
    else:
        assert math.isnan(read.rssi_dbm)
    assert read.frequency_khz == (rec.frequency_khz if meta & m.META_FREQUENCY else None)
    assert read.phase == (rec.phase if meta & m.META_PHASE else None)
    assert read.read_count == (rec.read_count if meta & m.META_READ_COUNT else 1)
    parsed, _ = m.parse_tag_records(frame, 11, 1, meta)
    assert m.encode_stream_tag_frame(parsed, meta) == frame


@pytest.mark.parametrize("meta", [0x0057, 0x01FF, 0x0001])
def test_zero_read_count_is_a_counted_bad_field(meta: int) -> None:
    """readCount 0 stands for no read: a counted BAD_FIELD for that record (fast path and
    general path alike); the other records of the frame and stream still come through."""
    zero = m.TagRecord(epc=b"\x01" * 12, read_count=0, rssi_dbm=-50)
    five = m.TagRecord(epc=b"\x02" * 12, read_count=5, rssi_dbm=-51)
    data = (
        m.encode_stream_tag_frame([zero], meta)  # one record: the fast path
        + m.encode_stream_tag_frame([five, zero, five], meta)  # several: the general path
        + m.encode_tag_buffer_response([zero, five], meta)
    )
    decoder = m.MercuryDecoder("r")
    result = decoder.feed(data, 3)
    assert [e.reason for e in result.errors] == [InputErrorReason.BAD_FIELD] * 3
    assert all("readCount 0" in str(e) for e in result.errors)
    reads = [r for b in result.batches for r in b.reads()]
    assert [(r.epc[0], r.read_count) for r in reads] == [(2, 5), (2, 5), (2, 5)]
    assert decoder.counters.reads == 15


def test_read_count_ignored_without_its_metadata_flag() -> None:
    rec = m.TagRecord(epc=b"\x01" * 12, read_count=0)  # not on the wire: counts 1
    result = m.MercuryDecoder("r").feed(m.encode_stream_tag_frame([rec], 0x0006), 0)
    assert result.errors == [] and [r.read_count for b in result.batches for r in b.reads()] == [1]


def test_xpc_record_takes_the_general_path() -> None:
    rec = m.TagRecord(epc=b"\x30" * 12, pc=0x3200, xpc=(0x8001, 0x0002), rssi_dbm=-50)
    frame = m.encode_stream_tag_frame([rec], 0x0057)
    result = m.MercuryDecoder("r").feed(frame, 0)
    assert _reads(result) == [(b"\x30" * 12, 1, -50.0)]
    parsed, _ = m.parse_tag_records(frame, 11, 1, 0x0057)
    assert parsed[0].xpc == (0x8001, 0x0002)


def test_bench_runs_and_both_parsers_agree() -> None:
    from bench.parsers_serial import bench_mercury

    out = bench_mercury(0.02, frames=200)
    assert out["reads_per_s"] > 0 and out["baseline_naive_reads_per_s"] > 0


@given(st.binary(max_size=600), st.lists(st.integers(1, 64), max_size=20))
def test_arbitrary_bytes_only_produce_counted_input_errors(data: bytes, cuts: list[int]) -> None:
    decoder = m.MercuryDecoder("r")
    pos = 0
    for cut in [*cuts, len(data)]:
        result = decoder.feed(data[pos : pos + cut], 0)
        assert all(isinstance(e, InputError) for e in result.errors)
        pos += cut
    decoder.finish(0)
    assert decoder._scanner.pending == 0


def _stream(recs: list[m.TagRecord], garbage: list[bytes]) -> bytes:
    out = bytearray()
    for i, rec in enumerate(recs):
        out += garbage[i % len(garbage)] if garbage else b""
        out += m.encode_stream_tag_frame([rec], 0x0057)
    return bytes(out)


@settings(max_examples=150)
@given(
    st.lists(records, min_size=1, max_size=12),
    st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\xff", b"")), max_size=6),
    st.integers(1, 97),
)
def test_clean_frames_between_garbage_all_come_through(
    recs: list[m.TagRecord], garbage: list[bytes], chunk: int
) -> None:
    data = _stream(recs, garbage)
    decoder = m.MercuryDecoder("r")
    got: list[bytes] = []
    for i in range(0, len(data), chunk):
        got += [r.epc for b in decoder.feed(data[i : i + chunk], 0).batches for r in b.reads()]
    got += [r.epc for b in decoder.finish(0).batches for r in b.reads()]
    assert got == [r.epc for r in recs]
    assert decoder.counters.reads == sum(r.read_count for r in recs)  # meta 0057 has readCount


@settings(max_examples=100)
@given(st.lists(records, min_size=1, max_size=8), st.lists(st.binary(max_size=40), max_size=6))
def test_arbitrary_garbage_never_hides_a_frame(recs: list[m.TagRecord], garbage: list[bytes]) -> None:
    data = _stream(recs, garbage)
    result = list(m.decode_capture(data, "r", chunk=17))
    got = [r.epc for res in result for b in res.batches for r in b.reads()]
    want = iter(got)
    assert all(any(e == w for e in want) for w in [r.epc for r in recs])  # in order, maybe extras


def test_bad_crc_and_truncation_are_counted_and_resynchronised() -> None:
    a = m.encode_stream_tag_frame([m.TagRecord(epc=b"\x01" * 12)], 0x0057)
    b = m.encode_stream_tag_frame([m.TagRecord(epc=b"\x02" * 12)], 0x0057)
    c = m.encode_stream_tag_frame([m.TagRecord(epc=b"\x03" * 12)], 0x0057)
    bad = bytearray(b)
    bad[20] ^= 0x40
    data = a + bytes(bad) + a[:15] + c + b"\x12\x34" + c + b[:9]
    results = list(m.decode_capture(data, "r", chunk=5))
    reasons = Counter(e.reason for res in results for e in res.errors)
    epcs_out = [r.epc[0] for res in results for bt in res.batches for r in bt.reads()]
    assert epcs_out == [1, 3, 3]
    assert reasons == {
        InputErrorReason.BAD_CRC: 1,
        InputErrorReason.TRUNCATED: 2,
        InputErrorReason.GARBAGE: 1,
    }


def test_false_header_with_long_length_does_not_swallow_following_frames() -> None:
    frame = m.encode_stream_tag_frame([m.TagRecord(epc=b"\xab" * 12)], 0x0057)
    data = b"\xff\xf0" + frame * 8
    results = list(m.decode_capture(data, "r", chunk=3))
    assert sum(len(b) for res in results for b in res.batches) == 8


def test_unknown_opcode_and_bad_record_are_counted() -> None:
    decoder = m.MercuryDecoder("r")
    result = decoder.feed(m.encode_response(0xEE, 0, b"\x01"), 0)
    assert [e.reason for e in result.errors] == [InputErrorReason.UNKNOWN_MESSAGE]
    # a streaming frame whose record claims a longer EPC than the frame holds
    frame = bytearray(m.encode_stream_tag_frame([m.TagRecord(epc=b"\x01" * 12)], 0x0002))[:-2]
    frame[13] = 0x01  # EPC length high byte: 384 bits
    body = bytes(frame[1:])
    result = decoder.feed(b"\xff" + body + m.crc16(body).to_bytes(2, "big"), 0)
    assert [e.reason for e in result.errors] == [InputErrorReason.BAD_FIELD]


def test_status_frames_reach_health() -> None:
    decoder = m.MercuryDecoder("r")
    result = decoder.feed(
        m.encode_response(m.OP_READ_TAG_MULTIPLE, m.STATUS_TEMPERATURE)
        + m.encode_response(m.OP_READ_TAG_MULTIPLE, m.STATUS_RETURN_LOSS),
        0,
    )
    assert result.health is not None
    assert [e.split()[0] for e in result.health.errors] == ["0504", "0505"]
    assert result.errors == []


def test_timed_read_reply_counts_and_host_commands_decode() -> None:
    decoder = m.MercuryDecoder("r")
    decoder.feed(m.encode_timed_read_response(3) + m.encode_timed_read_response(300), 0)
    assert [r.tag_count for r in decoder.take_responses()] == [3, 300]
    cmds = m.CommandDecoder().feed(b"\x00junk" + m.encode_timed_read(250) + m.encode_clear_tag_buffer())
    assert [(c.opcode, c.data) for c in cmds] == [
        (0x22, bytes.fromhex("10 0010 00FA 0057")),
        (0x2A, b""),
    ]
