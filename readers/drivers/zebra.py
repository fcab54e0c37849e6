"""`zebra_iotc`: Zebra FX IoT Connector over MQTT (tag data + management events).

Options (ReaderConfig.options):
* `topic_template` (default `zebra/{reader}/data`; `ReaderConfig.topic` overrides it),
* `events_topic_template` (default `zebra/{reader}/events`: heartbeats, gpi, errors),
* `reader_from_topic` (default false: one driver per reader),
* `max_seq_intervals` (default 1024), `reset_after_s` (default 2.0): see `readers.seqtrack`.

Duplicates on (reader, eventNum) are dropped and counted; skipped eventNums are counted as
gaps; replays after an outage keep their old timestamps (event time).
"""

from __future__ import annotations

import logging

from readers.config import ReaderConfig
from readers.driver import DecodeResult, DriverSpec, InputError
from readers.drivers._payload import JsonDriverBase, decode_capture_with
from readers.formats.zebra import apply_management, parse_zebra
from readers.seqtrack import SeqTracker

log = logging.getLogger(__name__)

NAME = "zebra_iotc"


class ZebraIotcDriver(JsonDriverBase):
    """PayloadDriver for one Zebra FX reader (or, with reader_from_topic, many)."""

    def __init__(self, config: ReaderConfig) -> None:
        super().__init__(
            config, "zebra/{reader}/data", "events_topic_template", "zebra/{reader}/events"
        )
        opts = config.options
        self.seq = SeqTracker(
            max_intervals=int(opts.get("max_seq_intervals", 1024)),
            reset_after_ns=int(float(opts.get("reset_after_s", 2.0)) * 1e9),
        )

    def decode(self, topic: str, payload: bytes, received_ns: int) -> DecodeResult:
        try:
            reader, _ = self.reader_for(topic)
        except InputError as exc:
            return self.count(DecodeResult(errors=[exc]))
        parsed = parse_zebra(payload, reader, received_ns)
        result = DecodeResult(errors=parsed.errors)
        batch = parsed.batch
        if len(batch):
            verdict = self.seq.observe(reader, batch.seq, batch.time_ns)
            if verdict.duplicates:
                batch = batch.take(verdict.keep)
            result.duplicates = verdict.duplicates
            result.gaps = verdict.gaps
            if verdict.resets:
                log.info("reader %s: eventNum counter reset (%d)", reader, verdict.resets)
            if len(batch):
                result.batches.append(batch)
        if parsed.management:
            health = self.health_of(reader)
            for event in parsed.management:
                apply_management(health, event)
            result.health = self.health_snapshot(reader)
        for err in parsed.errors:
            log.debug("reader %s: %s", reader, err)
        return self.count(result)


def factory(config: ReaderConfig) -> ZebraIotcDriver:
    return ZebraIotcDriver(config)


decode_capture = decode_capture_with(factory, NAME)

SPEC = DriverSpec(name=NAME, transport="mqtt", factory=factory, decode_capture=decode_capture)
