"""TSL ASCII 2 handheld: transcript, census batches, encoders, robustness."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from readers.driver import InputError, InputErrorReason
from readers.formats import tsl

TRANSCRIPT = Path("/work/shared/reference/samples/tsl_ascii2_transcript.txt")
needs_samples = pytest.mark.skipif(not TRANSCRIPT.exists(), reason="reference samples not present")


def _transcript(direction: str) -> list[bytes]:
    lines = TRANSCRIPT.read_text().splitlines()
    return [
        (b"" if line[2:] == "<empty>" else line[2:].encode()) + b"\r\n"
        for line in lines
        if line.startswith(direction)
    ]


@needs_samples
def test_transcript_decodes_to_its_reads_and_an_empty_census() -> None:
    data = b"".join(_transcript("< "))
    decoder = tsl.TslDecoder("hh1", zone="backroom")
    result = decoder.feed(data, 77)
    assert result.errors == []
    assert [b.census_zone for b in result.batches] == ["backroom", "backroom"]
    first, second = result.batches
    assert [(x.epc.hex().upper(), x.antenna, x.rssi_dbm, x.time_ns) for x in first.reads()] == [
        ("000000000000000000001242", 1, -61.0, 77)
    ]
    assert len(second) == 0  # ER:005: the area holds no tag
    assert [(x.command, x.ok, x.error_code) for x in decoder.take_responses()] == [
        (".iv -r on -n", True, None),
        (".iv", True, None),
        (".iv", False, 5),
    ]


@needs_samples
def test_transcript_commands_and_responses_re_encode_byte_exact() -> None:
    sent = _transcript("> ")
    iv = tsl.encode_command(".iv")
    assert sent == [tsl.encode_command(".iv", "-r on", "-n"), iv, iv]
    received = b"".join(_transcript("< "))
    assert received == (
        tsl.encode_response(".iv -r on -n")
        + tsl.encode_response(".iv", [tsl.TslTag(bytes.fromhex("000000000000000000001242"), -61)])
        + tsl.encode_response(".iv", error_code=5)
    )


def test_cut_block_stray_bytes_and_bad_epc_are_counted() -> None:
    good = tsl.encode_response(".iv", [tsl.TslTag(b"\x01\x02", -40), tsl.TslTag(b"\x03\x04", -50)])
    cut = good[:25]
    noisy = good.replace(b"EP: 0304", b"EP: 03\x00\x0004").replace(b"RI: -40", b"RI: -4\xff0")
    bad_epc = good.replace(b"EP: 0102", b"EP: 01Z2")
    data = cut + noisy + b"~~ line noise\r\n" + bad_epc + b"BP: 3.9V\r\n" + good[:30]
    results = list(tsl.decode_capture(data, "hh", zone="floor", chunk=3))
    batches = [b for res in results for b in res.batches]
    assert [[(x.epc, x.rssi_dbm) for x in b.reads()] for b in batches] == [
        [(b"\x01\x02", -40.0), (b"\x03\x04", -50.0)],
        [(b"\x03\x04", -50.0)],
    ]
    reasons = Counter(e.reason for res in results for e in res.errors)
    assert reasons == {
        InputErrorReason.TRUNCATED: 2,
        InputErrorReason.GARBAGE: 3,
        InputErrorReason.BAD_EPC: 1,
    }
    healths = [res.health for res in results if res.health is not None]
    assert any(h.extra.get("BP") == "3.9V" for h in healths)


def test_set_only_and_other_commands_are_not_a_census() -> None:
    data = tsl.encode_response(".iv -x -n") + tsl.encode_response(".vr", info=[("VR", "2.3")])
    data += tsl.encode_response(".iv", error_code=8)
    result = tsl.TslDecoder("hh").feed(data, 0)
    assert result.batches == []
    assert result.health is not None and result.health.errors[0].startswith("ER:008")


tags = st.lists(
    st.builds(tsl.TslTag, epc=st.binary(min_size=1, max_size=32), rssi_dbm=st.none() | st.integers(-99, 0)),
    max_size=20,
)


@settings(max_examples=100)
@given(st.lists(tags, min_size=1, max_size=5), st.integers(1, 40))
def test_inventories_round_trip_in_any_chunking(blocks: list[list[tsl.TslTag]], chunk: int) -> None:
    data = b"".join(tsl.encode_response(".iv -r on", b) for b in blocks)
    results = list(tsl.decode_capture(data, "hh", chunk=chunk))
    batches = [b for res in results for b in res.batches]
    assert all(res.errors == [] for res in results)
    assert [[x.epc for x in b.reads()] for b in batches] == [[t.epc for t in b] for b in blocks]


@given(st.binary(max_size=500), st.integers(1, 60))
def test_arbitrary_bytes_only_produce_counted_input_errors(data: bytes, chunk: int) -> None:
    results = list(tsl.decode_capture(data, "hh", chunk=chunk))
    assert all(isinstance(e, InputError) for res in results for e in res.errors)


def test_encode_command_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        tsl.encode_command("iv")
    with pytest.raises(ValueError):
        tsl.encode_command(".iv", "-r on\r\n.ab")
