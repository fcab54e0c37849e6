"""Bit-level helpers: EPC input as one big integer with a bit length."""

from __future__ import annotations

import string

from readers.epc.errors import EpcError, EpcErrorReason

_HEX = frozenset(string.hexdigits)


def parse_input(epc: bytes | bytearray | memoryview | str) -> tuple[int, int, str]:
    """Return (value, bit length, uppercase hex) of an EPC given as bytes or hex text.

    Hex text may have an odd number of digits (4 bits each); whitespace around it is ignored.
    """
    if isinstance(epc, str):
        text = epc.strip()
        if not text:
            raise EpcError(EpcErrorReason.BAD_INPUT, "empty EPC")
        if not _HEX.issuperset(text):
            raise EpcError(EpcErrorReason.BAD_INPUT, f"not hexadecimal: {text[:64]!r}")
        return int(text, 16), 4 * len(text), text.upper()
    if isinstance(epc, bytes | bytearray | memoryview):
        raw = bytes(epc)
        if not raw:
            raise EpcError(EpcErrorReason.BAD_INPUT, "empty EPC")
        return int.from_bytes(raw, "big"), 8 * len(raw), raw.hex().upper()
    raise EpcError(EpcErrorReason.BAD_INPUT, f"EPC must be bytes or str, not {type(epc).__name__}")


class BitReader:
    """Reads fixed-width unsigned fields from the most significant end of an integer."""

    __slots__ = ("_nbits", "_pos", "_value")

    def __init__(self, value: int, nbits: int, pos: int = 0) -> None:
        self._value = value
        self._nbits = nbits
        self._pos = pos

    @property
    def remaining(self) -> int:
        return self._nbits - self._pos

    def read(self, width: int) -> int:
        if width > self.remaining:
            raise EpcError(
                EpcErrorReason.TOO_SHORT,
                f"needs {width} more bits at bit {self._pos}, {self.remaining} left",
            )
        self._pos += width
        return (self._value >> (self._nbits - self._pos)) & ((1 << width) - 1)


class BitWriter:
    """Accumulates fixed-width unsigned fields, most significant first."""

    __slots__ = ("_nbits", "_value")

    def __init__(self) -> None:
        self._value = 0
        self._nbits = 0

    @property
    def nbits(self) -> int:
        return self._nbits

    def write(self, value: int, width: int) -> None:
        if value < 0 or value >> width:
            raise ValueError(f"{value} does not fit in {width} bits")  # programming error
        self._value = (self._value << width) | value
        self._nbits += width

    def to_bytes(self, pad_to_bits: int = 16) -> bytes:
        """Zero-pad on the right to a multiple of `pad_to_bits` (16 = an EPC-bank word)."""
        total = -(-self._nbits // pad_to_bits) * pad_to_bits
        return (self._value << (total - self._nbits)).to_bytes(total // 8, "big")
