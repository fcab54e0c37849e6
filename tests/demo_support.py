"""One `shelfsight demo` run shared by the demo tests (session scope), as a subprocess.

The run listens on a free port (an API config naming it), keeps its state in a fresh directory
(traversable: the embedded PostgreSQL runs as another user when the tests run as root), and
records, while it runs, a scrape of `/metrics` that carries the gateways' reads and the status
of the dashboard page.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shelfsight.embedded.ports import free_port

MINUTES = 0.4
URL_RE = re.compile(r"Dashboard\s+(http://[0-9.:]+)/#key=(ssk_[A-Za-z0-9_-]+)")
READS = "shelfsight_reads_ingested_total{"
SHOPS = 3


@dataclass
class DemoRun:
    proc: subprocess.Popen[str]
    state: Path
    base: str = ""
    key: str = ""
    lines: list[str] = field(default_factory=list)
    metrics_with_reads: str | None = None
    page_status: int | None = None
    page_body: str = ""
    returncode: int | None = None

    def output(self) -> str:
        return "".join(self.lines)


def shops_with_reads(metrics: str) -> set[str]:
    return {
        line.split('shop="')[1].split('"')[0]
        for line in metrics.splitlines()
        if line.startswith(READS) and 'shop="' in line
    }


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return int(resp.status), resp.read().decode("utf-8", "replace")


def _reader(run: DemoRun, found: threading.Event) -> None:
    assert run.proc.stdout is not None
    for line in run.proc.stdout:
        run.lines.append(line)
        m = URL_RE.search(line)
        if m:
            run.base, run.key = m.group(1), m.group(2)
            found.set()
    found.set()


def _observe(run: DemoRun, within_s: float = 60.0) -> None:
    """Poll /metrics until the gateways' read counters show up; fetch the page once."""
    deadline = time.monotonic() + within_s
    run.page_status, run.page_body = _get(run.base + "/")
    while time.monotonic() < deadline and run.proc.poll() is None:
        try:
            _status, text = _get(run.base + "/metrics")
        except OSError:
            text = ""
        if len(shops_with_reads(text)) >= SHOPS:
            run.metrics_with_reads = text
            return
        time.sleep(0.5)


@pytest.fixture(scope="session")
def demo_run() -> Iterator[DemoRun]:
    state = Path(tempfile.mkdtemp(prefix="shelfsight-demo-test-"))
    state.chmod(0o755)
    port = free_port()
    config = state / "api.toml"
    config.write_text(f'[server]\nhost = "127.0.0.1"\nport = {port}\n')
    proc = subprocess.Popen(
        [sys.executable, "-c", "from shelfsight.cli import main; main()", "demo",
         "--minutes", str(MINUTES), "--state-dir", str(state / "st"), "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    run = DemoRun(proc, state)
    found = threading.Event()
    reader = threading.Thread(target=_reader, args=(run, found), daemon=True)
    reader.start()
    try:
        found.wait(120)
        if run.base:
            _observe(run)
        yield run
    finally:
        try:
            run.returncode = proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            run.returncode = proc.wait()
        reader.join(10)
        if proc.stdout is not None:
            proc.stdout.close()
        shutil.rmtree(state, ignore_errors=True)


def finish(run: DemoRun) -> int:
    """Wait for the demo to stop by itself (its --minutes); its exit code."""
    run.returncode = run.proc.wait(120)
    return run.returncode
