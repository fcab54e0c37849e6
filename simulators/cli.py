"""`shelfsight simulate ...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

simulate_app = typer.Typer(no_args_is_help=True, help="Simulated shops, devices and chains.")


@simulate_app.command("store")
def store(
    config: Annotated[Path, typer.Option(help="Store config (TOML) naming the readers.")],
    minutes: Annotated[float | None, typer.Option(help="Stop after this long.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the scene.")] = 1,
    items: Annotated[int, typer.Option(help="Items in the simulated shop.")] = 400,
    write_config: Annotated[
        Path | None, typer.Option(help="Write a copy of the config with the simulated ports here.")
    ] = None,
) -> None:
    """Run a shop's devices on their real wire formats (ptys and MQTT)."""
    from simulators.store_cli import run_store

    raise typer.Exit(
        run_store(config=config, minutes=minutes, seed=seed, write_config=write_config, items=items)
    )


@simulate_app.command("chain")
def chain(
    policy: Annotated[str, typer.Option(
        help="Allocation policy, or hindsight (the perfect-information bound).")] = "shelfsight",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    stores: Annotated[int | None, typer.Option(help="Shops.")] = None,
    skus: Annotated[int | None, typer.Option(help="GTINs.")] = None,
    days: Annotated[int | None, typer.Option(help="Days.")] = None,
    accuracy: Annotated[float | None, typer.Option(help="Shop record accuracy (0-1).")] = None,
    config: Annotated[Path | None, typer.Option(help="Chain config (TOML).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Simulate the chain's season under one allocation policy; same seed, same result."""
    from simulators.chain_cli import run_chain

    raise typer.Exit(
        run_chain(
            policy=policy, seed=seed, stores=stores, skus=skus, days=days,
            accuracy=accuracy, config=config, as_json=as_json,
        )
    )
