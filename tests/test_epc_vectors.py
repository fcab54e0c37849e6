"""Every vector of the shared reference (TDS 2.3, epc_vectors.json) plus hand-built edge cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from readers.epc import (
    DecodedEpc,
    EpcError,
    EpcErrorReason,
    decode_epc,
    encode_sgtin,
    gtin_serial_of,
)

# The shared reference copy; a copy at tests/data/epc_vectors.json wins when present.
_CANDIDATES = (
    Path(__file__).parent / "data" / "epc_vectors.json",
    Path("/work/shared/reference/epc_vectors.json"),
)
_FOUND = next((p for p in _CANDIDATES if p.exists()), None)
VECTORS: list[dict[str, Any]] = json.loads(_FOUND.read_text()) if _FOUND else []
VALID = [v for v in VECTORS if v["valid"]]
INVALID = [v for v in VECTORS if not v["valid"]]
needs_vectors = pytest.mark.skipif(_FOUND is None, reason="epc_vectors.json not found")

# The reference gives reasons as prose; these are the codes they map to.
EXPECTED_REASON = {
    "303C00000000000000000001": EpcErrorReason.BAD_PARTITION,
    "304BCD67769E000000000001": EpcErrorReason.COMPANY_PREFIX_RANGE,
    "3034257BF7D0900000000001": EpcErrorReason.REFERENCE_RANGE,
    "3634257BF7194E60808400000000000000000000000000000000": (EpcErrorReason.SERIAL_AFTER_TERMINATOR),
    "3634257BF7194E60A08400000000000000000000000000000000": EpcErrorReason.SERIAL_CHARACTER,
    "3634257BF7194E60FF0000000000000000000000000000000000": EpcErrorReason.SERIAL_CHARACTER,
    "3634257BF7194E40000000000000000000000000000000000000": EpcErrorReason.SERIAL_EMPTY,
    "3114257BF4499602D2000001": EpcErrorReason.RESERVED_BITS,
    "3074257BF7194E4000001A": EpcErrorReason.TOO_SHORT,
    "E28011700000020D2A412182": EpcErrorReason.TID_PREFIX,
    "000000000000000000000343": EpcErrorReason.UNPROGRAMMED,
}

_NOT_FIELDS = {"valid", "note", "serial_encoding", "reason"}


@needs_vectors
def test_vector_file_is_covered() -> None:
    assert len(VALID) >= 21
    assert {v["hex"] for v in INVALID} == set(EXPECTED_REASON)


@pytest.mark.parametrize("vector", VALID, ids=[v["hex"] for v in VALID])
def test_valid_vector_all_fields(vector: dict[str, Any]) -> None:
    for epc in (vector["hex"], vector["hex"].lower(), bytes.fromhex(vector["hex"])):
        decoded = decode_epc(epc)
        assert decoded.hex == vector["hex"]
        for key, expected in vector.items():
            if key in _NOT_FIELDS or key == "hex":
                continue
            assert getattr(decoded, key) == expected, key


@pytest.mark.parametrize("vector", VALID, ids=[v["hex"] for v in VALID])
def test_valid_vector_cli_json(vector: dict[str, Any]) -> None:
    decoded = decode_epc(vector["hex"])
    expected = {"hex": vector["hex"], "scheme": vector["scheme"], "filter": vector["filter"]}
    if "gtin14" in vector:
        expected["gtin14"] = vector["gtin14"]
    if vector["scheme"].startswith("sgtin"):
        expected["serial"] = vector["serial"]
    if vector.get("uri") is not None:
        expected["uri"] = vector["uri"]
    assert decoded.to_json() == expected
    assert list(decoded.to_json())[:3] == ["hex", "scheme", "filter"]


@pytest.mark.parametrize("vector", INVALID, ids=[v["hex"] for v in INVALID])
def test_invalid_vector_rejected_with_reason(vector: dict[str, Any]) -> None:
    for epc in (vector["hex"], bytes.fromhex(vector["hex"])):
        with pytest.raises(EpcError) as info:
            decode_epc(epc)
        assert info.value.reason is EXPECTED_REASON[vector["hex"]]
        assert info.value.detail
    assert gtin_serial_of(bytes.fromhex(vector["hex"])) is None


@pytest.mark.parametrize("vector", [v for v in VALID if "gtin14" in v], ids=lambda v: v["hex"])
def test_gtin_serial_of_matches_vectors(vector: dict[str, Any]) -> None:
    assert gtin_serial_of(bytes.fromhex(vector["hex"])) == (vector["gtin14"], vector["serial"])


def test_gtin_serial_of_non_sgtin_is_none() -> None:
    for v in VALID:
        if "gtin14" not in v:
            assert gtin_serial_of(bytes.fromhex(v["hex"])) is None
    assert gtin_serial_of(b"") is None
    assert gtin_serial_of(b"\x30") is None


def _by_hex(hex_: str) -> DecodedEpc:
    return decode_epc(hex_)


def test_filter_is_not_identity() -> None:
    a = _by_hex("3074257BF7194E4000001A85")
    b = _by_hex("3034257BF7194E4000001A85")
    c = _by_hex("30B4257BF7194E4000001A85")
    assert (a.filter, b.filter, c.filter) == (3, 1, 5)
    assert a.identity == b.identity == c.identity == "(01)80614141123458(21)6789"
    assert a.uri == b.uri
    assert a.tag_uri != b.tag_uri
    # SGTIN-198 carrying serial 6789 is the same EPC as the SGTIN-96 above.
    assert _by_hex("3634257BF7194E5B3770E40000000000000000000000000000").identity == a.identity


def test_sgtin198_reader_padding_is_truncated() -> None:
    hex50 = "3634257BF7194E5FC20000000000000000000000000000000000"[:50]
    hex52 = hex50 + "00"
    assert decode_epc(hex50).serial == decode_epc(hex52).serial == "?B"
    # Padding bits beyond 198 are ignored, whatever they hold.
    assert decode_epc(hex50[:49] + "3").serial == "?B"
    # 196 bits are not enough.
    with pytest.raises(EpcError) as info:
        decode_epc(hex50[:49])
    assert info.value.reason is EpcErrorReason.TOO_SHORT


def test_sgtin_plus_worked_example_encodes_back() -> None:
    assert (
        encode_sgtin("79521141123453", "32a/b", scheme="sgtin+", filter=3).hex().upper()
        == "F73795211411234538566CB0AFC4"
    )


def test_vectors_encode_back() -> None:
    for v in VALID:
        if v["scheme"] not in ("sgtin-96", "sgtin-198"):
            continue
        epc = encode_sgtin(
            v["gtin14"],
            v["serial"],
            scheme=v["scheme"],
            filter=v["filter"],
            company_prefix_length=len(v["company_prefix"]),
        )
        raw = bytes.fromhex(v["hex"])
        if v["scheme"] == "sgtin-96":
            assert epc == raw
        else:  # 198 bits padded to 13 words; the vectors carry 25 or 26 bytes
            assert len(epc) == 26
            assert epc[: len(raw)] == raw.ljust(26, b"\0")[: len(raw)]


@pytest.mark.parametrize(
    ("hex_", "reason"),
    [
        ("", EpcErrorReason.BAD_INPUT),
        ("  ", EpcErrorReason.BAD_INPUT),
        ("30XX", EpcErrorReason.BAD_INPUT),
        ("0x3074257BF7194E4000001A85", EpcErrorReason.BAD_INPUT),
        ("3", EpcErrorReason.TOO_SHORT),
        ("35" + "00" * 11, EpcErrorReason.UNSUPPORTED_SCHEME),  # GID-96
        ("39" + "00" * 25, EpcErrorReason.UNSUPPORTED_SCHEME),  # SGLN-195
        ("F9" + "00" * 11, EpcErrorReason.UNSUPPORTED_SCHEME),  # SSCC+
        ("FD" + "00" * 11, EpcErrorReason.UNSUPPORTED_SCHEME),  # SGTIN++
        ("FF" + "00" * 11, EpcErrorReason.RESERVED_HEADER),
        ("01" + "00" * 11, EpcErrorReason.RESERVED_HEADER),
        # SGTIN+ with GTIN check digit 4 instead of 3
        ("F73795211411234548566CB0AFC4", EpcErrorReason.CHECK_DIGIT),
        # SGTIN+ with a GTIN nibble A
        ("F737A5211411234538566CB0AFC4", EpcErrorReason.BAD_DIGIT),
        # SGTIN+ with encoding indicator 6 (reserved): 100 -> 110
        ("F7379521141123453C566CB0AFC4", EpcErrorReason.BAD_ENCODING),
        # SGTIN+ cut short inside the serial
        ("F73795211411234538566C", EpcErrorReason.TOO_SHORT),
        # SSCC-96 partition 6: company prefix 2^20-1 >= 10^6
        ("311BFFFFFFFFFFFFFF000000", EpcErrorReason.COMPANY_PREFIX_RANGE),
        # SSCC-96 partition 6: extension+serial reference 2^38-1 >= 10^11
        ("311800003FFFFFFFFF000000", EpcErrorReason.REFERENCE_RANGE),
        # GRAI-96 with partition 7
        ("337C00000000000000000001", EpcErrorReason.BAD_PARTITION),
        # GIAI-96 with company prefix 2^24-1 >= 10^7 at partition 5
        ("3477FFFFFC0000000000162E", EpcErrorReason.COMPANY_PREFIX_RANGE),
        # SGLN-96 partition 0: location reference has 0 digits, so its 1 bit must be 0
        ("3260000000000600000162E0", EpcErrorReason.REFERENCE_RANGE),
    ],
)
def test_more_rejections(hex_: str, reason: EpcErrorReason) -> None:
    with pytest.raises(EpcError) as info:
        decode_epc(hex_)
    assert info.value.reason is reason


def test_non_input_types_are_epc_errors() -> None:
    with pytest.raises(EpcError) as info:
        decode_epc(12345)  # type: ignore[arg-type]
    assert info.value.reason is EpcErrorReason.BAD_INPUT
    with pytest.raises(EpcError):
        decode_epc(b"")
