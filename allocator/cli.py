"""`shelfsight api ...`: serve the allocation API, create API keys."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from shelfsight.settings import ApiSettings

api_app = typer.Typer(no_args_is_help=True, help="The allocation API.")


def _load(config: Path | None) -> ApiSettings:
    from shelfsight.settings import ApiSettings, ConfigError, load_settings

    try:
        return load_settings(ApiSettings, config)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(f"{exc.path or 'settings'}: {problem}", err=True)
        raise typer.Exit(2) from exc


@api_app.command("serve")
def serve(
    config: Annotated[Path | None, typer.Option(help="API settings (TOML); env SHELFSIGHT__* wins.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="uvicorn workers (default: config).")] = None,
    host: Annotated[str | None, typer.Option(help="Listen address (default: server.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: server.port).")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve the API with uvicorn; each worker loads the settings itself."""
    import uvicorn

    from allocator.api.factory import CONFIG_ENV
    from allocator.api.metrics import MULTIPROC_ENV

    settings = _load(config)
    if settings.database.dsn is None:
        typer.echo("database.dsn is required (SHELFSIGHT__DATABASE__DSN or [database] dsn)", err=True)
        raise typer.Exit(2)
    n = workers or settings.server.workers
    os.environ[CONFIG_ENV] = str(config.resolve()) if config is not None else ""
    if n > 1 and not os.environ.get(MULTIPROC_ENV):
        os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="shelfsight-metrics-")
    uvicorn.run(
        "allocator.api.factory:app_from_env",
        factory=True,
        host=host or settings.server.host,
        port=port if port is not None else settings.server.port,
        workers=n,
        log_level=log_level,
        access_log=False,
        lifespan="on",
    )


@api_app.command("create-key")
def create_key(
    scope: Annotated[list[str], typer.Option(help="admin, oms or store:<id>; repeat for several.")],
    dsn: Annotated[str | None, typer.Option(help="libpq DSN (default: the config's database.dsn).")] = None,
    config: Annotated[Path | None, typer.Option(help="API settings (TOML).")] = None,
    note: Annotated[str, typer.Option(help="Who or what the key is for.")] = "",
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    import psycopg

    from allocator.api.auth import ScopeError
    from allocator.api.auth import create_key as insert_key

    if dsn is None:
        settings = _load(config)
        if settings.database.dsn is None:
            typer.echo("no database: give --dsn or database.dsn", err=True)
            raise typer.Exit(2)
        dsn = settings.database.dsn.get_secret_value()

    async def run() -> str:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            key = await insert_key(conn, scope, note)
            await conn.commit()
        return key.token

    try:
        token = asyncio.run(run())
    except ScopeError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    except psycopg.Error as exc:
        typer.echo(f"database error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(token)
