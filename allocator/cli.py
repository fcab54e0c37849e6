"""`shelfsight api ...`."""

from __future__ import annotations

import typer

api_app = typer.Typer(no_args_is_help=True, help="The allocation API.")
