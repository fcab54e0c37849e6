"""`shelfsight epc decode|encode` through the real command tree."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from shelfsight.cli import app

runner = CliRunner()


def _lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_decode_sgtin96() -> None:
    result = runner.invoke(app, ["epc", "decode", "3074257bf7194e4000001a85"])
    assert result.exit_code == 0, result.output
    assert _lines(result.stdout) == [
        {
            "hex": "3074257BF7194E4000001A85",
            "scheme": "sgtin-96",
            "filter": 3,
            "gtin14": "80614141123458",
            "serial": "6789",
            "uri": "urn:epc:id:sgtin:0614141.812345.6789",
        }
    ]


def test_decode_many_schemes_one_line_each() -> None:
    args = [
        "3674257BF6B7A659B2C2BF1000000000000000000000000000",
        "311BA1B300CE0A6A83000000",
        "3376451FD40C0E400000162E",
        "3476451FD40000000000162E",
        "F73795211411234538566CB0AFC4",
    ]
    result = runner.invoke(app, ["epc", "decode", *args])
    assert result.exit_code == 0, result.output
    assert _lines(result.stdout) == [
        {
            "hex": args[0],
            "scheme": "sgtin-198",
            "filter": 3,
            "gtin14": "70614141123451",
            "serial": "32a/b",
            "uri": "urn:epc:id:sgtin:0614141.712345.32a%2Fb",
        },
        {
            "hex": args[1],
            "scheme": "sscc-96",
            "filter": 0,
            "uri": "urn:epc:id:sscc:952012.03456789123",
        },
        {
            "hex": args[2],
            "scheme": "grai-96",
            "filter": 3,
            "uri": "urn:epc:id:grai:9521141.12345.5678",
        },
        {"hex": args[3], "scheme": "giai-96", "filter": 3, "uri": "urn:epc:id:giai:9521141.5678"},
        {
            "hex": args[4],
            "scheme": "sgtin+",
            "filter": 3,
            "gtin14": "79521141123453",
            "serial": "32a/b",
        },
    ]


def test_decode_failure_exit_1_and_error_lines() -> None:
    args = ["3074257BF7194E4000001A85", "e28011700000020d2a412182", "zz", "303C00000000000000000001"]
    result = runner.invoke(app, ["epc", "decode", *args])
    assert result.exit_code == 1
    rows = _lines(result.stdout)
    assert len(rows) == 4
    assert rows[0]["gtin14"] == "80614141123458"
    assert set(rows[1]) == {"hex", "error"}
    assert rows[1]["hex"] == "E28011700000020D2A412182"
    assert str(rows[1]["error"]).startswith("tid_prefix: ")
    assert rows[2] == {"hex": "zz", "error": "bad_input: not hexadecimal: 'zz'"}
    assert str(rows[3]["error"]).startswith("bad_partition: ")


def test_decode_needs_an_argument() -> None:
    result = runner.invoke(app, ["epc", "decode"])
    assert result.exit_code == 2


def test_encode_default_sgtin96() -> None:
    result = runner.invoke(
        app, ["epc", "encode", "--gtin", "80614141123458", "--serial", "6789", "--filter", "3"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "3074257BF7194E4000001A85\n"


def test_encode_sgtin198_and_prefix_length() -> None:
    result = runner.invoke(
        app,
        [
            "epc",
            "encode",
            "--gtin",
            "09506000134352",
            "--serial",
            "32a/b",
            "--scheme",
            "sgtin-198",
            "--filter",
            "3",
            "--company-prefix-length",
            "11",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "3666C4409047E159B2C2BF100000000000000000000000000000\n"


def test_encode_sgtin_plus() -> None:
    result = runner.invoke(
        app,
        [
            "epc",
            "encode",
            "--gtin",
            "79521141123453",
            "--serial",
            "32a/b",
            "--scheme",
            "sgtin+",
            "--filter",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "F73795211411234538566CB0AFC4\n"


def test_encode_bad_inputs_exit_2_with_message() -> None:
    cases = [
        (["--gtin", "80614141123457", "--serial", "1"], "bad_gtin"),
        (["--gtin", "80614141123458", "--serial", "0123"], "serial_range"),
        (["--gtin", "80614141123458", "--serial", "A7"], "serial_range"),
        (["--gtin", "80614141123458", "--serial", "274877906944"], "serial_range"),
        (["--gtin", "80614141123458", "--serial", "a b", "--scheme", "sgtin-198"], "serial_character"),
        (["--gtin", "80614141123458", "--serial", "x" * 21, "--scheme", "sgtin-198"], "serial_range"),
        (["--gtin", "80614141123458", "--serial", "1", "--filter", "8"], "bad_filter"),
        (["--gtin", "80614141123458", "--serial", "1", "--company-prefix-length", "5"], "bad_company_prefix"),
        (["--gtin", "80614141123458", "--serial", "1", "--scheme", "sscc-96"], "unsupported_scheme"),
    ]
    for args, reason in cases:
        result = runner.invoke(app, ["epc", "encode", *args])
        assert result.exit_code == 2, (args, result.output)
        assert result.stdout == ""
        assert result.stderr.startswith(f"error: {reason}: "), (args, result.stderr)
        assert "Traceback" not in result.output
