"""A second scene generator with the synthetic set's 14 classes, drawn another way: for measuring how
a model trained on `synthetic` holds up on scenes it was not drawn from. Never train or tune on it.

What differs from synthetic.py: backgrounds are multi-octave value noise, rotated stripes, soft
checkerboards or a vignette (not gradients with blobs and lines); handwritten digits are upscaled by
nearest neighbour, blurred and thresholded at a random level (stroke weight varies), or printed in
a font; shapes are axis-aligned squares and regular polygons drawn at 3x and Lanczos-reduced;
objects barely overlap (IoU < 0.1) and need less contrast; exposure changes, Gaussian noise and
JPEG compression finish the image. The digits are the held-out handwriting of the test split.
Each item is a pure function of (seed, index), as in the synthetic set.
"""

import math
from io import BytesIO

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from codenet.host.errors import CodenetError

from .synthetic import CLASSES, SHAPES, SPLITS, SceneSet, _digit_pool, _digits

DIGIT_STYLES = ("handwritten", "printed")
MIN_SIDE, MAX_SIDE = 12, 110
MAX_OBJECTS = 6
MIN_CONTRAST = 90  # RGB distance of an object's color from its local background, when one is found


class ShiftedScenes(SceneSet):
    """`n` scenes of size x size from the second generator: (image uint8, boxes (K,4) x1y1x2y2, labels)."""

    min_size = 64

    def __init__(self, n: int, size: int = 256, seed: int = 0, split: str = "test", digits: str = "handwritten"):
        if split != "test":
            raise CodenetError(f"synthetic-shift is a test set only (got split {split!r}): never train or tune on it")
        if digits not in DIGIT_STYLES:
            raise CodenetError(f"synthetic-shift: digits must be one of {', '.join(DIGIT_STYLES)}, got {digits!r}")
        super().__init__("synthetic-shift", n, size, seed)
        self.digits, self.name = digits, f"synthetic-shift-{digits}"

    def _render(self, i: int):
        # 101: a stream of its own, apart from the synthetic set's (seed, split, index)
        rng = np.random.default_rng([self.seed, 101, DIGIT_STYLES.index(self.digits), i])
        return render_shifted(rng, self.size, self.digits)


