"""CPU time of process trees and TCP connections per process, read from /proc (Linux only).

`tree_cpu_s(root)` is the user + system CPU of `root` and every live descendant, plus the CPU of
descendants that already exited and were reaped (the kernel adds it to the reaper's `cutime` /
`cstime`), so a difference of two readings is the CPU the whole tree spent in between.
`connections_by_pid(port, pids)` counts the established TCP connections whose local port is
`port`, per process holding the socket (which uvicorn worker accepted which client).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

_TICK = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0
_ESTABLISHED = "01"


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None  # gone meanwhile


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        if fields is not None:
            out.setdefault(int(fields[1]), []).append(int(entry.name))
    return out


def descendants(root: int) -> list[int]:
    """`root` and every live process below it."""
    kids = _children()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(kids.get(pid, []))
    return found


def cpu_s(pid: int, *, reaped: bool = False) -> float:
    """User + system CPU seconds of `pid` (with its reaped children's when `reaped`)."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    # After the command: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICK


def tree_cpu_s(root: int) -> dict[int, float]:
    """CPU seconds per process of the tree under `root` (the root's includes reaped children)."""
    return {pid: cpu_s(pid, reaped=True) for pid in descendants(root)}


def _socket_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) > 9 and cols[3] == _ESTABLISHED and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(cols[9])
    return inodes


def connections_by_pid(port: int, pids: Iterable[int]) -> dict[int, int]:
    """Established TCP connections on local `port` held by each of `pids`."""
    inodes = _socket_inodes(port)
    out: dict[int, int] = {}
    for pid in pids:
        n = 0
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    n += 1
        except OSError:
            log.debug("process %d vanished while counting its sockets", pid)
        out[pid] = n
    return out
