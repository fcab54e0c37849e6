"""`shelfsight bench ...`: each command prints one JSON object (see BENCHMARKS.md).

Each benchmark lives in its own module exposing `run(**options) -> dict`; the imports are
lazy so that `shelfsight --help` stays fast.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks (figures beside same-run baselines).")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object (the default).")]


def _emit(result: dict[str, Any]) -> None:
    typer.echo(json.dumps(result, indent=2, sort_keys=False))


@bench_app.command("parsers")
def parsers(
    seconds: Annotated[float, typer.Option(help="Time per parser.")] = 5.0,
    as_json: JsonFlag = True,
) -> None:
    """Reads/s per driver parser on one core, beside a naive json + per-read-object baseline."""
    from bench.parsers import run

    _emit(run(seconds=seconds))


@bench_app.command("cleaning")
def cleaning(
    seed: Annotated[int, typer.Option(help="Random seed of the simulated shop.")] = 1,
    seeds: Annotated[
        str, typer.Option(help="Several seeds, comma-separated (e.g. 1,2,3): means over them.")
    ] = "",
    items: Annotated[int, typer.Option(help="Items in the shop.")] = 3000,
    minutes: Annotated[float, typer.Option(help="Simulated minutes.")] = 30.0,
    as_json: JsonFlag = True,
) -> None:
    """Presence accuracy of the adaptive method vs fixed windows against ground truth."""
    from bench.cleaning import run, run_seeds

    if seeds:
        chosen = [int(s) for s in seeds.split(",") if s.strip()]
        _emit(run_seeds(chosen, items=items, minutes=minutes))
    else:
        _emit(run(seed=seed, items=items, minutes=minutes))


@bench_app.command("ingest")
def ingest(
    seconds: Annotated[float, typer.Option(help="How long to drive the readers.")] = 20.0,
    as_json: JsonFlag = True,
) -> None:
    """Simulated readers -> broker -> gateway -> PostgreSQL, beside a naive bridge."""
    from bench.ingest import run

    _emit(run(seconds=seconds))


@bench_app.command("allocation")
def allocation(
    seeds: Annotated[int, typer.Option(help="Random seeds (paired across policies).")] = 10,
    stores: Annotated[int, typer.Option(help="Shops in the chain.")] = 30,
    skus: Annotated[int, typer.Option(help="GTINs.")] = 60,
    days: Annotated[int, typer.Option(help="Simulated days.")] = 42,
    as_json: JsonFlag = True,
) -> None:
    """Every policy on the same seeds, with confidence intervals and the gap closed."""
    from bench.allocation import run

    _emit(run(seeds=seeds, stores=stores, skus=skus, days=days))


@bench_app.command("api")
def api(
    seconds: Annotated[float, typer.Option(help="Load duration.")] = 10.0,
    connections: Annotated[int, typer.Option(help="Concurrent connections.")] = 32,
    as_json: JsonFlag = True,
) -> None:
    """Allocate-and-reserve throughput and latency beside a trivial endpoint."""
    from bench.api import run

    _emit(run(seconds=seconds, connections=connections))


@bench_app.command("api-growth")
def api_growth(
    windows: Annotated[int, typer.Option(min=2, help="Consecutive load windows.")] = 8,
    seconds: Annotated[float, typer.Option(help="Length of each window.")] = 2.0,
    connections: Annotated[int, typer.Option(help="Concurrent connections.")] = 32,
    as_json: JsonFlag = True,
) -> None:
    """CPU per reservation as open reservations pile up (API alone, consecutive windows)."""
    from bench.api_growth import run

    _emit(run(windows=windows, seconds=seconds, connections=connections))
