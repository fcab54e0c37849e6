"""SGTIN+ serials in URN Code 40 (encoding indicator 5, TDS 2.x §14.5.6.5): hand-checked vectors.

URN Code 40 values: pad 0, A-Z 1-26, '-' 27, '.' 28, ':' 29, '0'-'9' 30-39. Three values
c1 c2 c3 pack into one 16-bit group c1*1600 + c2*40 + c3 + 1 (0x0001-0xFA00); a final group of
one or two characters is filled with the pad (0). The 5-bit length counts characters.

Every vector below is GTIN 79521141123453, filter 3 (the TDS 2.3 SGTIN+ worked example), so
the first 68 bits are the same 17 hex digits:
    F7 (header) | 0 (+AIDC toggle) 011 (filter 3) = 3 | 79521141123453 (14 x 4-bit digits)
"""

from __future__ import annotations

import pytest

from readers.epc import EpcError, EpcErrorReason, decode_epc, encode_sgtin, gtin_serial_of
from readers.epc.sgtin_plus import ASCII_7BIT, NUMERIC, URN_CODE40, encode_sgtin_plus

GTIN = "79521141123453"
HEAD = "F7379521141123453"  # 68 bits: header, toggle, filter, GTIN


def _code40(serial: str) -> bytes:
    return encode_sgtin_plus(GTIN, serial, 3, encoding=URN_CODE40)


# "A1.Z", length 4: indicator 101 + length 00100 = 1010 0100 = A4
#   group 0 "A1." = 1*1600 + 31*40 + 28 + 1 = 1600 + 1240 + 29 = 2869  = 0x0B35
#   group 1 "Z" + pad + pad = 26*1600 + 0 + 0 + 1                 = 41601 = 0xA281
#   68 + 8 + 32 = 108 bits, zero-padded to 112 (7 words): trailing nibble 0
# "GS1:X", length 5: 101 00101 = A5
#   group 0 "GS1" = 7*1600 + 19*40 + 31 + 1 = 11200 + 760 + 32 = 11992 = 0x2ED8
#   group 1 ":X" + pad = 29*1600 + 24*40 + 0 + 1 = 46400 + 960 + 1 = 47361 = 0xB901
# "999", length 3: 101 00011 = A3; group 39*1600 + 39*40 + 39 + 1 = 64000 = 0xFA00 (the largest)
#   68 + 8 + 16 = 92 bits, padded to 96 (6 words): trailing nibble 0
# "-", length 1: 101 00001 = A1; group 27*1600 + 1 = 43201 = 0xA8C1
VECTORS = [
    ("A1.Z", HEAD + "A4" + "0B35" + "A281" + "0"),
    ("GS1:X", HEAD + "A5" + "2ED8" + "B901" + "0"),
    ("999", HEAD + "A3" + "FA00" + "0"),
    ("-", HEAD + "A1" + "A8C1" + "0"),
]


@pytest.mark.parametrize(("serial", "hex_"), VECTORS)
def test_code40_vectors_encode_and_decode(serial: str, hex_: str) -> None:
    assert _code40(serial).hex().upper() == hex_
    d = decode_epc(hex_)
    assert (d.scheme, d.filter, d.gtin14, d.serial, d.aidc_toggle) == ("sgtin+", 3, GTIN, serial, 0)
    assert d.identity == f"(01){GTIN}(21){serial}"
    assert gtin_serial_of(bytes.fromhex(hex_)) == (GTIN, serial)


def test_code40_vector_digital_link() -> None:
    d = decode_epc(HEAD + "A52ED8B9010")
    assert d.digital_link == f"https://id.gs1.org/01/{GTIN}/21/GS1%3AX"
    assert d.uri is None


def test_default_choice_is_unchanged_code40_only_when_asked() -> None:
    # ':' is outside base64, so the default rule still sends "GS1:X" as 7-bit ASCII (indicator 4).
    default = encode_sgtin(GTIN, "GS1:X", scheme="sgtin+", filter=3)
    assert default.hex().upper()[17:19] == "85"  # 100 00101
    assert decode_epc(default).serial == "GS1:X"
    assert encode_sgtin_plus(GTIN, "GS1:X", 3, encoding=ASCII_7BIT) == default
    assert encode_sgtin_plus(GTIN, "GS1:X", 3) == default


