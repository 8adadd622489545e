"""Tiled detection for images larger than the network input (aerial imagery), numpy only.

The image is cut into overlapping size x size windows at native resolution (no resizing: a 40-pixel
tree crown stays 40 pixels, as in training), the last window of each row and column aligned to the
image's edge; a window that would reach past a smaller image is padded with the letterbox gray. Each
point of the image belongs to the core of exactly one window (the boundary between two neighbours is
the middle of their overlap), so a detection is kept only by the window whose core holds its centre;
class-wise non-maximum suppression then removes what is left of objects cut by a window's edge.
This is DeepForest's predict_tile (windows with overlap, boxes merged across them), made deterministic.
"""

from __future__ import annotations

import numpy as np

from codenet.host.errors import CodenetError
from codenet.host.preprocess import PAD_VALUE, to_rgb_uint8

DEFAULT_OVERLAP = 64  # pixels: more than most objects' half size at the 256-pixel input
DEFAULT_IOU = 0.4  # class-wise NMS across windows


def starts(length: int, size: int, overlap: int) -> list:
    """Window offsets along one axis: every size - overlap pixels, the last flush with the end."""
    if length <= size:
        return [0]
    step = size - overlap
    out = list(range(0, length - size, step))
    return out + [length - size]


def cores(offsets: list, size: int, length: int) -> list:
    """(lo, hi) of each window's core: halfway into the overlap with each neighbour."""
    bounds = [0] + [(a + size + b) / 2 for a, b in zip(offsets, offsets[1:])] + [max(length, size)]
    return list(zip(bounds[:-1], bounds[1:]))


def nms(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by class-wise greedy NMS, best score first (ties: the earlier index)."""
    order = np.lexsort((np.arange(len(scores)), -scores))
    keep = []
    x1, y1, x2, y2 = boxes.T.astype(np.float64)
    area = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    alive = np.ones(len(scores), bool)
    for i in order:
        if not alive[i]:
            continue
        keep.append(i)
        same = alive & (labels == labels[i])
        same[i] = False
        j = np.flatnonzero(same)
        w = np.clip(np.minimum(x2[i], x2[j]) - np.maximum(x1[i], x1[j]), 0, None)
        h = np.clip(np.minimum(y2[i], y2[j]) - np.maximum(y1[i], y1[j]), 0, None)
        inter = w * h
        union = area[i] + area[j] - inter
        overlap = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        alive[j[overlap > iou]] = False
    return np.asarray(keep, dtype=np.int64)


def windows(image: np.ndarray, size: int, overlap: int):
    """Yield (x0, y0, core box (x_lo, y_lo, x_hi, y_hi), size x size x 3 window) over the image."""
    h, w = image.shape[:2]
    xs, ys = starts(w, size, overlap), starts(h, size, overlap)
    for y0, (cy0, cy1) in zip(ys, cores(ys, size, h)):
        for x0, (cx0, cx1) in zip(xs, cores(xs, size, w)):
            tile = image[y0:y0 + size, x0:x0 + size]
            if tile.shape[:2] != (size, size):
                padded = np.full((size, size, 3), PAD_VALUE, np.uint8)
                padded[:tile.shape[0], :tile.shape[1]] = tile
                tile = padded
            yield x0, y0, (cx0, cy0, cx1, cy1), tile


def detect_tiled(detector, image, overlap: int = DEFAULT_OVERLAP, iou: float = DEFAULT_IOU, batch: int = 4):
    """(boxes, scores, labels) over the whole image, in its pixels, best score first."""
    size = detector.bundle.input_size
    if isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 <= overlap < size:
        raise CodenetError(f"tile overlap must be an integer in [0, {size - 1}] pixels, got {overlap!r}")
    if not (isinstance(iou, (int, float)) and 0 < iou <= 1):
        raise CodenetError(f"tile IoU must be in (0, 1], got {iou!r}")
    image = to_rgb_uint8(image)
    h, w = image.shape[:2]
    found = []
    pending = []

    def flush():
        accs = detector.infer(np.stack([t for *_, t in pending]))
        for (x0, y0, core, _), acc in zip(pending, accs):
            boxes, scores, labels = detector.finish(acc, (1.0, 0, 0, size, size))
            boxes = boxes + np.array([x0, y0, x0, y0], np.float32)
            cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
            inside = (cx >= core[0]) & (cx < core[2]) & (cy >= core[1]) & (cy < core[3])
            found.append((boxes[inside], scores[inside], labels[inside]))
        pending.clear()

    for item in windows(image, size, overlap):
        pending.append(item)
        if len(pending) == batch:
            flush()
    if pending:
        flush()
    detector.timing["frames"] -= len(found) - 1  # one image, however many windows
    boxes = np.concatenate([f[0] for f in found]).reshape(-1, 4)
    scores = np.concatenate([f[1] for f in found]).astype(np.float32)
    labels = np.concatenate([f[2] for f in found]).astype(np.int64)
    np.clip(boxes[:, 0::2], 0, w, out=boxes[:, 0::2])
    np.clip(boxes[:, 1::2], 0, h, out=boxes[:, 1::2])
    keep = nms(boxes, scores, labels, iou)
    return boxes[keep], scores[keep], labels[keep]
