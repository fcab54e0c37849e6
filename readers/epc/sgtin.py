"""SGTIN-96 and SGTIN-198 (TDS §14.6.1, Tables 14-16 to 14-18)."""

from __future__ import annotations

from readers.epc import partition as pt
from readers.epc._bits import BitReader, BitWriter
from readers.epc.errors import EpcError, EpcErrorReason
from readers.epc.gtin import gtin14_from_parts, is_digits, validate_gtin14
from readers.epc.model import DL_ROOT, DecodedEpc, Scheme
from readers.epc.uri import (
    SERIAL_CHARSET,
    check_serial_text,
    digital_link_component,
    escape_uri_component,
)

HEADER_96 = 0x30
HEADER_198 = 0x36
BITS_96 = 96
BITS_198 = 198
SERIAL_96_BITS = 38
SERIAL_96_MAX = (1 << SERIAL_96_BITS) - 1
SERIAL_198_CHARS = 20

_CODE_OK = frozenset(ord(c) for c in SERIAL_CHARSET)


def sgtin_value(
    hex_: str,
    scheme: Scheme,
    filter_: int,
    company_prefix: str | None,
    partition: int | None,
    gtin14: str,
    serial: str,
    aidc_toggle: int | None = None,
) -> DecodedEpc:
    """Build the decoded value of any SGTIN scheme from its validated parts."""
    uri = tag_uri = None
    if company_prefix is not None:
        item_ref = gtin14[0] + gtin14[1 + len(company_prefix) : 13]
        esc = escape_uri_component(serial)
        uri = f"urn:epc:id:sgtin:{company_prefix}.{item_ref}.{esc}"
        if scheme is not Scheme.SGTIN_PLUS:
            tag_uri = f"urn:epc:tag:{scheme.value}:{filter_}.{company_prefix}.{item_ref}.{esc}"
    return DecodedEpc(
        hex=hex_,
        scheme=scheme.value,
        filter=filter_,
        element_string=f"(01){gtin14}(21){serial}",
        digital_link=f"{DL_ROOT}/01/{gtin14}/21/{digital_link_component(serial)}",
        gs1_key=gtin14,
        uri=uri,
        tag_uri=tag_uri,
        company_prefix=company_prefix,
        partition=partition,
        gtin14=gtin14,
        serial=serial,
        aidc_toggle=aidc_toggle,
    )


def _gtin_fields(reader: BitReader) -> tuple[int, int, str, str]:
    """Read filter, partition, company prefix and indicator+item reference (validated)."""
    filter_ = reader.read(3)
    partition = reader.read(3)
    row = pt.row_for_partition(pt.SGTIN, partition)
    gcp = pt.check_company_prefix(reader.read(row.gcp_bits), row, partition)
    item = pt.check_reference(reader.read(row.ref_bits), row, partition, "indicator+item reference")
    return filter_, partition, gcp, item


def decode_sgtin96(reader: BitReader, hex_: str) -> DecodedEpc:
    """Decode after the header: `reader` is positioned at bit 8 of a 96-bit EPC."""
    filter_, partition, gcp, item = _gtin_fields(reader)
    serial = str(reader.read(SERIAL_96_BITS))
    return sgtin_value(hex_, Scheme.SGTIN_96, filter_, gcp, partition, gtin14_from_parts(gcp, item), serial)


def decode_string_serial(reader: BitReader, groups: int) -> str:
    """A 7-bit string field (TDS §14.3.2 / §14.4.2): Table A-1 characters, zero-terminated."""
    chars: list[str] = []
    ended_at = -1
    for i in range(groups):
        code = reader.read(7)
        if code == 0:
            if ended_at < 0:
                ended_at = i
            continue
        if ended_at >= 0:
            raise EpcError(
                EpcErrorReason.SERIAL_AFTER_TERMINATOR,
                f"7-bit group {i} is {code:#04x} after the zero terminator at group {ended_at}",
            )
        if code not in _CODE_OK:
            raise EpcError(
                EpcErrorReason.SERIAL_CHARACTER,
                f"7-bit group {i} is {code:#04x}, not a Table A-1 character",
            )
        chars.append(chr(code))
    if not chars:
        raise EpcError(EpcErrorReason.SERIAL_EMPTY, "first 7-bit group is zero")
    return "".join(chars)


def decode_sgtin198(reader: BitReader, hex_: str) -> DecodedEpc:
    """Decode after the header: `reader` is positioned at bit 8 of a 198-bit EPC."""
    filter_, partition, gcp, item = _gtin_fields(reader)
    serial = decode_string_serial(reader, SERIAL_198_CHARS)
    return sgtin_value(hex_, Scheme.SGTIN_198, filter_, gcp, partition, gtin14_from_parts(gcp, item), serial)


def check_filter(filter_: int) -> int:
    if isinstance(filter_, bool) or not isinstance(filter_, int) or not 0 <= filter_ <= 7:
        raise EpcError(EpcErrorReason.BAD_FILTER, f"filter must be 0-7: {filter_!r}")
    return filter_


def integer_serial(serial: str, max_value: int, what: str = "serial") -> int:
    """A decimal serial with no leading zeros ('0' for zero) that fits an integer field."""
    if not isinstance(serial, str) or not is_digits(serial) or (len(serial) > 1 and serial[0] == "0"):
        raise EpcError(
            EpcErrorReason.SERIAL_RANGE,
            f"{what} {serial!r} is not a decimal integer without leading zeros",
        )
    value = int(serial)
    if value > max_value:
        raise EpcError(EpcErrorReason.SERIAL_RANGE, f"{what} {value} > {max_value}")
    return value


def encode_sgtin_partitioned(
    gtin14: str, serial: str, scheme: Scheme, filter_: int, company_prefix_length: int
) -> bytes:
    """SGTIN-96 or SGTIN-198. SGTIN-198 is zero-padded to 208 bits (13 words)."""
    validate_gtin14(gtin14)
    check_filter(filter_)
    if isinstance(company_prefix_length, bool) or not isinstance(company_prefix_length, int):
        raise EpcError(EpcErrorReason.BAD_COMPANY_PREFIX, "company prefix length must be int")
    partition = pt.partition_for_gcp_digits(pt.SGTIN, company_prefix_length)
    row = pt.SGTIN[partition]
    gcp = int(gtin14[1 : 1 + row.gcp_digits])
    item = int(gtin14[0] + gtin14[1 + row.gcp_digits : 13])
    w = BitWriter()
    if scheme is Scheme.SGTIN_96:
        value = integer_serial(serial, SERIAL_96_MAX)
        w.write(HEADER_96, 8)
    else:
        check_serial_text(serial, SERIAL_198_CHARS)
        w.write(HEADER_198, 8)
    w.write(filter_, 3)
    w.write(partition, 3)
    w.write(gcp, row.gcp_bits)
    w.write(item, row.ref_bits)
    if scheme is Scheme.SGTIN_96:
        w.write(value, SERIAL_96_BITS)
    else:
        for ch in serial.ljust(SERIAL_198_CHARS, "\0"):
            w.write(ord(ch), 7)
    return w.to_bytes()
