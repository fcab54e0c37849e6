"""`shelfsight db ...`: migrations (catalogue imports are added by the gateway)."""

from __future__ import annotations

import json
import logging
from typing import Annotated

import typer

db_app = typer.Typer(no_args_is_help=True, help="Database schema and catalogue.")


@db_app.command("migrate")
def migrate_cmd(
    dsn: Annotated[str, typer.Option(envvar="SHELFSIGHT_DSN", help="libpq DSN of the store.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Apply pending schema migrations (idempotent; a second run changes nothing)."""
    from shelfsight.db import migrate

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    result = migrate(dsn)
    if as_json:
        typer.echo(json.dumps({"applied": result.applied, "timescale": result.timescale}))
    else:
        for label in result.applied:
            typer.echo(f"applied {label}")
        typer.echo(
            f"{len(result.applied)} migration(s) applied; timescaledb "
            + ("in use" if result.timescale else "not available (plain PostgreSQL)")
        )
