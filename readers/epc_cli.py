"""`shelfsight epc decode|encode`."""

from __future__ import annotations

import typer

epc_app = typer.Typer(no_args_is_help=True, help="Decode and encode GS1 EPCs.")
