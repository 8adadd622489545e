"""Timing that the benchmark and the estimate's host split share."""

from __future__ import annotations

import time


def best_of(fn, repeat=5, number=1) -> float:
    """Seconds per call: the best of `repeat` timings of `number` calls (least disturbed by the machine)."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t) / number)
    return best
