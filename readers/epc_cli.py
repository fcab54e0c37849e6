"""`shelfsight epc decode|encode`."""

from __future__ import annotations

import json
import string
from typing import Annotated

import typer

epc_app = typer.Typer(no_args_is_help=True, help="Decode and encode GS1 EPCs.")


@epc_app.command("decode")
def decode(
    epcs: Annotated[list[str], typer.Argument(help="EPCs as hex (EPC bank from bit 20h).")],
) -> None:
    """Print one JSON object per EPC: hex, scheme, filter, gtin14, serial, uri (or an error).

    Exit status 0 when every EPC decoded, 1 when any did not.
    """
    from readers.epc import EpcError, decode_epc

    failed = 0
    for text in epcs:
        try:
            row: dict[str, str | int] = decode_epc(text).to_json()
        except EpcError as exc:
            failed += 1
            shown = text.strip()
            row = {"hex": shown.upper() if _is_hex(shown) else shown, "error": str(exc)}
        typer.echo(json.dumps(row))
    if failed:
        raise typer.Exit(1)


def _is_hex(text: str) -> bool:
    return bool(text) and all(c in string.hexdigits for c in text)


@epc_app.command("encode")
def encode(
    gtin: Annotated[str, typer.Option(help="GTIN-14 (14 digits with check digit).")],
    serial: Annotated[str, typer.Option(help="GS1 serial (AI 21).")],
    scheme: Annotated[str, typer.Option(help="sgtin-96, sgtin-198 or sgtin+.")] = "sgtin-96",
    filter: Annotated[int, typer.Option(help="Filter value 0-7 (1 = point-of-sale item).")] = 1,
    company_prefix_length: Annotated[
        int, typer.Option(help="Digits of the GS1 company prefix in the GTIN (6-12).")
    ] = 7,
) -> None:
    """Print the EPC of (GTIN, serial) as uppercase hex; bad input exits 2."""
    from readers.epc import EpcError, encode_sgtin

    try:
        epc = encode_sgtin(
            gtin,
            serial,
            scheme=scheme,
            filter=filter,
            company_prefix_length=company_prefix_length,
        )
    except EpcError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(epc.hex().upper())
