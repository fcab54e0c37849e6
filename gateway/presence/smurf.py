"""SMURF adaptive per-tag windows (Jeffery, Garofalakis, Franklin, VLDB 2006), vectorised.

A window of w epochs is w Bernoulli trials with the tag's per-epoch read probability p.
Completeness (Lemma 4.1): w* = ceil(ln(1/delta) / p) makes (1 - p)^w* <= e^(-p w*) <= delta.
Transition test (CLT, 2 sigma): the tag probably left when |S| < w p - 2 sqrt(w p (1 - p)),
S = epochs of the window in which the tag was read.
Update each epoch: if w* > w: w <- min(w + 2, w*); elif transition: w <- max(min(w // 2, w*), 1);
then clamp to [min_w, max_w]. Present iff read at least once in the window.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BitsArray = npt.NDArray[np.uint64]

_ONES = np.uint64(0xFFFF_FFFF_FFFF_FFFF)


def window_mask(w: IntArray) -> BitsArray:
    """Low-`w`-bit masks (w in 0..64)."""
    w = np.clip(w, 0, 64).astype(np.uint64)
    safe = np.minimum(w, np.uint64(63))
    m = (np.left_shift(np.uint64(1), safe) - np.uint64(1)).astype(np.uint64)
    return np.where(w >= np.uint64(64), _ONES, m).astype(np.uint64)


def reads_in_window(bits: BitsArray, w: IntArray) -> IntArray:
    """|S|: read epochs among the newest `w` (bit 0 = the epoch being evaluated)."""
    counts: IntArray = np.bitwise_count(bits & window_mask(w)).astype(np.int64)
    return counts


def completeness_window(p: FloatArray, delta: float) -> IntArray:
    """w* = ceil(ln(1/delta) / p): smallest window seeing a present tag with prob >= 1 - delta."""
    p = np.clip(p, 1e-6, 1.0)
    # round() guards ceil against 3.0000000000000004-style float noise
    return np.ceil(np.round(math.log(1.0 / delta) / p, 9)).astype(np.int64)


def transition_detected(s: IntArray, w: IntArray, p: FloatArray) -> npt.NDArray[np.bool_]:
    """|S| < w p - 2 sqrt(w p (1 - p))."""
    wp = w * p
    return s < wp - 2.0 * np.sqrt(wp * (1.0 - p))


class SmurfPolicy:
    """Adaptive windows (epochs) between `min_w` and `max_w`."""

    def __init__(self, delta: float, min_w: int, max_w: int) -> None:
        if not 0 < delta < 1:
            raise ValueError("delta must be in (0, 1)")
        if not 1 <= min_w <= max_w:
            raise ValueError("need 1 <= min_w <= max_w")
        self.delta = delta
        self.min_w = min_w
        self.max_w = max_w

    def initial(self, p: FloatArray) -> IntArray:
        return np.full(p.shape[0], self.min_w, dtype=np.int64)

    def completeness(self, p: FloatArray) -> IntArray:
        """w* clamped to [min_w, max_w]: the window without the transition test's halving."""
        return np.clip(completeness_window(p, self.delta), self.min_w, self.max_w).astype(np.int64)

    def update(self, w: IntArray, bits: BitsArray, p: FloatArray) -> IntArray:
        """New windows after one epoch; `bits` bit 0 is that epoch."""
        w_star = self.completeness(p)
        s = reads_in_window(bits, w)
        grow = w_star > w
        shrink = ~grow & transition_detected(s, w, p)
        out = np.where(
            grow,
            np.minimum(w + 2, w_star),
            np.where(shrink, np.maximum(np.minimum(w // 2, w_star), 1), w),
        )
        return np.clip(out, self.min_w, self.max_w).astype(np.int64)