def render_shifted(rng: np.random.Generator, size: int, digits: str = "handwritten"):
    """One scene: (image, boxes, labels) as ShiftedScenes returns them."""
    img = _background(rng, size)
    boxes, labels = [], []
    for _ in range(int(rng.integers(1, MAX_OBJECTS + 1))):
        label = int(rng.integers(len(CLASSES)))
        side = math.exp(rng.uniform(math.log(MIN_SIDE), math.log(min(MAX_SIDE, size // 2))))
        aspect = math.exp(rng.uniform(-0.5, 0.5))
        w, h = max(4, round(side * min(1.0, aspect))), max(4, round(side * min(1.0, 1.0 / aspect)))
        box = _free_place(rng, size, w, h, boxes)
        if box is None:
            continue
        x, y = box[0], box[1]
        if label < 10:
            alpha = _printed_digit(label, w, h) if digits == "printed" else _handwritten_digit(rng, label, w, h)
        else:
            alpha = _shape(rng, SHAPES[label - 10], w, h)
        region = img[y : y + h, x : x + w]
        color = _color_against(rng, region.mean(axis=(0, 1)))
        a = alpha[:, :, None]
        region[...] = region * (1.0 - a) + color * a
        boxes.append(box)
        labels.append(label)
    img = img * rng.uniform(0.8, 1.15) + rng.uniform(-20, 20)  # exposure
    img += rng.normal(0.0, rng.uniform(0, 6), img.shape)
    buf = BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=int(rng.integers(60, 96)))
    image = np.asarray(Image.open(BytesIO(buf.getvalue())).convert("RGB"))
    return image, np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(labels, np.int64)


def _free_place(rng, size, w, h, boxes, tries=20):
    """A w x h box at a random place overlapping the placed ones by IoU < 0.1, or None."""
    for _ in range(tries):
        x, y = int(rng.integers(0, size - w + 1)), int(rng.integers(0, size - h + 1))
        box = (x, y, x + w, y + h)
        if all(_iou(box, b) < 0.1 for b in boxes):
            return box
    return None


def _iou(a, b) -> float:
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _value_noise(rng, size, octaves):
    """Smooth noise in 0..1: bicubically upscaled random grids, halving in weight per octave."""
    out = np.zeros((size, size), np.float32)
    for o in range(octaves):
        grid = rng.random((2 ** (o + 2) + 1,) * 2).astype(np.float32)
        out += 0.5**o * np.asarray(Image.fromarray(grid).resize((size, size), Image.BICUBIC))
    return (out - out.min()) / max(float(out.max() - out.min()), 1e-6)


def _background(rng, size):
    """Float32 HxWx3 between two random colors, mixed by one of four texture kinds."""
    c0, c1 = rng.uniform(0, 255, (2, 3))
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    kind = int(rng.integers(4))
    if kind == 0:
        t = _value_noise(rng, size, 4)
    elif kind == 1:  # stripes at a random angle and period, over some noise
        theta, period = rng.uniform(0, math.pi), rng.uniform(10, 60)
        t = 0.5 + 0.5 * np.sin((x * math.cos(theta) + y * math.sin(theta)) * (2 * math.pi / period))
        t = 0.6 * t + 0.4 * _value_noise(rng, size, 3)
    elif kind == 2:  # a checkerboard with softened edges
        cell = int(rng.integers(16, 64))
        board = (((x // cell) + (y // cell)) % 2 * 255).astype(np.uint8)
        t = np.asarray(Image.fromarray(board).filter(ImageFilter.GaussianBlur(3)), np.float32) / 255
    else:  # nearly flat, darker towards the corners
        t = 1 - np.hypot(x - size / 2, y - size / 2) / (size * 0.75) + 0.1 * _value_noise(rng, size, 2)
    return (c0 + (c1 - c0) * np.clip(t, 0, 1)[:, :, None]).astype(np.float32)


def _handwritten_digit(rng, digit, w, h):
    """Coverage of a held-out handwritten digit: nearest x6, blurred, thresholded, stretched to w x h."""
    d = _digits()[rng.choice(_digit_pool(SPLITS["test"])[digit])]
    big = Image.fromarray((np.kron(d, np.ones((6, 6), np.float32)) * 255).astype(np.uint8))
    a = np.asarray(big.filter(ImageFilter.GaussianBlur(2.5)), np.float32) / 255
    return _fit((a > rng.uniform(0.25, 0.5)).astype(np.float32), w, h)  # the threshold sets the stroke


def _printed_digit(digit, w, h):
    """Coverage of the digit in Pillow's built-in font, stretched to w x h."""
    px = int(max(w, h) * 1.3)
    try:
        font = ImageFont.load_default(size=px)
    except TypeError:  # Pillow before 10.1 has no scalable default font
        raise CodenetError("synthetic-shift:printed needs Pillow >= 10.1") from None
    canvas = Image.new("L", (int(px * 2), int(px * 2)), 0)
    ImageDraw.Draw(canvas).text((px // 4, 0), str(digit), fill=255, font=font)
    return _fit(np.asarray(canvas, np.float32) / 255, w, h)


def _fit(a, w, h):
    """Crop coverage to its solid part and resize it to exactly w x h, so the box is tight."""
    rows, cols = np.flatnonzero((a > 0.5).any(axis=1)), np.flatnonzero((a > 0.5).any(axis=0))
    a = a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    im = Image.fromarray((a * 255).astype(np.uint8)).resize((w, h), Image.LANCZOS)
    return np.asarray(im, np.float32) / 255


def _shape(rng, shape, w, h):
    """Coverage of an axis-aligned square, an ellipse or a regular triangle / five-point star in w x h."""
    f = 3
    im = Image.new("L", (w * f, h * f), 0)
    draw = ImageDraw.Draw(im)
    right, bottom = w * f - 1, h * f - 1
    if shape == "circle":
        draw.ellipse([0, 0, right, bottom], fill=255)
    elif shape == "square":
        draw.rectangle([0, 0, right, bottom], fill=255)
    else:
        points = 3 if shape == "triangle" else 10
        angles = rng.uniform(0, 2 * math.pi) + np.arange(points) * (2 * math.pi / points)
        radii = np.ones(points) if shape == "triangle" else np.where(np.arange(points) % 2 == 0, 1.0, 0.42)
        p = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
        p = (p - p.min(axis=0)) / (p.max(axis=0) - p.min(axis=0)) * [right, bottom]
        draw.polygon([(float(px), float(py)) for px, py in p], fill=255)
    return np.asarray(im.resize((w, h), Image.LANCZOS), np.float32) / 255


def _color_against(rng, local):
    """A random color at least MIN_CONTRAST from the local background mean (the last of 20 tries if none)."""
    for _ in range(20):
        color = rng.uniform(0, 255, 3)
        if np.linalg.norm(color - local) > MIN_CONTRAST:
            break
    return color
