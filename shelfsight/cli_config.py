"""`shelfsight config ...`: check a file, print the commented samples, generate the docs."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

config_app = typer.Typer(no_args_is_help=True, help="Check and print configuration files.")

SAMPLE_FILES = {"store": "store-demo.toml", "chain": "chain-demo.toml", "api": "api-demo.toml"}


def sample_text(kind: str) -> str:
    """The commented example for `kind`: the same file as in config/ (one source)."""
    return (resources.files("shelfsight") / "samples" / SAMPLE_FILES[kind]).read_text()


@config_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="TOML file to validate.")],
    kind: Annotated[
        str | None, typer.Option(help="store, chain or api; guessed from the file if absent.")
    ] = None,
) -> None:
    """Validate FILE; print each problem with its dotted path and exit 1 if any."""
    from shelfsight.settings import KINDS, ConfigError, load_settings, sniff_kind

    chosen = kind or sniff_kind(file) or "store"
    if chosen not in KINDS:
        typer.echo(f"unknown kind {chosen!r}; choose one of {', '.join(KINDS)}", err=True)
        raise typer.Exit(2)
    try:
        load_settings(KINDS[chosen], file)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{file}: valid {chosen} configuration")


@config_app.command("sample")
def sample(kind: Annotated[str, typer.Argument(help="store, chain or api.")]) -> None:
    """Print the commented example configuration of KIND."""
    if kind not in SAMPLE_FILES:
        typer.echo(f"unknown kind {kind!r}; choose one of {', '.join(SAMPLE_FILES)}", err=True)
        raise typer.Exit(2)
    typer.echo(sample_text(kind), nl=False)


@config_app.command("docs")
def docs(
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Generate the configuration reference (docs/configuration.md) from the models."""
    from shelfsight.config_docs import render

    text = render()
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)
