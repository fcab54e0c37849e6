"""Differential test against epcpy (nedap/retail-epcpy) on SGTIN-96.

epcpy is a cross-check, not an oracle: it is used on SGTIN-96 only (it wrongly rejects valid
SGTIN-198 serials such as `?B`, see the reference notes), and it does not report the filter
on decode, so the filter is compared through its encoder and tag URI.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from readers.epc import EpcError, decode_epc, encode_sgtin

epcpy = pytest.importorskip("epcpy")
from epcpy.epc_schemes.sgtin import SGTIN, SGTINFilterValue  # noqa: E402

_ROWS = [(40, 12, 4, 1), (37, 11, 7, 2), (34, 10, 10, 3), (30, 9, 14, 4),
         (27, 8, 17, 5), (24, 7, 20, 6), (20, 6, 24, 7)]  # fmt: skip


@st.composite
def valid_sgtin96(draw: st.DrawFn) -> bytes:
    """A well-formed SGTIN-96 built bit by bit (independently of the codec under test)."""
    p = draw(st.integers(0, 6))
    m, l_digits, _n, k = _ROWS[p]
    edge = st.sampled_from
    gcp = draw(st.integers(0, 10**l_digits - 1) | edge([0, 10**l_digits - 1]))
    item = draw(st.integers(0, 10**k - 1) | edge([0, 10**k - 1]))
    serial = draw(st.integers(0, 2**38 - 1) | edge([0, 1, 2**38 - 1]))
    f = draw(st.integers(0, 7))
    v = (0x30 << 88) | (f << 85) | (p << 82) | (gcp << (82 - m)) | (item << 38) | serial
    return v.to_bytes(12, "big")


@settings(max_examples=400, deadline=None)
@given(raw=valid_sgtin96())
@example(raw=bytes.fromhex("3074257BF7194E4000001A85"))
@example(raw=bytes.fromhex("30C579D5D4ADB60000000000"))
def test_sgtin96_agrees_with_epcpy(raw: bytes) -> None:
    hex_ = raw.hex().upper()
    ours = decode_epc(raw)
    theirs = epcpy.hex_to_tag_encodable(hex_)
    assert isinstance(theirs, SGTIN)
    assert ours.uri == theirs.epc_uri
    assert ours.gtin14 == theirs.gtin()
    assert ours.element_string == theirs.gs1_element_string()
    filter_value = SGTINFilterValue(str(ours.filter))
    assert ours.tag_uri == theirs.tag_uri(SGTIN.BinaryCodingScheme.SGTIN_96, filter_value)
    # Encoding: epcpy from the pure identity URI and our encoder give the same bits.
    assert ours.gtin14 is not None and ours.serial is not None and ours.company_prefix
    from_uri = SGTIN.from_epc_uri(ours.uri)
    assert isinstance(from_uri, SGTIN)
    epcpy_hex = from_uri.hex(
        binary_coding_scheme=SGTIN.BinaryCodingScheme.SGTIN_96, filter_value=filter_value
    )
    assert epcpy_hex == hex_
    assert (
        encode_sgtin(
            ours.gtin14,
            ours.serial,
            filter=ours.filter,
            company_prefix_length=len(ours.company_prefix),
        )
        == raw
    )


@settings(max_examples=300, deadline=None)
@given(tail=st.binary(min_size=11, max_size=11))
def test_sgtin96_acceptance_agrees_with_epcpy(tail: bytes) -> None:
    """On arbitrary 96-bit SGTIN-96 input both decoders accept and reject the same EPCs."""
    hex_ = ("30" + tail.hex()).upper()
    try:
        ours = decode_epc(hex_)
    except EpcError:
        ours = None
    try:
        theirs = epcpy.hex_to_tag_encodable(hex_)
    except Exception:  # epcpy raises several types; any of them is a rejection
        theirs = None
    assert (ours is None) == (theirs is None), hex_
    if ours is not None and theirs is not None:
        assert ours.uri == theirs.epc_uri
