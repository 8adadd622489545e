"""CenterNet training targets: Gaussian heatmaps at box centres, box size and sub-cell offset."""

from __future__ import annotations

import numpy as np

MAX_OBJECTS = 64


def gaussian_radius(h: float, w: float, min_overlap: float = 0.7) -> float:
    """CenterNet's radius: the largest centre shift that keeps IoU >= min_overlap (CornerNet's three cases)."""
    b1, c1 = h + w, w * h * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + np.sqrt(b1 ** 2 - 4 * c1)) / 2
    a2, b2, c2 = 4, 2 * (h + w), (1 - min_overlap) * w * h
    r2 = (b2 + np.sqrt(b2 ** 2 - 4 * a2 * c2)) / 2
    a3, b3, c3 = 4 * min_overlap, -2 * min_overlap * (h + w), (min_overlap - 1) * w * h
    r3 = (b3 + np.sqrt(b3 ** 2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def draw_gaussian(heatmap: np.ndarray, cx: int, cy: int, radius: int) -> None:
    """Max-splat a Gaussian of the given radius into heatmap (H, W) at integer (cx, cy)."""
    sigma = (2 * radius + 1) / 6
    ax = np.arange(-radius, radius + 1, dtype=np.float32)
    g = np.exp(-(ax[:, None] ** 2 + ax[None, :] ** 2) / (2 * sigma * sigma))
    h, w = heatmap.shape
    left, right = min(cx, radius), min(w - cx, radius + 1)
    top, bottom = min(cy, radius), min(h - cy, radius + 1)
    region = heatmap[cy - top:cy + bottom, cx - left:cx + right]
    np.maximum(region, g[radius - top:radius + bottom, radius - left:radius + right], out=region)


def centernet_targets(boxes: np.ndarray, labels: np.ndarray, num_classes: int, out_size: int, stride: int):
    """boxes (K,4) x1y1x2y2 in input pixels -> dict of arrays for one image."""
    hm = np.zeros((num_classes, out_size, out_size), np.float32)
    index = np.zeros(MAX_OBJECTS, np.int64)
    size = np.zeros((MAX_OBJECTS, 2), np.float32)
    offset = np.zeros((MAX_OBJECTS, 2), np.float32)
    mask = np.zeros(MAX_OBJECTS, np.float32)
    for k, (box, label) in enumerate(zip(boxes[:MAX_OBJECTS], labels[:MAX_OBJECTS])):
        x1, y1, x2, y2 = np.asarray(box, np.float32) / stride
        w, h = x2 - x1, y2 - y1
        if w <= 0 or h <= 0:
            continue
        c = np.array([(x1 + x2) / 2, (y1 + y2) / 2], np.float32)
        ci = np.clip(c.astype(np.int64), 0, out_size - 1)
        radius = max(0, int(gaussian_radius(np.ceil(h), np.ceil(w))))
        draw_gaussian(hm[int(label)], int(ci[0]), int(ci[1]), radius)
        index[k] = ci[1] * out_size + ci[0]
        size[k] = (w, h)
        offset[k] = c - ci
        mask[k] = 1
    return {"heatmap": hm, "index": index, "size": size, "offset": offset, "mask": mask}
