"""Configuration: the samples validate, errors carry dotted paths, env overrides, docs in sync."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from shelfsight.cli import app
from shelfsight.cli_config import SAMPLE_FILES, sample_text
from shelfsight.config_docs import render
from shelfsight.settings import ApiSettings, ConfigError, StoreSettings, load_settings

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _problems(kind: type[StoreSettings] | type[ApiSettings], path: Path, text: str) -> list[str]:
    """The problems `load_settings` refuses the TOML `text` with (written to `path`)."""
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(kind, path)
    return info.value.problems


@pytest.mark.parametrize("kind", sorted(SAMPLE_FILES))
def test_samples_are_the_config_files_and_valid(kind: str) -> None:
    path = ROOT / "config" / SAMPLE_FILES[kind]
    assert sample_text(kind) == path.read_text()
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output
    printed = runner.invoke(app, ["config", "sample", kind])
    assert printed.exit_code == 0
    assert printed.output == path.read_text()


def test_wrong_type_and_missing_field_give_dotted_paths(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[store]\nname = "x"\n\n[[readers]]\nid = "r1"\ndriver = "zebra_iotc"\ntopic = "t"\n\n'
        '[[readers]]\nid = "r2"\ndriver = "mercury"\nbaudrate = "fast"\n'
    )
    result = runner.invoke(app, ["config", "check", str(bad)])
    assert result.exit_code == 1
    assert "store.id: field required" in result.output
    assert "readers[1].baudrate: Input should be a valid integer" in result.output


def test_cross_field_errors(tmp_path: Path) -> None:
    text = '[store]\nid = "s"\n[[readers]]\nid = "r"\ndriver = "mercury"\nzones = {1 = "attic"}\n'
    assert _problems(StoreSettings, tmp_path / "bad.toml", text) == [
        "readers[0].port: field required (serial driver mercury)",
        "readers[0].zones.1: unknown zone 'attic'",
    ]


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[store\nid=")
    result = runner.invoke(app, ["config", "check", str(bad)])
    assert result.exit_code == 1
    assert "invalid TOML" in result.output


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHELFSIGHT__SERVER__PORT", "9123")
    monkeypatch.setenv("SHELFSIGHT__DATABASE__DSN", "host=db dbname=x")
    settings = load_settings(ApiSettings, ROOT / "config" / "api-demo.toml")
    assert settings.server.port == 9123
    assert settings.database.dsn is not None
    assert settings.database.dsn.get_secret_value() == "host=db dbname=x"
    assert settings.server.workers == 2  # from the file


def test_configuration_docs_are_generated_from_the_models() -> None:
    assert (ROOT / "docs" / "configuration.md").read_text() == render(), (
        "docs/configuration.md drifted: run `shelfsight config docs --out docs/configuration.md`"
    )


def test_shared_subscription_needs_a_client_id(tmp_path: Path) -> None:
    text = '[store]\nid = "s"\n[mqtt]\nshared_group = "ingest"\n'
    assert _problems(StoreSettings, tmp_path / "shared.toml", text) == [
        "mqtt.client_id: required with shared_group (each gateway needs its own stable id)"
    ]


def test_bid_prices_may_not_expire_before_they_are_re_solved(tmp_path: Path) -> None:
    bad = tmp_path / "api.toml"
    assert _problems(ApiSettings, bad, "[bid_prices]\nttl_s = 100\nmax_age_s = 50\n") == [
        "bid_prices.max_age_s: must be at least bid_prices.ttl_s (prices are re-solved at ttl_s)"
    ]
    assert _problems(ApiSettings, bad, "[bid_prices]\nttl_s = 0\n")[0].startswith("bid_prices.ttl_s: ")
