"""SGTIN+ (TDS 2.0 header F7): GTIN digits and the AI 21 serial encoded directly."""

from __future__ import annotations

from readers.epc._bits import BitReader, BitWriter
from readers.epc.errors import EpcError, EpcErrorReason
from readers.epc.gtin import check_digit, validate_gtin14
from readers.epc.model import DecodedEpc, Scheme
from readers.epc.sgtin import check_filter, sgtin_value
from readers.epc.uri import SERIAL_CHARSET, check_serial_text

HEADER = 0xF7
SERIAL_MAX_CHARS = 20  # AI 21 is X..20

# Encoding indicators (TDS 2.0 Table E).
NUMERIC, UPPER_HEX, LOWER_HEX, BASE64_URL, ASCII_7BIT, URN_CODE40 = range(6)

_UPPER_HEX = "0123456789ABCDEF"
_LOWER_HEX = "0123456789abcdef"
_BASE64_URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_ALPHABETS = {UPPER_HEX: (_UPPER_HEX, 4), LOWER_HEX: (_LOWER_HEX, 4), BASE64_URL: (_BASE64_URL, 6)}
_CODE_OK = frozenset(ord(c) for c in SERIAL_CHARSET)

# URN Code 40 (TDS 2.x §14.5.6.5): character values 1-39; value 0 is the pad that fills a
# final group of one or two characters. Three values pack as c1*1600 + c2*40 + c3 + 1 into
# 16 bits (0x0001-0xFA00); the length field counts characters, so data = ceil(L/3) groups.
_CODE40 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ-.:0123456789"
_CODE40_VALUE = {ch: value for value, ch in enumerate(_CODE40, start=1)}
_CODE40_PAD = 0
_CODE40_GROUP_MAX = 40**3  # 64000 = 0xFA00: "999" -> 39*1600 + 39*40 + 39 + 1


def numeric_bits(digits: int) -> int:
    """ceil(digits * log2(10)) computed exactly: the smallest b with 2^b >= 10^digits."""
    return int(10**digits - 1).bit_length()


def _decode_serial(reader: BitReader) -> str:
    indicator = reader.read(3)
    length = reader.read(5)
    if length == 0:
        raise EpcError(EpcErrorReason.SERIAL_EMPTY, "serial length 0")
    if length > SERIAL_MAX_CHARS:
        raise EpcError(EpcErrorReason.SERIAL_RANGE, f"serial length {length} > {SERIAL_MAX_CHARS}")
    if indicator == NUMERIC:
        value = reader.read(numeric_bits(length))
        if value >= 10**length:
            raise EpcError(
                EpcErrorReason.SERIAL_RANGE, f"numeric serial {value} has more than {length} digits"
            )
        return str(value).zfill(length)
    if indicator in _ALPHABETS:
        alphabet, width = _ALPHABETS[indicator]
        return "".join(alphabet[reader.read(width)] for _ in range(length))
    if indicator == ASCII_7BIT:
        chars: list[str] = []
        for i in range(length):
            code = reader.read(7)
            if code not in _CODE_OK:
                raise EpcError(
                    EpcErrorReason.SERIAL_CHARACTER,
                    f"serial character {i} is {code:#04x}, not a Table A-1 character",
                )
            chars.append(chr(code))
        return "".join(chars)
    if indicator == URN_CODE40:
        return _decode_code40(reader, length)
    raise EpcError(EpcErrorReason.BAD_ENCODING, f"reserved encoding indicator {indicator}")


