"""SSCC-96 (TDS §14.6.2, Table 14-7)."""

from __future__ import annotations

from readers.epc import partition as pt
from readers.epc._bits import BitReader, BitWriter
from readers.epc._common import check_key, partition_of
from readers.epc.errors import EpcError, EpcErrorReason
from readers.epc.gtin import check_digit
from readers.epc.model import DL_ROOT, DecodedEpc, Scheme
from readers.epc.sgtin import check_filter

HEADER = 0x31
BITS = 96
RESERVED_BITS = 24


def decode_sscc96(reader: BitReader, hex_: str) -> DecodedEpc:
    filter_ = reader.read(3)
    partition = reader.read(3)
    row = pt.row_for_partition(pt.SSCC, partition)
    gcp = pt.check_company_prefix(reader.read(row.gcp_bits), row, partition)
    ref = pt.check_reference(reader.read(row.ref_bits), row, partition, "extension+serial reference")
    reserved = reader.read(RESERVED_BITS)
    if reserved:
        raise EpcError(EpcErrorReason.RESERVED_BITS, f"the 24 reserved bits are {reserved:#08x}, not zero")
    body = ref[0] + gcp + ref[1:]
    key = body + check_digit(body)
    return DecodedEpc(
        hex=hex_,
        scheme=Scheme.SSCC_96.value,
        filter=filter_,
        element_string=f"(00){key}",
        digital_link=f"{DL_ROOT}/00/{key}",
        gs1_key=key,
        uri=f"urn:epc:id:sscc:{gcp}.{ref}",
        tag_uri=f"urn:epc:tag:sscc-96:{filter_}.{gcp}.{ref}",
        company_prefix=gcp,
        partition=partition,
    )


def encode_sscc(sscc: str, *, filter: int = 0, company_prefix_length: int = 7) -> bytes:
    """SSCC-96 from the 18-digit SSCC (AI 00) and the length of its company prefix."""
    check_key(sscc, 18, "SSCC")
    check_filter(filter)
    partition = partition_of(pt.SSCC, company_prefix_length)
    row = pt.SSCC[partition]
    w = BitWriter()
    w.write(HEADER, 8)
    w.write(filter, 3)
    w.write(partition, 3)
    w.write(int(sscc[1 : 1 + row.gcp_digits]), row.gcp_bits)
    w.write(int(sscc[0] + sscc[1 + row.gcp_digits : 17]), row.ref_bits)
    w.write(0, RESERVED_BITS)
    return w.to_bytes()
