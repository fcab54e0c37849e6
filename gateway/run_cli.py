"""`shelfsight gateway run --config FILE`: the edge daemon (registered by `register(app)`)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the `run` command to the `gateway` sub-app."""

    @app.command("run")
    def run(
        config: Annotated[Path, typer.Option("--config", help="The shop's TOML configuration.")],
        mqtt_protocol: Annotated[
            str, typer.Option(help="MQTT protocol: 3.1.1, 5 or auto (5, else 3.1.1).")
        ] = "3.1.1",
        log_level: Annotated[str, typer.Option(help="Logging level.")] = "INFO",
    ) -> None:
        """Run the shop's edge daemon until SIGTERM (then drain and exit 0)."""
        from gateway.daemon import Daemon, DaemonOptions
        from gateway.mqtt_ingest import Protocol
        from shelfsight.settings import ConfigError, StoreSettings, load_settings

        logging.basicConfig(
            level=os.environ.get("SHELFSIGHT_LOG_LEVEL", log_level).upper(),
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
        )
        try:
            settings = load_settings(StoreSettings, config)
        except ConfigError as exc:
            for problem in exc.problems:
                typer.echo(f"{config}: {problem}", err=True)
            raise typer.Exit(2) from exc
        try:
            protocol = Protocol(mqtt_protocol)
        except ValueError as exc:
            typer.echo(f"--mqtt-protocol: one of {', '.join(p.value for p in Protocol)}", err=True)
            raise typer.Exit(2) from exc
        raise typer.Exit(Daemon(settings, DaemonOptions(mqtt_protocol=protocol)).run())
