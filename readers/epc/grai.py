"""GRAI-96 (TDS §14.6.5, Table 14-19): returnable assets (totes, hangers)."""

from __future__ import annotations

from readers.epc import partition as pt
from readers.epc._bits import BitReader, BitWriter
from readers.epc._common import check_key, partition_of
from readers.epc.errors import EpcError, EpcErrorReason
from readers.epc.gtin import check_digit
from readers.epc.model import DL_ROOT, DecodedEpc, Scheme
from readers.epc.sgtin import check_filter, integer_serial

HEADER = 0x33
BITS = 96
SERIAL_BITS = 38
SERIAL_MAX = (1 << SERIAL_BITS) - 1


def decode_grai96(reader: BitReader, hex_: str) -> DecodedEpc:
    filter_ = reader.read(3)
    partition = reader.read(3)
    row = pt.row_for_partition(pt.GRAI, partition)
    gcp = pt.check_company_prefix(reader.read(row.gcp_bits), row, partition)
    asset = pt.check_reference(reader.read(row.ref_bits), row, partition, "asset type")
    serial = str(reader.read(SERIAL_BITS))
    body = "0" + gcp + asset
    key = body + check_digit(body) + serial
    return DecodedEpc(
        hex=hex_,
        scheme=Scheme.GRAI_96.value,
        filter=filter_,
        element_string=f"(8003){key}",
        digital_link=f"{DL_ROOT}/8003/{key}",
        gs1_key=key,
        uri=f"urn:epc:id:grai:{gcp}.{asset}.{serial}",
        tag_uri=f"urn:epc:tag:grai-96:{filter_}.{gcp}.{asset}.{serial}",
        company_prefix=gcp,
        partition=partition,
        serial=serial,
        asset_type=asset,
    )


def encode_grai(grai: str, *, filter: int = 0, company_prefix_length: int = 7) -> bytes:
    """GRAI-96 from the AI (8003) value: '0' + GCP + asset type + check digit + serial.

    GRAI-96 needs a serial that is a decimal integer without leading zeros below 2^38.
    """
    if not isinstance(grai, str) or len(grai) < 15:
        raise EpcError(EpcErrorReason.BAD_ARGUMENT, f"GRAI needs 14 digits and a serial: {grai!r}")
    check_key(grai[:14], 14, "GRAI")
    if grai[0] != "0":
        raise EpcError(EpcErrorReason.BAD_ARGUMENT, f"GRAI must start with '0': {grai!r}")
    serial = integer_serial(grai[14:], SERIAL_MAX, "GRAI serial")
    check_filter(filter)
    partition = partition_of(pt.GRAI, company_prefix_length)
    row = pt.GRAI[partition]
    w = BitWriter()
    w.write(HEADER, 8)
    w.write(filter, 3)
    w.write(partition, 3)
    w.write(int(grai[1 : 1 + row.gcp_digits]), row.gcp_bits)
    w.write(int(grai[1 + row.gcp_digits : 13] or "0"), row.ref_bits)
    w.write(serial, SERIAL_BITS)
    return w.to_bytes()
