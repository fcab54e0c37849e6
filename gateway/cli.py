"""`shelfsight gateway ...` and the catalogue import commands under `shelfsight db`."""

from __future__ import annotations

import typer

gateway_app = typer.Typer(no_args_is_help=True, help="The shop's edge daemon.")


def add_db_commands(db_app: typer.Typer) -> None:
    """Register gateway-owned `db` subcommands (catalogue imports)."""
