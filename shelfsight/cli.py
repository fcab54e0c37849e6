"""The `shelfsight` command. Sub-apps live beside the code they drive; nothing heavy at import."""

from __future__ import annotations

import typer

from allocator.cli import api_app
from bench.cli import bench_app
from gateway.cli import add_db_commands, gateway_app
from readers.cli import epc_app, readers_app
from shelfsight.cli_config import config_app
from shelfsight.cli_db import db_app
from simulators.cli import simulate_app

app = typer.Typer(
    no_args_is_help=True,
    help="shelfsight: item-level RFID into sellable online stock.",
    pretty_exceptions_enable=False,
)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
add_db_commands(db_app)
app.add_typer(epc_app, name="epc")
app.add_typer(readers_app, name="readers")
app.add_typer(gateway_app, name="gateway")
app.add_typer(api_app, name="api")
app.add_typer(simulate_app, name="simulate")
app.add_typer(bench_app, name="bench")


@app.command()
def demo(
    config: str | None = typer.Option(None, help="Demo config (TOML); embedded defaults if absent."),
    minutes: float | None = typer.Option(None, help="Stop after this many minutes."),
    state_dir: str = typer.Option("demo-state", help="Where the demo keeps its state."),
) -> None:
    """Run the demo chain: simulated shops, gateways, the API and the dashboard."""
    from shelfsight.demo import run_demo

    raise typer.Exit(run_demo(config=config, minutes=minutes, state_dir=state_dir))


def main() -> None:
    app()
