"""Draw detections onto an image (pillow) so a person can read them at any image size.

One colour per class; the best detection is drawn last (on top); text and line width scale with the
image (a 12 MP photo gets large labels, a 256-pixel frame small ones); labels are placed greedily, the
best first, above their box, else inside it, else below it, and moved down past labels already placed,
so no two overlap where there is room.
"""

from __future__ import annotations

import colorsys
from functools import lru_cache

import numpy as np


def class_color(label: int) -> tuple:
    # golden-ratio hue steps give distinct, stable colours for any class count
    r, g, b = colorsys.hsv_to_rgb((label * 0.618034) % 1.0, 0.85, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


@lru_cache(maxsize=8)
def font(px: int):
    """Pillow's built-in font at `px` pixels (Pillow >= 10.1); older Pillows' fixed bitmap font else."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=px)
    except TypeError:  # Pillow < 10.1: no scalable default font
        return ImageFont.load_default()


def text_size(image_size) -> int:
    """Label height in pixels: readable on a 256-pixel frame, proportionate on a 12 MP photo."""
    return max(11, round(min(image_size) / 40))


def place_labels(boxes, sizes, image_size) -> list:
    """Top-left corner of each label (in the order given: the best first), no label over another."""
    width, height = image_size
    placed, corners = [], []
    for (x1, y1, x2, y2), (tw, th) in zip(boxes, sizes):
        x = min(max(0.0, x1), max(0.0, width - tw))
        for y in (y1 - th, y1, y2):  # above the box, inside its top, below it
            if 0 <= y <= height - th:
                break
        y = min(max(0.0, y), max(0.0, height - th))
        for _ in range(len(placed) + 1):
            hit = [p for p in placed if x < p[2] and p[0] < x + tw and y < p[3] and p[1] < y + th]
            if not hit or y + th > height:
                break
            y = max(p[3] for p in hit)  # just below what it would cover
        corners.append((x, y))
        placed.append((x, y, x + tw, y + th))
    return corners


def annotate(image: np.ndarray, boxes, scores, labels, classes) -> "Image.Image":
    """HxWx3 uint8 -> a PIL image with a coloured rectangle and a `class score` label per detection."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(image)
    draw = ImageDraw.Draw(im)
    line = max(1, round(min(im.size) / 250))
    f = font(text_size(im.size))
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")  # best first
    texts = [f"{classes[int(labels[i])]} {float(scores[i]):.2f}" for i in order]
    pad = max(1, line)
    sizes = []
    for t in texts:
        left, top, right, bottom = draw.textbbox((0, 0), t, font=f)
        sizes.append((right - left + 2 * pad, bottom - top + 2 * pad, left, top))
    box_list = [tuple(float(v) for v in boxes[i]) for i in order]
    corners = place_labels(box_list, [s[:2] for s in sizes], im.size)
    for k in reversed(range(len(order))):  # the weakest first, so the best ends on top
        i = order[k]
        color = class_color(int(labels[i]))
        draw.rectangle(box_list[k], outline=color, width=line)
    for k in reversed(range(len(order))):
        color = class_color(int(labels[order[k]]))
        (x, y), (tw, th, left, top) = corners[k], sizes[k]
        draw.rectangle((x, y, x + tw - 1, y + th - 1), fill=color)
        draw.text((x + pad - left, y + pad - top), texts[k], fill=(0, 0, 0), font=f)
    return im
