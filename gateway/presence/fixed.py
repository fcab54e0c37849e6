"""Fixed-window baseline: a tag is present iff read in the last `w` epochs."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from gateway.presence.smurf import BitsArray, FloatArray, IntArray


class WindowPolicy(Protocol):
    """How a tag's window (in epochs) evolves; presence = a read within the window."""

    def initial(self, p: FloatArray) -> IntArray: ...

    def update(self, w: IntArray, bits: BitsArray, p: FloatArray) -> IntArray: ...

    def completeness(self, p: FloatArray) -> IntArray:
        """The window (epochs) a tag of read rate `p` must go unread, without any transition
        shortcut, before it is believed gone."""
        ...


class FixedPolicy:
    """The same window for every tag, always."""

    def __init__(self, w: int) -> None:
        if w < 1:
            raise ValueError("window must be >= 1 epoch")
        self.w = w

    def initial(self, p: FloatArray) -> IntArray:
        return np.full(p.shape[0], self.w, dtype=np.int64)

    def update(self, w: IntArray, bits: BitsArray, p: FloatArray) -> IntArray:
        out: npt.NDArray[np.int64] = np.full(w.shape[0], self.w, dtype=np.int64)
        return out

    def completeness(self, p: FloatArray) -> IntArray:
        return self.initial(p)
