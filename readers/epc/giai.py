"""GIAI-96 (TDS §14.6.6, Table 14-23): individual assets (fixtures, readers)."""

from __future__ import annotations

from readers.epc import partition as pt
from readers.epc._bits import BitReader, BitWriter
from readers.epc._common import partition_of
from readers.epc.errors import EpcError, EpcErrorReason
from readers.epc.gtin import is_digits
from readers.epc.model import DL_ROOT, DecodedEpc, Scheme
from readers.epc.sgtin import check_filter, integer_serial
from readers.epc.uri import digital_link_component

HEADER = 0x34
BITS = 96


def decode_giai96(reader: BitReader, hex_: str) -> DecodedEpc:
    filter_ = reader.read(3)
    partition = reader.read(3)
    row = pt.row_for_partition(pt.GIAI96, partition)
    gcp = pt.check_company_prefix(reader.read(row.gcp_bits), row, partition)
    asset = str(reader.read(row.ref_bits))  # unpadded: no leading zeros
    key = gcp + asset
    return DecodedEpc(
        hex=hex_,
        scheme=Scheme.GIAI_96.value,
        filter=filter_,
        element_string=f"(8004){key}",
        digital_link=f"{DL_ROOT}/8004/{digital_link_component(key)}",
        gs1_key=key,
        uri=f"urn:epc:id:giai:{gcp}.{asset}",
        tag_uri=f"urn:epc:tag:giai-96:{filter_}.{gcp}.{asset}",
        company_prefix=gcp,
        partition=partition,
        serial=asset,
    )


def encode_giai(giai: str, *, filter: int = 0, company_prefix_length: int = 7) -> bytes:
    """GIAI-96 from the AI (8004) value: GCP + a numeric asset reference, no leading zeros."""
    if not isinstance(giai, str) or not is_digits(giai):
        raise EpcError(EpcErrorReason.BAD_ARGUMENT, f"GIAI-96 needs an all-numeric GIAI: {giai!r}")
    check_filter(filter)
    partition = partition_of(pt.GIAI96, company_prefix_length)
    row = pt.GIAI96[partition]
    if len(giai) <= row.gcp_digits:
        raise EpcError(EpcErrorReason.BAD_ARGUMENT, f"GIAI {giai} has no asset reference")
    asset = integer_serial(giai[row.gcp_digits :], (1 << row.ref_bits) - 1, "asset reference")
    w = BitWriter()
    w.write(HEADER, 8)
    w.write(filter, 3)
    w.write(partition, 3)
    w.write(int(giai[: row.gcp_digits]), row.gcp_bits)
    w.write(asset, row.ref_bits)
    return w.to_bytes()
