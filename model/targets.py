"""CenterNet training targets: Gaussian heatmaps at box centres, box size and sub-cell offset."""

from __future__ import annotations

import numpy as np

MAX_OBJECTS = 64


def gaussian_radius(h, w, min_overlap: float = 0.7):
    """CenterNet's radius: the largest centre shift that keeps IoU >= min_overlap (CornerNet's three cases).

    Elementwise over arrays of heights and widths."""
    b1, c1 = h + w, w * h * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + np.sqrt(b1 ** 2 - 4 * c1)) / 2
    a2, b2, c2 = 4, 2 * (h + w), (1 - min_overlap) * w * h
    r2 = (b2 + np.sqrt(b2 ** 2 - 4 * a2 * c2)) / 2
    a3, b3, c3 = 4 * min_overlap, -2 * min_overlap * (h + w), (min_overlap - 1) * w * h
    r3 = (b3 + np.sqrt(b3 ** 2 - 4 * a3 * c3)) / 2
    return np.minimum(np.minimum(r1, r2), r3)


def centernet_targets(boxes: np.ndarray, labels: np.ndarray, num_classes: int, out_size: int, stride: int,
                      dense: bool = False):
    """boxes (K,4) x1y1x2y2 in input pixels -> dict of arrays for one image.

    The heatmap max-splats, per object, a Gaussian of sigma (2r+1)/6 cut to the (2r+1)^2 square around
    its centre cell; all objects at once, as dense (K, H, W) arrays (a few hundred thousand floats).
    `dense`: also a box target at every cell of an object's Gaussian (`dense_box_targets`).
    """
    hm = np.zeros((num_classes, out_size, out_size), np.float32)
    index = np.zeros(MAX_OBJECTS, np.int64)
    size = np.zeros((MAX_OBJECTS, 2), np.float32)
    offset = np.zeros((MAX_OBJECTS, 2), np.float32)
    mask = np.zeros(MAX_OBJECTS, np.float32)
    b = np.asarray(boxes, np.float32).reshape(-1, 4)[:MAX_OBJECTS] / np.float32(stride)
    lab = np.asarray(labels, np.int64).reshape(-1)[:MAX_OBJECTS]
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    slots = np.flatnonzero((w > 0) & (h > 0))  # an object keeps its slot k even when others are skipped
    if len(slots) == 0:
        out = {"heatmap": hm, "index": index, "size": size, "offset": offset, "mask": mask}
        return out | (_no_box_map(out_size) if dense else {})
    b, lab, w, h = b[slots], lab[slots], w[slots], h[slots]
    c = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)
    ci = np.clip(c.astype(np.int64), 0, out_size - 1)
    radius = np.maximum(0, gaussian_radius(np.ceil(h).astype(np.float64), np.ceil(w).astype(np.float64))
                        .astype(np.int64))
    sigma = (2 * radius + 1) / 6
    axis = np.arange(out_size)
    dx = (axis[None, :] - ci[:, :1]).astype(np.float32)  # (K, W)
    dy = (axis[None, :] - ci[:, 1:]).astype(np.float32)  # (K, H)
    g = np.exp(-(dx[:, None, :] ** 2 + dy[:, :, None] ** 2) / (2 * sigma * sigma).astype(np.float32)[:, None, None])
    inside = (np.abs(dx) <= radius[:, None])[:, None, :] & (np.abs(dy) <= radius[:, None])[:, :, None]
    g = np.where(inside, g, np.float32(0))
    for cls in np.unique(lab):
        np.maximum(hm[cls], g[lab == cls].max(axis=0), out=hm[cls])
    index[slots] = ci[:, 1] * out_size + ci[:, 0]
    size[slots] = np.stack([w, h], axis=1)
    offset[slots] = c - ci
    mask[slots] = 1
    out = {"heatmap": hm, "index": index, "size": size, "offset": offset, "mask": mask}
    return out | (dense_box_targets(g, c, w, h) if dense else {})


def _no_box_map(out_size: int) -> dict:
    return {"box_map": np.zeros((4, out_size, out_size), np.float32),
            "box_weight": np.zeros((out_size, out_size), np.float32)}


def dense_box_targets(g: np.ndarray, centres: np.ndarray, w: np.ndarray, h: np.ndarray) -> dict:
    """Size and offset targets at every cell of each object's Gaussian `g` (K, H, W), TTFNet-style.

    A cell's box is the object whose Gaussian is highest there (ties: the smaller one); its offset is
    the object's centre minus the cell, so a heatmap peak a cell or two off the centre still decodes
    the object's box. Each object's cell weights are its Gaussian, normalized to sum to 1: per object,
    the loss weighs as the centre-only target does.
    """
    k, height, width = g.shape
    smaller_first = np.argsort(w * h, kind="stable")
    owner = smaller_first[np.argmax(g[smaller_first], axis=0)]  # (H, W); argmax keeps the first of ties
    weight = np.take_along_axis(g, owner[None], axis=0)[0]
    totals = np.bincount(owner.ravel(), weights=weight.ravel(), minlength=k)
    weight = np.where(weight > 0, weight / np.maximum(totals[owner], 1e-12), 0).astype(np.float32)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    box = np.stack([w[owner], h[owner], centres[owner, 0] - xs, centres[owner, 1] - ys]).astype(np.float32)
    return {"box_map": np.where(weight > 0, box, 0).astype(np.float32), "box_weight": weight}
