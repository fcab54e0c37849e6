"""`shelfsight simulate ...`."""

from __future__ import annotations

import typer

simulate_app = typer.Typer(no_args_is_help=True, help="Simulated shops, devices and chains.")
