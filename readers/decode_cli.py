"""`shelfsight readers decode --driver NAME FILE`: a capture in, normalised reads out."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

readers_app = typer.Typer(no_args_is_help=True, help="Reader wire formats and drivers.")


@readers_app.command("decode")
def decode(
    file: Annotated[Path, typer.Argument(help="Capture: raw bytes (serial) or JSON/JSONL/NDJSON.")],
    driver: Annotated[str, typer.Option(help="Driver name (see `readers list`).")],
    reader: Annotated[str, typer.Option(help="Reader id to attribute the reads to.")] = "reader",
) -> None:
    """Print each read as a JSON line; a summary of counts and errors goes to stderr."""
    from readers.registry import default_registry

    registry = default_registry()
    try:
        spec = registry.get(driver)
    except LookupError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    if spec.decode_capture is None:
        typer.echo(f"driver {driver!r} cannot decode captures", err=True)
        raise typer.Exit(2)
    data = file.read_bytes()
    reads = duplicates = gaps = 0
    errors: Counter[str] = Counter()
    out = sys.stdout
    for result in spec.decode_capture(data, reader):
        for batch in result.batches:
            for read in batch.reads():
                row = read.to_json()
                if batch.census_zone is not None:
                    row["census_zone"] = batch.census_zone
                out.write(json.dumps(row) + "\n")
                reads += 1
        for err in result.errors:
            errors[err.reason.value] += 1
        duplicates += result.duplicates
        gaps += result.gaps
    summary = {"reads": reads, "duplicates": duplicates, "gaps": gaps, "errors": dict(errors)}
    typer.echo(json.dumps(summary), err=True)


@readers_app.command("list")
def list_drivers() -> None:
    """List the registered drivers and their transports."""
    from readers.registry import default_registry

    registry = default_registry()
    for name in registry.names():
        typer.echo(f"{name}\t{registry.get(name).transport}")
