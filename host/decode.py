"""CenterNet decoding: heatmap peaks + size + offset maps -> boxes, for one image.

Numpy-only (runs on the PYNQ-Z2). `decode` is the fast vectorised version; `decode_reference` is a plain
loop with the same semantics, kept to check `decode` bit-for-bit and as a benchmark baseline.

Semantics (shared by both):
  * scores = sigmoid(logits), computed in float64 and rounded to float32 (platform-independent);
  * a peak is a position whose score equals the max of its 3x3 neighbourhood (borders padded with -inf),
    so every cell of a plateau counts as a peak, as in CenterNet;
  * candidates are peaks with score >= score_threshold (compared in float32);
  * the top_k candidates by score, ties broken by the lower flat index (class, y, x);
  * box = ((x + off_x) -+ w/2, (y + off_y) -+ h/2) * output_stride, all float32 arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["decode", "decode_reference", "to_image_coords", "as_dicts"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Sigmoid in float64, rounded to float32: the same scores on x86 and the board's ARM.

    numpy's float32 exp errs by up to 2.3 ulp on x86 (its SIMD) and 0.5 ulp on ARM (glibc), which moved
    scores by ulps between the two; float64's error lies far below a float32 ulp. exp overflow for very
    negative logits correctly gives 0, so silence the warning.
    """
    with np.errstate(over="ignore"):
        return (1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))).astype(np.float32)


def _check(heatmap_logits, size, offset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    heat = np.asarray(heatmap_logits, dtype=np.float32)
    size = np.asarray(size, dtype=np.float32)
    offset = np.asarray(offset, dtype=np.float32)
    if heat.ndim != 3:
        raise ValueError(f"heatmap_logits must be (C, H, W), got shape {heat.shape}")
    hw = heat.shape[1:]
    if size.shape != (2, *hw) or offset.shape != (2, *hw):
        raise ValueError(f"size and offset must be (2, {hw[0]}, {hw[1]}), "
                         f"got {size.shape} and {offset.shape}")
    return heat, size, offset


def _empty() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)


def _boxes(xs, ys, size, offset, output_stride) -> np.ndarray:
    """Boxes for integer cell positions; written once so both decoders do the identical float32 ops."""
    return boxes_at(xs, ys, size[0, ys, xs], size[1, ys, xs], offset[0, ys, xs], offset[1, ys, xs], output_stride)


def boxes_at(xs, ys, w, h, off_x, off_y, output_stride) -> np.ndarray:
    """x1y1x2y2 from cell positions and their float32 size and offset values."""
    cx = xs.astype(np.float32) + off_x
    cy = ys.astype(np.float32) + off_y
    half_w = w * np.float32(0.5)
    half_h = h * np.float32(0.5)
    stride = np.float32(output_stride)
    return np.stack([(cx - half_w) * stride, (cy - half_h) * stride,
                     (cx + half_w) * stride, (cy + half_h) * stride], axis=-1).astype(np.float32, copy=False)


def _dense_peaks(heat: np.ndarray, score_threshold: float):
    """(flat indices ascending, scores) of every peak at or above the threshold, over the whole map."""
    c, h, w = heat.shape
    scores = _sigmoid(heat)
    # Separable 3x3 max-pool (max is exact, so rows-then-columns equals the full 3x3 window).
    pad = np.full((c, h + 2, w + 2), -np.inf, np.float32)
    pad[:, 1:-1, 1:-1] = scores
    rows = np.maximum(np.maximum(pad[:, :-2], pad[:, 1:-1]), pad[:, 2:])
    pooled = np.maximum(np.maximum(rows[:, :, :-2], rows[:, :, 1:-1]), rows[:, :, 2:])
    keep = (scores == pooled) & (scores >= np.float32(score_threshold))
    idx = np.flatnonzero(keep)  # ascending flat index: the tie-break order
    return idx, scores.ravel()[idx]


def logit_floor(score_threshold: float):
    """A logit below which no cell reaches the threshold, or None where no safe one exists.

    The sigmoid is monotonic and float32 errs by ulps: a logit error under 1e-4 for thresholds in
    [0.001, 0.999], so logit(threshold) - 0.01 is safely below every cell that scores the threshold.
    """
    if not 1e-3 <= score_threshold <= 0.999:
        return None
    return math.log(score_threshold / (1.0 - score_threshold)) - 0.01


def peaks_among(cand: np.ndarray, shape, logit_at, score_threshold: float):
    """(flat indices ascending, scores) of the peaks among candidate cells `cand` (ascending flat indices
    into a (C, H, W) map), with `logit_at(k, y, x)` giving float32 logits for index arrays: sigmoids and
    the 3x3 max only there. Every cell that can reach the threshold must be a candidate."""
    c, h, w = shape
    k, rem = np.divmod(cand, h * w)
    ys, xs = np.divmod(rem, w)
    dy = np.repeat(np.arange(-1, 2), 3)[:, None]
    dx = np.tile(np.arange(-1, 2), 3)[:, None]
    yy, xx = ys + dy, xs + dx  # (9, n): the 3x3 neighbourhood, the centre at row 4
    inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
    scores = _sigmoid(np.ascontiguousarray(logit_at(k, np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1))))
    scores[~inside] = -np.inf
    centre = scores[4]
    keep = (centre == scores.max(axis=0)) & (centre >= np.float32(score_threshold))
    return cand[keep], centre[keep]


