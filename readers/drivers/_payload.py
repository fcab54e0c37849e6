"""Shared shell of the JSON payload drivers: topic templates, reader identity, counters."""

from __future__ import annotations

import copy
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator

from readers.config import ReaderConfig
from readers.driver import DecodeResult, InputError, InputErrorReason, PayloadDriver, ReaderHealth
from readers.formats._json import split_capture

_FORBIDDEN = re.compile(r"[+#/\x00]")


class TopicTemplate:
    """An MQTT topic with one optional `{reader}` placeholder, e.g. `zebra/{reader}/data`."""

    def __init__(self, template: str) -> None:
        if template.count("{reader}") > 1 or "#" in template or "+" in template:
            raise ValueError(f"topic template {template!r}: at most one {{reader}}, no wildcards")
        if "{" in template.replace("{reader}", "") or "}" in template.replace("{reader}", ""):
            raise ValueError(f"topic template {template!r}: only {{reader}} is a placeholder")
        self.template = template
        head, sep, tail = template.partition("{reader}")
        self._head, self._tail, self._has_reader = head, tail, bool(sep)

    @property
    def has_reader(self) -> bool:
        return self._has_reader

    def topic_for(self, reader: str) -> str:
        if self._has_reader and (not reader or _FORBIDDEN.search(reader)):
            raise ValueError(f"reader id {reader!r} cannot be a topic level")
        return self.template.replace("{reader}", reader)

    def subscription(self) -> str:
        """The filter matching every reader's topic (`+` in place of `{reader}`)."""
        return self.template.replace("{reader}", "+")

    def reader_of(self, topic: str) -> str | None:
        """The reader named by `topic`, or None when the topic does not match."""
        if not self._has_reader:
            return None
        if not (topic.startswith(self._head) and topic.endswith(self._tail)):
            return None
        middle = topic[len(self._head) : len(topic) - len(self._tail)]
        if not middle or "/" in middle or len(self._head) + len(self._tail) > len(topic):
            return None
        return middle


def _template(config: ReaderConfig, option: str, default: str) -> TopicTemplate:
    value = config.options.get(option, default)
    if not isinstance(value, str):
        raise ValueError(f"reader {config.id}: option {option} must be a string")
    return TopicTemplate(value)


class JsonDriverBase:
    """Reader identity and counters shared by the Zebra and Impinj payload drivers.

    The reader id is the configured one. With option `reader_from_topic = true` one driver
    serves every reader of the template: it subscribes to the `+` filter and takes the id
    from the topic's `{reader}` level (never from the payload).
    """

    def __init__(
        self, config: ReaderConfig, data_default: str, status_option: str, status_default: str
    ) -> None:
        self.reader_id = config.id
        self.data_template = (
            TopicTemplate(config.topic) if config.topic else _template(config, "topic_template", data_default)
        )
        self.status_template = _template(config, status_option, status_default)
        self.reader_from_topic = bool(config.options.get("reader_from_topic", False))
        if self.reader_from_topic:
            if not self.data_template.has_reader:
                raise ValueError(f"reader {config.id}: reader_from_topic needs {{reader}} in the topic")
            self.topic = self.data_template.subscription()
            self.status_topic = self.status_template.subscription()
        else:
            self.topic = self.data_template.topic_for(config.id)
            self.status_topic = self.status_template.topic_for(config.id)
        self.topics: tuple[str, ...] = (self.topic, self.status_topic)
        self._health: dict[str, ReaderHealth] = {}
        self._counts: Counter[str] = Counter()

    def reader_for(self, topic: str) -> tuple[str, bool]:
        """(reader id, is the status/events topic). Empty topic: the configured reader."""
        if not topic:
            return self.reader_id, False
        for template, is_status in ((self.data_template, False), (self.status_template, True)):
            if self.reader_from_topic:
                rid = template.reader_of(topic)
                if rid is not None:
                    return rid, is_status
            elif topic == template.topic_for(self.reader_id):
                return self.reader_id, is_status
        raise InputError(InputErrorReason.UNKNOWN_MESSAGE, f"topic {topic[:120]!r} is not this reader's")

    def health_of(self, reader: str) -> ReaderHealth:
        h = self._health.get(reader)
        if h is None:
            self._health[reader] = h = ReaderHealth(reader)
        return h

    def health_snapshot(self, reader: str) -> ReaderHealth:
        return copy.deepcopy(self.health_of(reader))

    def health(self) -> ReaderHealth:
        return self.health_snapshot(self.reader_id)

    def count(self, result: DecodeResult) -> DecodeResult:
        c = self._counts
        c["messages"] += 1
        c["reads"] += sum(b.read_total for b in result.batches)  # device reads, folded counts included
        c["duplicates"] += result.duplicates
        c["gaps"] += result.gaps
        for err in result.errors:
            c["error." + err.reason.value] += 1
        return result

    def counters(self) -> dict[str, int]:
        """messages, reads (after dedup), duplicates, gaps, error.<reason> ..."""
        return dict(self._counts)


def decode_capture_with(
    factory: Callable[[ReaderConfig], PayloadDriver], driver_name: str
) -> Callable[[bytes, str], Iterator[DecodeResult]]:
    """A `decode_capture` for a payload driver: one payload per document / line."""

    def decode_capture(data: bytes, reader_id: str) -> Iterator[DecodeResult]:
        driver = factory(ReaderConfig(id=reader_id, driver=driver_name))
        for payload in split_capture(data):
            yield driver.decode("", payload, time.time_ns())

    return decode_capture
