"""Draw detections onto an image (pillow), one colour per class."""

from __future__ import annotations

import numpy as np


def class_color(label: int) -> tuple:
    # golden-ratio hue steps give distinct, stable colours for any class count
    import colorsys

    r, g, b = colorsys.hsv_to_rgb((label * 0.618034) % 1.0, 0.85, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def annotate(image: np.ndarray, boxes, scores, labels, classes) -> "Image.Image":
    """HxWx3 uint8 -> a PIL image with a labelled rectangle per detection."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(image)
    draw = ImageDraw.Draw(im)
    width = max(1, round(max(im.size) / 300))
    for box, score, label in zip(boxes, scores, labels):
        color = class_color(int(label))
        x1, y1, x2, y2 = (float(v) for v in box)
        draw.rectangle((x1, y1, x2, y2), outline=color, width=width)
        text = f"{classes[int(label)]} {float(score):.2f}"
        tx, ty = x1, max(0.0, y1 - 11)
        tw = draw.textlength(text)
        draw.rectangle((tx, ty, tx + tw + 2, ty + 11), fill=color)
        draw.text((tx + 1, ty), text, fill=(0, 0, 0))
    return im
