"""A deterministic synthetic detection data set: digits and shapes on cluttered backgrounds.

Each item is a pure function of (seed, split, index), so any item can be made alone, in any order and
in any worker process: what resumable training and repeatable evaluation need, with no download.
"""

import functools
import math
import operator

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from codenet.host.errors import CodenetError

SHAPES = ("circle", "triangle", "square", "star")
CLASSES = tuple(str(d) for d in range(10)) + SHAPES
SPLITS = {"train": 0, "val": 1, "test": 2}

MIN_SIDE, MAX_SIDE = 8, 128  # longest side of an object in pixels, drawn log-uniform
MAX_ASPECT = 2.0  # longest / shortest side, drawn log-uniform in 1..MAX_ASPECT
MAX_OBJECTS = 8
MAX_COVERED = 0.6  # an object hidden more than this by later ones is dropped from the labels
BOX_ALPHA = 0.25  # coverage below this is cleared, so nothing visible lies outside the box
SOLID_ALPHA = 0.5  # coverage from which a pixel counts as the object's when measuring occlusion


@functools.lru_cache(maxsize=1)
def _digits() -> np.ndarray:
    """scikit-learn's 1797 8x8 digits as coverage in 0..1, loaded once per process."""
    from sklearn.datasets import load_digits  # only this data set needs scikit-learn

    return (load_digits().images / 16.0).astype(np.float32)


@functools.lru_cache(maxsize=3)
def _digit_pool(split_id: int) -> tuple[np.ndarray, ...]:
    """Per digit, the sample indices a split may draw: splits use disjoint handwriting samples."""
    from sklearn.datasets import load_digits

    target = load_digits().target
    index = np.arange(len(target))
    # index mod 10: 0..7 train (80%), 8 val, 9 test
    allowed = {0: index % 10 < 8, 1: index % 10 == 8, 2: index % 10 == 9}[split_id]
    return tuple(index[allowed & (target == d)] for d in range(10))


