"""Training augmentation and evaluation letterboxing, numpy + pillow only (they run in loader workers).

The geometry reuses host/preprocess.py, so training, evaluation and the board resize images alike.
"""

import numpy as np
from PIL import Image

from codenet.host.preprocess import PAD_VALUE, letterbox_image, letterbox_params, to_rgb_uint8

SCALE_RANGE = (0.6, 1.4)  # times the letterbox scale: objects smaller and larger than at test time
MIN_SIDE = 2.0  # boxes narrower or shorter than this after clipping are dropped ...
MIN_KEPT = 0.3  # ... and so are boxes that keep less than this fraction of their area (lose > 70%)
BRIGHTNESS, CONTRAST, SATURATION = (0.75, 1.25), (0.75, 1.25), (0.6, 1.4)  # jitter factor ranges
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def letterbox(image, boxes, size: int):
    """Evaluation resize: (size x size image, boxes in its coordinates, (scale, pad_x, pad_y))."""
    canvas, (scale, pad_x, pad_y) = letterbox_image(image, size)
    out = np.asarray(boxes, dtype=np.float32).reshape(-1, 4) * np.float32(scale)
    out += np.array([pad_x, pad_y, pad_x, pad_y], dtype=np.float32)
    return canvas, out, (scale, pad_x, pad_y)


def hflip(image: np.ndarray, boxes: np.ndarray):
    """Mirror left-right: a box x1..x2 goes to (W - x2)..(W - x1)."""
    w = image.shape[1]
    out = np.array(boxes, dtype=np.float32).reshape(-1, 4)
    out[:, [0, 2]] = w - out[:, [2, 0]]
    return np.ascontiguousarray(image[:, ::-1]), out


def augment(image, boxes, labels, size: int, rng: np.random.Generator, scale_size: int = 0):
    """Random scale, placement in a size x size canvas (gray 114 where empty), flip and color jitter.

    The scale is relative to the letterbox for `scale_size` (default `size`): with a scale_size above
    size, the canvas is a random crop at the scale the model sees at test time, not a shrunken image.
    Boxes follow the pixels exactly; those clipped below MIN_SIDE px or to less than MIN_KEPT of their
    area are dropped together with their labels.
    """
    image = to_rgb_uint8(image)
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    h, w = image.shape[:2]
    scale = letterbox_params(h, w, scale_size or size)[0] * rng.uniform(*SCALE_RANGE)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    if (new_w, new_h) != (w, h):
        image = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.BILINEAR))
    resized = color_jitter(image, rng)
    # smaller than the canvas: lands anywhere inside it; larger: a random crop of it
    dx = int(rng.integers(min(0, size - new_w), max(0, size - new_w) + 1))
    dy = int(rng.integers(min(0, size - new_h), max(0, size - new_h) + 1))
    canvas = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    x0, y0, x1, y1 = max(dx, 0), max(dy, 0), min(dx + new_w, size), min(dy + new_h, size)
    canvas[y0:y1, x0:x1] = resized[y0 - dy : y1 - dy, x0 - dx : x1 - dx]

    # per-axis factors: the rounded size, not `scale`, is what the pixels went through
    boxes = boxes * np.array([new_w / w, new_h / h] * 2, dtype=np.float32)
    boxes += np.array([dx, dy, dx, dy], dtype=np.float32)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    boxes = np.clip(boxes, 0, size)
    bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    keep = (bw >= MIN_SIDE) & (bh >= MIN_SIDE) & (bw * bh >= MIN_KEPT * area)
    boxes, labels = boxes[keep], labels[keep]
    if rng.random() < 0.5:
        canvas, boxes = hflip(canvas, boxes)
    return canvas, boxes, labels


def color_jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast and saturation jitter; applied before placement so the gray fill stays 114."""
    b, c, s = rng.uniform(*BRIGHTNESS), rng.uniform(*CONTRAST), rng.uniform(*SATURATION)
    img = image.astype(np.float32) * np.float32(b)
    gray = img @ _LUMA
    mean = np.float32(gray.mean())
    img = (img - mean) * np.float32(c) + mean  # contrast about the mean luminance
    gray = (gray - mean) * np.float32(c) + mean  # the luma of the new img (the weights sum to 1)
    img = gray[:, :, None] + (img - gray[:, :, None]) * np.float32(s)  # saturation about the pixel's gray
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)