def test_every_code40_character() -> None:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ-.:0123456789"
    for i in range(0, len(alphabet), 20):
        chunk = alphabet[i : i + 20]
        assert decode_epc(_code40(chunk)).serial == chunk


def test_twenty_characters_use_seven_groups() -> None:
    epc = _code40("ABCDEFGHIJKLMNOPQRST")
    # 68 + 8 + 7 * 16 = 188 bits -> 12 words
    assert len(epc) == 24
    assert epc.hex().upper()[17:19] == "B4"  # 101 10100: indicator 5, length 20


@pytest.mark.parametrize(
    ("serial", "encoding", "reason"),
    [
        ("a1", URN_CODE40, EpcErrorReason.BAD_ENCODING),  # lower case: not in Code 40
        ("A/B", URN_CODE40, EpcErrorReason.BAD_ENCODING),  # '/' is Table A-1, not Code 40
        ("A_B", URN_CODE40, EpcErrorReason.BAD_ENCODING),
        ("A B", URN_CODE40, EpcErrorReason.SERIAL_CHARACTER),  # space: not even Table A-1
        ("", URN_CODE40, EpcErrorReason.SERIAL_EMPTY),
        ("A" * 21, URN_CODE40, EpcErrorReason.SERIAL_RANGE),
        ("12A", NUMERIC, EpcErrorReason.BAD_ENCODING),
        ("ABC", 6, EpcErrorReason.BAD_ENCODING),  # reserved indicator
        ("ABC", -1, EpcErrorReason.BAD_ENCODING),
        ("ABC", True, EpcErrorReason.BAD_ENCODING),
    ],
)
def test_code40_encode_rejections(serial: str, encoding: int, reason: EpcErrorReason) -> None:
    with pytest.raises(EpcError) as info:
        encode_sgtin_plus(GTIN, serial, 3, encoding=encoding)
    assert info.value.reason is reason
    assert info.value.detail


@pytest.mark.parametrize(
    ("hex_", "reason"),
    [
        # length 1, group 0x0000: below the smallest group (0x0001)
        (HEAD + "A1" + "0000" + "0", EpcErrorReason.BAD_ENCODING),
        # length 3, group 0xFA01 = 64001: above "999" (0xFA00)
        (HEAD + "A3" + "FA01" + "0", EpcErrorReason.BAD_ENCODING),
        (HEAD + "A3" + "FFFF" + "0", EpcErrorReason.BAD_ENCODING),
        # second group out of range after a valid first one ("A1." then 0xFFFF)
        (HEAD + "A4" + "0B35" + "FFFF" + "0", EpcErrorReason.BAD_ENCODING),
        # length 1 but the group holds "AB" (1*1600 + 2*40 + 0 + 1 = 0x0691): data in the pad
        (HEAD + "A1" + "0691" + "0", EpcErrorReason.BAD_ENCODING),
        # length 3 but group 0x0001 = pad, pad, pad: a pad where a character is counted
        (HEAD + "A3" + "0001" + "0", EpcErrorReason.SERIAL_CHARACTER),
        # length 2, group "A" + pad + pad (0x0641): the second counted character is a pad
        (HEAD + "A2" + "0641" + "0", EpcErrorReason.SERIAL_CHARACTER),
        # length 4 needs two groups; only one present
        (HEAD + "A4" + "0B35", EpcErrorReason.TOO_SHORT),
        # length 0
        (HEAD + "A0" + "0000" + "0", EpcErrorReason.SERIAL_EMPTY),
    ],
)
def test_code40_decode_rejections(hex_: str, reason: EpcErrorReason) -> None:
    with pytest.raises(EpcError) as info:
        decode_epc(hex_)
    assert info.value.reason is reason
    assert info.value.detail
    assert gtin_serial_of(bytes.fromhex(hex_ + "0" * (len(hex_) % 2))) is None