def _decode_code40(reader: BitReader, length: int) -> str:
    """`length` characters from ceil(length/3) 16-bit groups; a final group pads with value 0."""
    chars: list[str] = []
    for start in range(0, length, 3):
        group = reader.read(16)
        if not 1 <= group <= _CODE40_GROUP_MAX:
            raise EpcError(
                EpcErrorReason.BAD_ENCODING,
                f"URN Code 40 group {start // 3} is {group:#06x}, outside 0x0001-0xFA00",
            )
        v = group - 1
        for i, value in enumerate((v // 1600, v // 40 % 40, v % 40), start):
            if i >= length:
                if value != _CODE40_PAD:
                    raise EpcError(
                        EpcErrorReason.BAD_ENCODING,
                        f"URN Code 40 group {start // 3} holds a character after the {length} counted",
                    )
            elif value == _CODE40_PAD:
                raise EpcError(
                    EpcErrorReason.SERIAL_CHARACTER,
                    f"serial character {i} is the URN Code 40 pad, not a character",
                )
            else:
                chars.append(_CODE40[value - 1])
    return "".join(chars)


def _write_code40(w: BitWriter, serial: str) -> None:
    for start in range(0, len(serial), 3):
        values = [_CODE40_VALUE[ch] for ch in serial[start : start + 3]]
        values += [_CODE40_PAD] * (3 - len(values))
        w.write(values[0] * 1600 + values[1] * 40 + values[2] + 1, 16)


def decode_sgtin_plus(reader: BitReader, hex_: str) -> DecodedEpc:
    """Decode after the header. Further AIs (toggle 1) are not decoded, only flagged."""
    toggle = reader.read(1)
    filter_ = reader.read(3)
    digits: list[str] = []
    for i in range(14):
        d = reader.read(4)
        if d > 9:
            raise EpcError(EpcErrorReason.BAD_DIGIT, f"GTIN digit {i} is {d:#x}")
        digits.append(str(d))
    gtin14 = "".join(digits)
    expected = check_digit(gtin14[:13])
    if gtin14[13] != expected:
        raise EpcError(EpcErrorReason.CHECK_DIGIT, f"GTIN {gtin14} check digit should be {expected}")
    serial = _decode_serial(reader)
    return sgtin_value(hex_, Scheme.SGTIN_PLUS, filter_, None, None, gtin14, serial, toggle)


def _choose_encoding(serial: str) -> int:
    chars = set(serial)
    if chars <= set("0123456789") and (serial == "0" or serial[0] != "0"):
        return NUMERIC
    for indicator in (UPPER_HEX, LOWER_HEX, BASE64_URL):
        if chars <= set(_ALPHABETS[indicator][0]):
            return indicator
    return ASCII_7BIT


def _check_encoding(serial: str, indicator: int) -> None:
    """Raise BAD_ENCODING unless `indicator` is implemented and can carry every character."""
    if isinstance(indicator, bool) or not isinstance(indicator, int):
        raise EpcError(EpcErrorReason.BAD_ENCODING, f"encoding indicator must be 0-5: {indicator!r}")
    if indicator == NUMERIC:
        alphabet = "0123456789"
    elif indicator in _ALPHABETS:
        alphabet = _ALPHABETS[indicator][0]
    elif indicator == URN_CODE40:
        alphabet = _CODE40
    elif indicator == ASCII_7BIT:
        return  # every Table A-1 character
    else:
        raise EpcError(EpcErrorReason.BAD_ENCODING, f"reserved encoding indicator {indicator!r}")
    bad = sorted(set(serial) - set(alphabet))
    if bad:
        raise EpcError(
            EpcErrorReason.BAD_ENCODING,
            f"encoding indicator {indicator} cannot carry serial characters {bad!r}",
        )


def encode_sgtin_plus(gtin14: str, serial: str, filter_: int, encoding: int | None = None) -> bytes:
    """SGTIN+ with the +AIDC toggle 0, zero-padded to a 16-bit word.

    By default the serial takes the first of numeric (no leading zero), upper-case hex,
    lower-case hex, URL-safe base64 and 7-bit ASCII that holds all its characters.
    `encoding` (0-5, e.g. `URN_CODE40`) forces an indicator; `EpcError(BAD_ENCODING)` if that
    encoding cannot carry the serial or is reserved.
    """
    validate_gtin14(gtin14)
    check_filter(filter_)
    check_serial_text(serial, SERIAL_MAX_CHARS)
    if encoding is None:
        indicator = _choose_encoding(serial)
    else:
        _check_encoding(serial, encoding)
        indicator = encoding
    w = BitWriter()
    w.write(HEADER, 8)
    w.write(0, 1)
    w.write(filter_, 3)
    for ch in gtin14:
        w.write(int(ch), 4)
    w.write(indicator, 3)
    w.write(len(serial), 5)
    if indicator == NUMERIC:
        w.write(int(serial), numeric_bits(len(serial)))
    elif indicator == ASCII_7BIT:
        for ch in serial:
            w.write(ord(ch), 7)
    elif indicator == URN_CODE40:
        _write_code40(w, serial)
    else:
        alphabet, width = _ALPHABETS[indicator]
        for ch in serial:
            w.write(alphabet.index(ch), width)
    return w.to_bytes()
