"""`shelfsight gateway ...` and the catalogue import commands under `shelfsight db`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from gateway.run_cli import register as _register_run

gateway_app = typer.Typer(no_args_is_help=True, help="The shop's edge daemon.")
_register_run(gateway_app)

DsnOption = Annotated[str, typer.Option(envvar="SHELFSIGHT_DSN", help="libpq DSN of the store.")]
FileArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV file.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")]


def _run_import(kind: str, file: Path, dsn: str, as_json: bool) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from gateway.catalogue import CatalogueFormatError, CatalogueKind, import_file

    err = Console(stderr=True)
    with file.open("rb") as fh:
        total = max(0, sum(1 for _ in fh) - 1)
    with Progress(
        TextColumn(f"[bold]{kind}[/bold]"), BarColumn(), MofNCompleteColumn(),
        console=err, transient=True,
    ) as progress:
        task = progress.add_task(kind, total=total)
        try:
            report = import_file(dsn, CatalogueKind(kind), file,
                                 on_row=lambda: progress.advance(task))
        except CatalogueFormatError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
    for e in report.errors:
        # One plain line per rejected row (FILE:LINE: ...), never wrapped to the terminal width.
        typer.echo(f"{file}:{e.line}: rejected: {e.reason}", err=True)
    if as_json:
        typer.echo(json.dumps({
            "kind": kind, "upserted": report.upserted,
            "rejected": [{"line": e.line, "reason": e.reason} for e in report.errors],
        }))
    else:
        typer.echo(f"{report.upserted} {kind} row(s) upserted, {len(report.errors)} rejected")
    if report.errors:
        raise typer.Exit(1)


def add_db_commands(db_app: typer.Typer) -> None:
    """Register gateway-owned `db` subcommands (catalogue imports)."""

    @db_app.command("import-products")
    def import_products(file: FileArg, dsn: DsnOption, as_json: JsonOption = False) -> None:
        """Upsert products (gtin, sku, style, name, size, price, cost, markdown_date,
        markdown_price, salvage_value). Bad rows are reported by line and skipped; exit 1 if any."""
        _run_import("products", file, dsn, as_json)

    @db_app.command("import-stores")
    def import_stores(file: FileArg, dsn: DsnOption, as_json: JsonOption = False) -> None:
        """Upsert shops and warehouses (store_id, name, kind, lat, lon, pick_capacity).
        Bad rows are reported by line and skipped; exit 1 if any."""
        _run_import("stores", file, dsn, as_json)

    @db_app.command("import-warehouse-stock")
    def import_warehouse_stock(file: FileArg, dsn: DsnOption, as_json: JsonOption = False) -> None:
        """Upsert warehouse stock (warehouse_id, gtin, on_hand, updated_at). The warehouse must be
        imported first. Bad rows are reported by line and skipped; exit 1 if any."""
        _run_import("warehouse_stock", file, dsn, as_json)
