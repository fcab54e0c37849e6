"""Impinj IoT device interface: samples, encoders, fuzzing, MQTT status, HTTP stream driver."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from readers.batch import NO_SEQ, Read, ReadBatch
from readers.config import ReaderConfig
from readers.driver import InputError, InputErrorReason, PayloadDriver, SerialDriver
from readers.drivers import impinj as impinj_driver
from readers.formats._json import epc_from_base64
from readers.formats.impinj import (
    encode_impinj_antenna_event,
    encode_impinj_event,
    encode_impinj_events,
    encode_impinj_ndjson,
    encode_impinj_overflow,
    parse_impinj,
)

SAMPLES = Path("/work/shared/reference/samples")


def sample(name: str) -> bytes:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"reference sample {name} not available")
    return path.read_bytes()


def key(r: Read) -> tuple[Any, ...]:
    rssi = None if math.isnan(r.rssi_dbm) else r.rssi_dbm
    return (r.time_ns, r.reader, r.antenna, r.epc, rssi, r.seq, r.phase, r.frequency_khz)


def reads_of(payload: bytes) -> list[Read]:
    parsed = parse_impinj(payload, "r700", 0)
    assert parsed.errors == []
    return list(parsed.batch.reads())


def mqtt_driver(**options: Any) -> impinj_driver.ImpinjMqttDriver:
    d = impinj_driver.factory(ReaderConfig(id="r700", driver="impinj_iot", options=options))
    assert isinstance(d, impinj_driver.ImpinjMqttDriver)
    return d


def test_default_config_sample_base64_32bit() -> None:
    (r,) = reads_of(sample("impinj_mqtt_tag_inventory_default_config.json"))
    assert r.epc.hex().upper() == "8A450224"
    assert (r.antenna, r.rssi_dbm, r.frequency_khz, r.seq) == (3, -74.0, 866900, NO_SEQ)
    assert r.time_ns == 1772126017432087177  # all nine fraction digits kept


def test_all_fields_sample() -> None:
    (r,) = reads_of(sample("impinj_tag_inventory_all_fields.json"))
    assert r.epc.hex().upper() == "E2C451A3A5011FA00F354693"
    assert epc_from_base64("4sRRo6UBH6APNUaT") == r.epc
    assert (r.antenna, r.rssi_dbm, r.frequency_khz) == (2, -57.5, 921625)
    assert r.phase == pytest.approx(208.82, abs=1e-4)
    assert r.time_ns == 1687937040277766184


def test_http_stream_sample_without_event_type() -> None:
    (r,) = reads_of(sample("impinj_http_stream.ndjson"))
    assert r.epc.hex().upper() == "E2801190A5021F80055817CA"
    assert (r.antenna, r.rssi_dbm, r.frequency_khz) == (1, -26.5, None)
    assert r.time_ns == 1625873759278427551


def test_base64_alphabets() -> None:
    raw = bytes([0xFB, 0xFF, 0xBF]) * 4
    assert epc_from_base64("+/+/" * 4) == raw
    assert epc_from_base64("-_-_" * 4) == raw
    assert epc_from_base64("ikUCJA") == bytes.fromhex("8A450224")  # padding optional
    for bad in ("", "!!!!", "ikUCJA=x", "é"):
        with pytest.raises(InputError) as exc:
            epc_from_base64(bad)
        assert exc.value.reason is InputErrorReason.BAD_EPC


def test_encoders_reproduce_samples() -> None:
    default = sample("impinj_mqtt_tag_inventory_default_config.json").strip()
    (r,) = reads_of(default)
    assert encode_impinj_event(r, transmit_power_cdbm=3150) == default
    stream = sample("impinj_http_stream.ndjson").strip()
    (s,) = reads_of(stream)
    line = encode_impinj_ndjson([s], hostname="impinj-13-f8-f5")
    assert line.endswith(b"\n")
    assert [key(x) for x in reads_of(line)] == [key(s)]
    assert line.startswith(stream.split(b',"tagAccessPassword')[0])
    full = sample("impinj_tag_inventory_all_fields.json")
    (f,) = reads_of(full)
    again = reads_of(encode_impinj_event(f, epc_format="both", hostname="impinj-14-2f-f4"))
    assert [key(x) for x in again] == [key(f)]


f32 = st.floats(-360, 360, allow_nan=False, width=32)
read_st = st.builds(
    Read,
    time_ns=st.integers(0, 2**62),
    reader=st.just("r700"),
    antenna=st.integers(0, 32),
    epc=st.binary(min_size=1, max_size=62),
    rssi_dbm=st.one_of(st.integers(-12000, 0).map(lambda c: float(__import__("numpy").float32(c / 100))),
                       st.just(math.nan)),
    seq=st.just(NO_SEQ),
    phase=st.one_of(st.none(), f32.map(float)),
    frequency_khz=st.one_of(st.none(), st.integers(0, 2**31 - 1)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(read_st, max_size=12), st.sampled_from(["base64", "hex", "both"]), st.booleans())
def test_roundtrip(reads: list[Read], epc_format: str, event_type: bool) -> None:
    body = encode_impinj_events(reads, epc_format=epc_format, event_type=event_type)
    parsed = parse_impinj(body, "r700", 0)
    assert parsed.errors == []
    assert [key(r) for r in parsed.batch.reads()] == [key(r) for r in reads]
    lines = encode_impinj_ndjson(reads, epc_format=epc_format).splitlines()
    got = [r for line in lines for r in parse_impinj(line, "r700", 0).batch.reads()]
    assert [key(r) for r in got] == [key(r) for r in reads]


def test_status_messages_and_events() -> None:
    d = mqtt_driver()
    assert d.topics == ("impinj/r700/events", "impinj/r700/status")
    res = d.decode("impinj/r700/status", b"connected", 1)
    assert res.health is not None and res.health.connected is True
    res = d.decode("impinj/r700/status", b"connection lost", 2)
    assert res.health is not None and res.health.connected is False
    res = d.decode("impinj/r700/events", encode_impinj_antenna_event(10**18, 2, False), 3)
    assert res.health is not None and res.health.antennas_connected == {2: False}
    res = d.decode("impinj/r700/events", encode_impinj_overflow(10**18, 1, 2, 40, 7), 3)
    assert res.gaps == 40
    res = d.decode("impinj/r700/events", b'{"timestamp":"2021-07-09T23:35:59Z","eventType":'
                   b'"tagLocationEntry","tagLocationEntryEvent":{}}', 3)
    assert res.errors == [] and res.batches == []
    res = d.decode("impinj/r700/events", b'{"timestamp":"2021-07-09T23:35:59Z"}', 3)
    assert res.errors[0].reason is InputErrorReason.UNKNOWN_MESSAGE
    custom = mqtt_driver(connect_message="up", will_message="gone")
    res = custom.decode("impinj/r700/status", b"gone", 0)
    assert res.health is not None and not res.health.connected


def test_replayed_history_is_deduplicated() -> None:
    d = mqtt_driver()
    reads = [Read(10**18 + i, "r700", 1, bytes([i]) * 12, -60.0) for i in range(5)]
    first = d.decode("impinj/r700/events", encode_impinj_events(reads), 0)
    assert len(first.batches[0]) == 5
    again = d.decode("impinj/r700/events", encode_impinj_events(
        [*reads[2:], Read(10**18 + 9, "r700", 1, b"\x09" * 12, -60.0)]), 0)
    assert again.duplicates == 3 and len(again.batches[0]) == 1


def test_malformed_and_bad_fields() -> None:
    d = mqtt_driver()
    res = d.decode("impinj/r700/events", b'{"timestamp":', 0)
    assert [e.reason for e in res.errors] == [InputErrorReason.MALFORMED_JSON]
    good = [Read(10**18 + i, "r700", 1, bytes([i + 1]) * 12, -60.0) for i in range(3)]
    parts = [encode_impinj_event(r) for r in good]
    parts[1] = parts[1].replace(b'"antennaPort":1', b'"antennaPort":"x"')
    res = d.decode("impinj/r700/events", b"[" + b",".join(parts) + b"]", 0)
    assert [e.reason for e in res.errors] == [InputErrorReason.BAD_FIELD]
    assert len(res.batches[0]) == 2
    assert mqtt_driver().decode("impinj/r700/events", b"[]", 0).errors == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
tag_fields = st.fixed_dictionaries({}, optional={
    "epc": json_values | st.binary(max_size=12).map(lambda b: __import__("base64").b64encode(b).decode()),
    "epcHex": json_values, "antennaPort": json_values, "peakRssiCdbm": json_values,
    "frequency": json_values, "phaseAngle": json_values,
})
events = st.fixed_dictionaries({}, optional={
    "timestamp": json_values | st.text(max_size=32), "eventType": json_values,
    "tagInventoryEvent": tag_fields | json_values, "overflowEvent": json_values,
    "antennaConnectedEvent": json_values,
})


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_bytes(data: bytes) -> None:
    res = mqtt_driver().decode("impinj/r700/events", data, 0)
    assert all(isinstance(e, InputError) for e in res.errors)


@settings(max_examples=300, deadline=None)
@given(json_values | events | st.lists(events, max_size=4))
def test_fuzz_json(doc: Any) -> None:
    try:
        payload = msgspec.json.encode(doc)
    except (OverflowError, msgspec.EncodeError):
        return
    res = mqtt_driver().decode("impinj/r700/events", payload, 0)
    n = sum(len(b) for b in res.batches)
    items = doc if isinstance(doc, list) else [doc]
    assert n <= len(items)


def test_decode_capture_ndjson_with_keepalives() -> None:
    reads = [Read(10**18 + i, "r700", 1, bytes([i + 1]) * 12, -60.0) for i in range(3)]
    capture = b"\r\n" + encode_impinj_ndjson(reads).replace(b"\n", b"\n\r\n")
    results = list(impinj_driver.decode_capture(capture, "r700"))
    assert [len(r.batches[0]) for r in results] == [1, 1, 1]
    assert impinj_driver.SPEC.transport == "mqtt"
    assert isinstance(mqtt_driver(), PayloadDriver)


# -- HTTP stream driver against a tiny local server ------------------------------------------


class _Stream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    lines: ClassVar[list[bytes]] = []
    connections = 0

    def do_GET(self) -> None:  # http.server API
        type(self).connections += 1
        if self.headers.get("Authorization") != "Basic cm9vdDppbXBpbmo=":
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in [b"\r\n", *self.lines, b"\r\n"]:  # keep-alives around the history
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")  # then the reader drops the stream

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def stream_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stream)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server
    server.shutdown()
    server.server_close()


def test_http_stream_driver_reconnects_and_dedups_history(stream_server: ThreadingHTTPServer) -> None:
    reads = [Read(10**18 + i, "r700", 2, bytes([i + 1]) * 12, -61.5, frequency_khz=902750)
             for i in range(4)]
    _Stream.lines = encode_impinj_ndjson(reads).splitlines(keepends=True)
    _Stream.connections = 0
    port = stream_server.server_address[1]
    cfg = ReaderConfig(id="r700", driver="impinj_iot", url=f"http://127.0.0.1:{port}/api/v1/data/stream",
                       options={"username": "root", "password": "impinj", "read_timeout_s": 5})
    drv = impinj_driver.factory(cfg)
    assert isinstance(drv, impinj_driver.ImpinjHttpStreamDriver)
    assert isinstance(drv, SerialDriver)
    got: list[ReadBatch] = []
    stop = threading.Event()
    th = threading.Thread(target=drv.run, args=(got.append, stop))
    th.start()
    deadline = time.monotonic() + 10
    while _Stream.connections < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    th.join(10)
    assert not th.is_alive()
    assert _Stream.connections >= 3  # the history was replayed on every reconnect...
    delivered = [r for b in got for r in b.reads()]
    assert [key(r) for r in delivered] == [key(r) for r in reads]  # ...and delivered once
    c = drv.counters()
    assert c["reconnects"] >= 2 and c["keepalives"] >= 2 and c["duplicates"] >= 4


def test_http_stream_auth_failure_counts(stream_server: ThreadingHTTPServer) -> None:
    port = stream_server.server_address[1]
    drv = impinj_driver.ImpinjHttpStreamDriver(
        ReaderConfig(id="r700", driver="impinj_iot", url=f"http://127.0.0.1:{port}/api/v1/data/stream"))
    stop = threading.Event()
    th = threading.Thread(target=drv.run, args=(lambda b: None, stop))
    th.start()
    deadline = time.monotonic() + 10
    while drv.counters().get("http.401", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    th.join(10)
    assert drv.counters()["http.401"] >= 1 and not drv.health().connected
