"""Dotted field paths for error messages: ('readers', 2, 'port') -> 'readers[2].port'."""

from __future__ import annotations

from collections.abc import Sequence


def dotted(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