class SceneSet:
    """`n` generated scenes of size x size, each a pure function of (seed, index): the argument checks,
    length and indexing that the generated sets share; a subclass's `_render(i)` draws item i."""

    min_size = 32

    def __init__(self, what: str, n: int, size: int, seed: int):
        for arg, value, low in (("n", n, 0), ("size", size, self.min_size), ("seed", seed, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise CodenetError(f"{what}: {arg} must be an integer >= {low}, got {value!r}")
        self.n, self.size, self.seed = int(n), int(size), int(seed)
        self.classes = list(CLASSES)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        i = operator.index(i)
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(f"{self.name}: index out of range for {self.n} items")
        return self._render(i)


class SyntheticDetection(SceneSet):
    """`n` scenes of size x size: (image HxWx3 uint8, boxes (K,4) float32 x1,y1,x2,y2, labels (K,) int64)."""

    def __init__(self, n: int, size: int = 256, seed: int = 0, split: str = "train"):
        if split not in SPLITS:
            raise CodenetError(f"synthetic data set: unknown split {split!r} (expected train, val or test)")
        super().__init__("synthetic data set", n, size, seed)
        self.split, self.name = split, f"synthetic-{split}"

    def _render(self, i: int):
        split_id = SPLITS[self.split]
        return render_scene(np.random.default_rng([self.seed, split_id, i]), self.size, split_id)


def render_scene(rng: np.random.Generator, size: int, split_id: int = 0):
    """Draw one scene from `rng`: (image, boxes, labels) as SyntheticDetection returns them."""
    img = _background(rng, size)
    owner = np.full((size, size), -1, dtype=np.int16)  # which object each pixel shows, for occlusion
    side_hi = min(MAX_SIDE, size // 2)
    boxes, labels, solid = [], [], []
    for j in range(int(rng.integers(1, MAX_OBJECTS + 1))):
        label = int(rng.integers(len(CLASSES)))
        side = math.exp(rng.uniform(math.log(MIN_SIDE), math.log(side_hi)))
        short = side / math.exp(rng.uniform(0.0, math.log(MAX_ASPECT)))
        w, h = (side, short) if rng.random() < 0.5 else (short, side)
        w, h = max(2, round(w)), max(2, round(h))
        if label < 10:
            alpha = _digit_alpha(rng, w, h, label, split_id)
        else:
            alpha = _shape_alpha(rng, w, h, SHAPES[label - 10])
        mh, mw = alpha.shape
        x, y = int(rng.integers(0, size - mw + 1)), int(rng.integers(0, size - mh + 1))
        region = img[y : y + mh, x : x + mw]
        paint = _paint(rng, mh, mw, _contrasting_color(rng, region.mean(axis=(0, 1))))
        a = alpha[:, :, None]
        region *= 1.0 - a
        region += a * paint
        mask = alpha >= SOLID_ALPHA
        owner[y : y + mh, x : x + mw][mask] = j
        solid.append(int(mask.sum()))
        boxes.append((x, y, x + mw, y + mh))
        labels.append(label)
    visible = np.bincount(owner.ravel() + 1, minlength=len(labels) + 1)[1:]
    keep = visible >= (1.0 - MAX_COVERED) * np.asarray(solid)
    image = _finish(rng, img)
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)[keep]
    return image, boxes, np.asarray(labels, dtype=np.int64)[keep]


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Clutter as float32 HxWx3: a color gradient with soft blobs and grain, then sharp lines."""
    low = max(8, size // 4)  # drawn small and upscaled: cheap, and the blobs come out soft
    c0, c1 = rng.uniform(0, 255, (2, 3))
    theta = rng.uniform(0, 2 * math.pi)
    ramp = np.linspace(0.0, 1.0, low, dtype=np.float32)
    t = math.cos(theta) * ramp[None, :] + math.sin(theta) * ramp[:, None]
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    base = c0 + (c1 - c0) * t[:, :, None]
    base += rng.normal(0.0, rng.uniform(0, 20), (low, low, 3))  # grain, blotchy once upscaled
    im = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    mid = (c0 + c1) / 2
    for _ in range(int(rng.integers(2, 10))):
        # toned towards the gradient so blobs are clutter, and made of a few overlapping ellipses so
        # they are irregular rather than circle-like
        mix = rng.uniform(0.3, 0.8)
        fill = tuple(int(v) for v in mix * rng.uniform(0, 255, 3) + (1 - mix) * mid)
        cx, cy = rng.uniform(0, low, 2)
        for dx, dy, rx, ry in rng.uniform(-1, 1, (3, 4)) * [0.12 * low, 0.12 * low, 0.08 * low, 0.08 * low]:
            rx, ry = abs(rx) + 0.03 * low, abs(ry) + 0.03 * low
            draw.ellipse([cx + dx - rx, cy + dy - ry, cx + dx + rx, cy + dy + ry], fill=fill)
    # blurred so background blobs never have the crisp edges that objects have
    im = im.filter(ImageFilter.GaussianBlur(float(rng.uniform(1.0, 2.5))))
    im = im.resize((size, size), Image.BILINEAR)
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(0, 8))):
        x0, y0, x1, y1 = rng.uniform(-0.2 * size, 1.2 * size, 4)
        draw.line(
            [float(x0), float(y0), float(x1), float(y1)],
            fill=tuple(int(v) for v in rng.integers(0, 256, 3)),
            width=int(rng.integers(1, 4)),
        )
    return np.array(im, dtype=np.float32)


def _tight(alpha: np.ndarray) -> np.ndarray:
    """Clear faint coverage and crop to what is left, so the box is tight to the visible object."""
    alpha = np.where(alpha >= BOX_ALPHA, alpha, np.float32(0.0))
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    return alpha[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _digit_alpha(rng: np.random.Generator, w: int, h: int, digit: int, split_id: int) -> np.ndarray:
    """Coverage of a handwritten digit stretched to about w x h, smoothly upscaled from 8x8."""
    d = _digits()[rng.choice(_digit_pool(split_id)[digit])]
    rows, cols = np.flatnonzero(d.max(axis=1) > 0.2), np.flatnonzero(d.max(axis=0) > 0.2)
    d = np.pad(d[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], 1)  # strokes fade out, not cut
    ch, cw = d.shape[0] - 2, d.shape[1] - 2
    # small digits are drawn supersampled and box-filtered down, as shapes are, so thin strokes
    # become partial coverage instead of vanishing
    f = min(4, max(1, 64 // max(w, h)))
    # scale the padded digit so that its stroke extent, not the padding, spans w x h
    up_w, up_h = max(1, round(f * w * (cw + 2) / cw)), max(1, round(f * h * (ch + 2) / ch))
    up = np.asarray(Image.fromarray(d).resize((up_w, up_h), Image.BILINEAR))
    a = np.clip((up - 0.25) / 0.35, 0.0, 1.0)  # smoothstep: solid strokes, soft edges
    a = Image.fromarray((a * a * (3.0 - 2.0 * a)).astype(np.float32))
    a = np.asarray(a.reduce(f) if f > 1 else a)
    return _tight(a / max(float(a.max()), 1e-6))  # the densest pixel fully opaque, even when tiny


def _shape_alpha(rng: np.random.Generator, w: int, h: int, shape: str) -> np.ndarray:
    """Anti-aliased coverage of a shape filling a w x h box (drawn supersampled, box-filtered down)."""
    f = 4 if max(w, h) <= 64 else 2
    big = Image.new("L", (w * f, h * f), 0)
    draw = ImageDraw.Draw(big)
    if shape == "circle":
        draw.ellipse([0, 0, w * f - 1, h * f - 1], fill=255)
    else:
        pts = _polygon(rng, w, h, shape)
        pts = (pts - pts.min(axis=0)) / (pts.max(axis=0) - pts.min(axis=0)) * [w * f - 1, h * f - 1]
        draw.polygon([(float(px), float(py)) for px, py in pts], fill=255)
    return _tight(np.asarray(big.reduce(f), dtype=np.float32) / 255.0)


def _polygon(rng: np.random.Generator, w: int, h: int, shape: str) -> np.ndarray:
    """Vertices (N,2) of a randomly rotated triangle, star or rectangle; scaled to the box later."""
    theta = rng.uniform(0, 2 * math.pi)
    if shape == "triangle":
        angles, radii = theta + np.arange(3) * (2 * math.pi / 3), np.ones(3)
    elif shape == "star":
        angles = theta + np.arange(10) * (math.pi / 5)
        radii = np.where(np.arange(10) % 2 == 0, 1.0, rng.uniform(0.38, 0.5))
    else:  # "square": a rectangle tilted by up to 15 degrees whose bounding box is exactly w x h
        t = rng.uniform(-math.radians(15), math.radians(15))
        c, s = math.cos(t), abs(math.sin(t))
        a, b = (w * c - h * s) / (c * c - s * s), (h * c - w * s) / (c * c - s * s)
        if a <= 0 or b <= 0:
            a, b, t = w, h, 0.0
        corners = np.array([[-a, -b], [a, -b], [a, b], [-a, b]]) / 2
        rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
        return corners @ rot.T
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def _contrasting_color(rng: np.random.Generator, local: np.ndarray) -> np.ndarray:
    """A random RGB color far from the local background mean (the farthest of 8 if none is far)."""
    candidates = rng.uniform(0, 255, (8, 3))
    dist = np.linalg.norm(candidates - local, axis=1)
    far = np.flatnonzero(dist > 120)
    return candidates[far[0] if far.size else int(dist.argmax())]


def _paint(rng: np.random.Generator, h: int, w: int, color: np.ndarray) -> np.ndarray:
    """The object's color with a gentle linear shading across it, so objects are not flat."""
    theta, strength = rng.uniform(0, 2 * math.pi), rng.uniform(0.0, 0.25)
    ramp = math.cos(theta) * np.linspace(-1, 1, w, dtype=np.float32)[None, :] + math.sin(theta) * np.linspace(
        -1, 1, h, dtype=np.float32
    )[:, None]
    return np.clip(color.astype(np.float32) * (1.0 + strength * ramp[:, :, None]), 0, 255)


def _finish(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Camera-like degradation: sometimes a slight blur, always some Gaussian noise; to uint8."""
    out = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        out = _blur(out, int(rng.integers(1, 3)))
    # Near-Gaussian noise as the sum of 3 uniform bytes (std 128.3), scaled in int16 by k/1024 for a
    # std of k/8 = 2..10 levels: four times cheaper than float normals, which were half the render time
    k = int(rng.integers(16, 81))
    noise = rng.integers(0, 256, (3, *out.shape), dtype=np.uint8).sum(axis=0, dtype=np.int16) - 382
    noisy = out.astype(np.int16) + ((noise * k + 512) >> 10)
    return np.clip(noisy, 0, 255, out=noisy).astype(np.uint8)


def _blur(image: np.ndarray, passes: int) -> np.ndarray:
    """Separable [1 2 1]/4 blur (sigma about 0.7 px per pass), edges repeated.

    Integer numpy on whole rows rather than PIL's GaussianBlur, which took 4 ms on a 256 px image.
    """
    h, w, c = image.shape
    x = image.reshape(h, w * c).astype(np.uint16)
    for _ in range(passes):
        y = x * 2  # down the columns: neighbours are whole rows
        y[1:] += x[:-1]
        y[0] += x[0]
        y[:-1] += x[1:]
        y[-1] += x[-1]
        x = (y + 2) >> 2
        y = x * 2  # along the rows: neighbours are one pixel (c values) apart
        y[:, c:] += x[:, :-c]
        y[:, :c] += x[:, :c]
        y[:, :-c] += x[:, c:]
        y[:, -c:] += x[:, -c:]
        x = (y + 2) >> 2
    return x.astype(np.uint8).reshape(h, w, c)