def _sparse_peaks(heat: np.ndarray, score_threshold: float):
    """The same as _dense_peaks, computing sigmoids only around the few cells whose logit can reach
    the threshold (the board's decode is mostly this map's background); None where that is not few.
    A candidate's 3x3 neighbours get the same float32 sigmoid, elementwise, as the dense map
    (tests/host/test_decode.py compares every result with the loop reference)."""
    floor = logit_floor(score_threshold)
    if floor is None:
        return None, None
    cand = np.flatnonzero(heat >= np.float32(floor))
    if cand.size > heat.size // 16:
        return None, None
    if not heat.flags.c_contiguous:  # a transposed head: index its three axes rather than copy it flat
        return peaks_among(cand, heat.shape, lambda k, y, x: heat[k, y, x], score_threshold)
    c, h, w = heat.shape
    flat = heat.reshape(-1)
    return peaks_among(cand, heat.shape, lambda k, y, x: flat.take((k * h + y) * w + x), score_threshold)


def select_top(idx: np.ndarray, sc: np.ndarray, top_k: int):
    """The top_k of the peaks (flat indices ascending, scores), best first, ties by the lower index."""
    if idx.size > top_k:
        # Partial selection around the k-th largest score; argpartition is not stable, so take everything
        # strictly above it, then the lowest-index cells that tie with it.
        kth = np.partition(sc, idx.size - top_k)[idx.size - top_k]
        above = sc > kth
        ties = np.flatnonzero(sc == kth)[: top_k - int(above.sum())]
        above[ties] = True
        idx, sc = idx[above], sc[above]
    order = np.argsort(-sc, kind="stable")  # stable: equal scores stay in flat-index order
    return idx[order], sc[order].astype(np.float32)


def decode(heatmap_logits, size, offset, *, top_k: int = 100, score_threshold: float = 0.3,
           output_stride: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode one image's head outputs.

    heatmap_logits: (C, H, W) pre-sigmoid; size: (2, H, W) box w/h in grid cells; offset: (2, H, W) x/y.
    Returns boxes float32 (N, 4) x1y1x2y2 in network-input pixels, scores float32 (N,), labels int64 (N,),
    sorted by score descending (ties: lower flat index first).
    """
    heat, size, offset = _check(heatmap_logits, size, offset)
    c, h, w = heat.shape
    if top_k <= 0 or heat.size == 0:
        return _empty()
    idx, sc = _sparse_peaks(heat, score_threshold)
    if idx is None:
        idx, sc = _dense_peaks(heat, score_threshold)
    idx, sc = select_top(idx, sc, top_k)
    labels, rem = np.divmod(idx, h * w)
    ys, xs = np.divmod(rem, w)
    return _boxes(xs, ys, size, offset, output_stride), sc, labels.astype(np.int64)


def decode_reference(heatmap_logits, size, offset, *, top_k: int = 100, score_threshold: float = 0.3,
                     output_stride: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Loop implementation of `decode` (same signature, bit-identical output); slow, for tests/benchmarks."""
    heat, size, offset = _check(heatmap_logits, size, offset)
    c, h, w = heat.shape
    if top_k <= 0 or heat.size == 0:
        return _empty()
    scores = _sigmoid(heat)
    threshold = np.float32(score_threshold)

    peaks = []  # (score, flat index, class, y, x)
    for k in range(c):
        for y in range(h):
            for x in range(w):
                s = scores[k, y, x]
                if s < threshold:
                    continue
                neighbourhood = scores[k, max(y - 1, 0):y + 2, max(x - 1, 0):x + 2]
                if s == neighbourhood.max():
                    peaks.append((float(s), (k * h + y) * w + x, k, y, x))

    peaks.sort(key=lambda p: (-p[0], p[1]))
    peaks = peaks[:top_k]
    if not peaks:
        return _empty()
    boxes = np.zeros((len(peaks), 4), np.float32)
    for i, (_, _, _, y, x) in enumerate(peaks):
        boxes[i] = _boxes(np.array([x]), np.array([y]), size, offset, output_stride)[0]
    scores_out = np.array([p[0] for p in peaks], np.float32)
    labels = np.array([p[2] for p in peaks], np.int64)
    return boxes, scores_out, labels


def to_image_coords(boxes, scale: float, pad_x: float, pad_y: float, width: int, height: int) -> np.ndarray:
    """Map x1y1x2y2 boxes from the letterboxed network input back to the original image.

    The letterbox did `input = image * scale + pad`; undo it, then clip to [0, width] x [0, height].
    """
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    out = np.empty_like(b)
    out[:, 0::2] = (b[:, 0::2] - np.float32(pad_x)) / np.float32(scale)
    out[:, 1::2] = (b[:, 1::2] - np.float32(pad_y)) / np.float32(scale)
    np.clip(out[:, 0::2], 0, width, out=out[:, 0::2])
    np.clip(out[:, 1::2], 0, height, out=out[:, 1::2])
    return out


def as_dicts(boxes, scores, labels, classes: Sequence[str]) -> list[dict]:
    """Detections as plain JSON-ready dicts: box [x1, y1, x2, y2] (2 decimals), score (4), label, name."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    lab = np.asarray(labels).reshape(-1)
    if not (len(b) == len(s) == len(lab)):
        raise ValueError(f"boxes, scores and labels differ in length: {len(b)}, {len(s)}, {len(lab)}")
    return [
        {"box": [round(float(v), 2) for v in box], "score": round(float(score), 4),
         "label": int(label), "name": str(classes[int(label)])}
        for box, score, label in zip(b, s, lab)
    ]
