"""`shelfsight bench ...`: each command prints one JSON object (see BENCHMARKS.md)."""

from __future__ import annotations

import typer

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks (figures beside same-run baselines).")
