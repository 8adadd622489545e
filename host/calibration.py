"""Score calibration: a detection's score made the share of true detections at that score.

Peak heatmap scores are not probabilities: a shipped model's detections at 0.45 are true far more often
than 45 % of the time, those at 0.15 far less. A model file and its bundle may carry a Platt scaling, fit
on the model's val split (codenet.model.calibrate): calibrated = sigmoid(a * logit(raw) + b), with a > 0
and one (a, b) for all classes. It is monotonic, so it keeps every detection, their order and every AP;
it changes what a score means, and so which threshold a user picks.

Decoding runs on raw scores. A threshold on calibrated scores maps back to a raw one a little below it;
the calibrated scores are then filtered at the threshold itself, so a detection is kept exactly when its
float32 calibrated score reaches it.
"""

from __future__ import annotations

import math

import numpy as np

from codenet.host.errors import CodenetError


class ScoreCalibration:
    """`ScoreCalibration(a, b)(raw_scores)` -> calibrated float32 scores."""

    def __init__(self, a: float, b: float):
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
        if not (numbers and math.isfinite(a) and math.isfinite(b) and a > 0):
            raise CodenetError(f"score calibration needs finite a > 0 and b, got a={a!r}, b={b!r}")
        self.a, self.b = float(a), float(b)

    @classmethod
    def from_dict(cls, entry) -> ScoreCalibration | None:
        """The manifest's or model file's {"a", "b"}; None for a model without one."""
        if entry is None:
            return None
        if not isinstance(entry, dict) or set(entry) < {"a", "b"}:
            raise CodenetError(f"score calibration must be an object with 'a' and 'b', got {entry!r}")
        return cls(entry["a"], entry["b"])

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b}

    def __call__(self, raw) -> np.ndarray:
        raw = np.clip(np.asarray(raw, np.float64), 0.0, 1.0)
        with np.errstate(divide="ignore", over="ignore"):
            z = self.a * (np.log(raw) - np.log1p(-raw)) + self.b  # +-inf at 0 and 1: sigmoid gives 0 and 1
            return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    def raw_threshold(self, threshold: float) -> float:
        """A raw score threshold that keeps every detection whose calibrated score reaches `threshold`."""
        if threshold <= 0.0:
            return 0.0
        if threshold >= 1.0:
            threshold = float(np.nextafter(np.float32(1.0), np.float32(0.0)))
        z = (math.log(threshold) - math.log1p(-threshold) - self.b) / self.a
        if z < -700.0:  # exp would overflow: every raw score reaches it
            return 0.0
        return max(0.0, 1.0 / (1.0 + math.exp(-z)) - 1e-6)  # a margin for float32 rounding; filter() is exact

    def filter(self, boxes, raw_scores, labels, threshold: float):
        """Detections decoded at raw_threshold(threshold) -> those whose calibrated score reaches it."""
        scores = self(raw_scores)
        keep = scores >= np.float32(threshold)
        return boxes[keep], scores[keep], labels[keep]
