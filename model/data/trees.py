"""Aerial tree crowns: the NEON RGB images with Pascal VOC boxes in the deepforest wheel's data folder.

One class, "tree", at native resolution (0.1 m/pixel, median crown about 40 px). Each YELL image is
cut into horizontal bands: training rows on top, a val band, then a test band at the bottom, so no
training tile touches a pixel that tuning or testing sees. OSBS_029 and SOAP_061 (other sites; SOAP's
Alive and Dead are both trees) form the cross-site test, used by neither training nor tuning.

  train       overlapping 256x256 windows (stride 128) over the training rows; `augmented` draws
              a jittered, rescaled, rotated and flipped window around each from the same rows
  val, test   disjoint 256x256 tiles of the band; edge tiles are padded with gray 114
  cross-site  disjoint 256x256 tiles of OSBS_029 and SOAP_061

The package is never imported (its imports need torch, lightning and GIS libraries): the files are
read from the downloaded wheel (a zip) or from an installed package's data folder.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from codenet.host.errors import CodenetError
from codenet.host.preprocess import PAD_VALUE

from .augment import MIN_KEPT, MIN_SIDE, color_jitter
from .voc import parse_objects

WHEEL = "deepforest-2.1.0-py3-none-any.whl"
WHEEL_DIR = Path(__file__).resolve().parents[2] / "build" / "deepforest"
GET_IT = f"make trees-data (pip download --no-deps deepforest==2.1.0 -d {WHEEL_DIR})"

TILE = 256
TRAIN_STRIDE = 128
#: per YELL image, the (first, end) rows of its val and test bands; rows above val are for training
BANDS = {
    "2019_YELL_2_528000_4978000_image_crop2": {"val": (1704, 1960), "test": (1960, 2472)},
    "2019_YELL_2_541000_4977000_image_crop": {"val": (523, 779), "test": (779, 1035)},
}
CROSS_SITE = ("OSBS_029", "SOAP_061")
SPLITS = ("train", "val", "test", "cross-site")
LABELS = {"Tree": 0, "Alive": 0, "Dead": 0}
KEEP_FRACTION = 0.5  # an evaluation tile labels a crown it cuts if at least half of the box lies inside
SCALE_RANGE = (0.8, 1.25)  # mild: the test images have the training images' ground resolution
JITTER = 0.5  # a training window's centre moves up to this times the stride from its grid position


class DataFolder:
    """Reads `name` from the wheel's deepforest/data/ or from a data folder on disk."""

    def __init__(self, path: Path):
        self.path = path
        self._zip = zipfile.ZipFile(path) if path.is_file() else None

    def read(self, name: str) -> bytes:
        try:
            if self._zip is not None:
                return self._zip.read(f"deepforest/data/{name}")
            return (self.path / name).read_bytes()
        except (KeyError, OSError) as e:
            raise CodenetError(f"{self.path}: cannot read {name} ({e}); get the data with {GET_IT}") from None

    # equal folders share load_scene's cache: train, val and test sets decode each image once
    def __eq__(self, other):
        return isinstance(other, DataFolder) and other.path == self.path

    def __hash__(self):
        return hash(self.path)


def find_data(path=None) -> DataFolder:
    """The wheel or data folder: `path`, else build/deepforest/<wheel>, else an installed deepforest."""
    candidates = [Path(path)] if path else [WHEEL_DIR / WHEEL, _installed_data()]
    for candidate in candidates:
        if candidate is not None and (candidate.is_dir() or zipfile.is_zipfile(candidate)):
            return DataFolder(candidate)
    where = f"{path} is not the deepforest wheel or its data folder" if path else "the deepforest data was not found"
    raise CodenetError(f"trees data set: {where}; get it with {GET_IT}")


def _installed_data():
    """deepforest/data of an installed package, located without importing it."""
    spec = importlib.util.find_spec("deepforest")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "data"


@functools.lru_cache(maxsize=8)
def load_scene(folder: DataFolder, name: str):
    """(image HxWx3 uint8, boxes (K,4) float32 0-based pixel edges) of one annotated image."""
    try:
        with Image.open(io.BytesIO(folder.read(f"{name}.png"))) as im:
            image = np.asarray(im.convert("RGB"))
        root = ET.fromstring(folder.read(f"{name}.xml"))
    except (OSError, ET.ParseError) as e:
        raise CodenetError(f"{folder.path}: {name} is unreadable ({e})") from None
    boxes, _ = parse_objects(root, f"{folder.path}:{name}.xml", LABELS)
    return image, boxes


def grid(start: int, stop: int, stride: int, cover: bool) -> list:
    """Tile origins in [start, stop). cover: every `stride`, plus one aligned to `stop` so the last rows
    are seen (training); otherwise disjoint tiles to the end, the last one partial (evaluation)."""
    if not cover:
        return list(range(start, stop, TILE))
    origins = list(range(start, max(start, stop - TILE) + 1, stride))
    if origins[-1] + TILE < stop:
        origins.append(stop - TILE)
    return origins


def clip_boxes(boxes: np.ndarray, x0: float, y0: float, x1: float, y1: float, keep_fraction: float):
    """Boxes cut to the window [x0, x1) x [y0, y1), in its coordinates; those keeping < keep_fraction dropped."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    cut = np.clip(boxes, [x0, y0, x0, y0], [x1, y1, x1, y1]) - np.array([x0, y0, x0, y0], np.float32)
    w, h = cut[:, 2] - cut[:, 0], cut[:, 3] - cut[:, 1]
    keep = (w >= MIN_SIDE) & (h >= MIN_SIDE) & (w * h >= keep_fraction * area)
    return cut[keep].astype(np.float32)


class TreeTiles:
    """`split` of the trees set: items (image 256x256x3 uint8, boxes (K,4) float32, labels (K,) int64)."""

    classes = ["tree"]

    def __init__(self, split: str = "train", path=None):
        if split not in SPLITS:
            raise CodenetError(f"trees data set: unknown split {split!r} (expected {', '.join(SPLITS)})")
        self.split, self.name, self.folder = split, f"trees-{split}", find_data(path)
        self.windows = []  # (scene, x, y, region (x0, y0, x1, y1)): a tile never reads outside its region
        scenes = CROSS_SITE if split == "cross-site" else tuple(BANDS)
        for scene in scenes:
            image, _ = load_scene(self.folder, scene)
            h, w = image.shape[:2]
            if split == "cross-site":
                top, bottom = 0, h
            elif split == "train":
                top, bottom = 0, BANDS[scene]["val"][0]
            else:
                top, bottom = BANDS[scene][split]
            train = split == "train"
            stride = TRAIN_STRIDE if train else TILE
            region = (0, top, w, bottom)
            for y in grid(top, bottom, stride, cover=train):
                for x in grid(0, w, stride, cover=train):
                    self.windows.append((scene, x, y, region))

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i):
        scene, x, y, region = self.windows[i]
        image, boxes = load_scene(self.folder, scene)
        x1, y1 = min(x + TILE, region[2]), min(y + TILE, region[3])
        tile = np.full((TILE, TILE, 3), PAD_VALUE, np.uint8)
        tile[:y1 - y, :x1 - x] = image[y:y1, x:x1]
        keep = MIN_KEPT if self.split == "train" else KEEP_FRACTION
        out = clip_boxes(boxes, x, y, x1, y1, keep)
        return tile, out, np.zeros(len(out), np.int64)

    def augmented(self, i: int, rng: np.random.Generator, size: int):
        """A training view around window i: size x size pixels, nadir-safe geometry, colour jitter.

        The source window (size / scale pixels, centre jittered) is clamped into the training rows, so
        augmentation never reaches the val or test band; the 8 flips/rotations of a square are equally
        likely, since an aerial view has no up.
        """
        scene, x, y, region = self.windows[i]
        image, boxes = load_scene(self.folder, scene)
        scale = float(np.exp(rng.uniform(*np.log(SCALE_RANGE))))
        side = min(int(round(size / scale)), region[2] - region[0], region[3] - region[1])
        shift = rng.uniform(-JITTER, JITTER, 2) * TRAIN_STRIDE
        cx, cy = x + TILE / 2 + shift[0], y + TILE / 2 + shift[1]
        sx = int(np.clip(round(cx - side / 2), region[0], region[2] - side))
        sy = int(np.clip(round(cy - side / 2), region[1], region[3] - side))
        crop = color_jitter(image[sy:sy + side, sx:sx + side], rng)
        out = clip_boxes(boxes, sx, sy, sx + side, sy + side, MIN_KEPT)
        if side != size:
            crop = np.asarray(Image.fromarray(crop).resize((size, size), Image.BILINEAR))
            out = out * np.float32(size / side)
        k = int(rng.integers(4))
        crop, out = rot90(crop, out, k)
        if rng.random() < 0.5:
            crop = np.ascontiguousarray(crop[:, ::-1])
            out[:, [0, 2]] = size - out[:, [2, 0]]
        return crop, out, np.zeros(len(out), np.int64)


def rot90(image: np.ndarray, boxes: np.ndarray, k: int):
    """Rotate a square image by k x 90 degrees counter-clockwise (np.rot90's sense), boxes with it."""
    size = image.shape[0]
    out = np.array(boxes, np.float32).reshape(-1, 4)
    for _ in range(k % 4):
        # counter-clockwise: pixel (x, y) goes to (y, size - x)
        out = np.stack([out[:, 1], size - out[:, 2], out[:, 3], size - out[:, 0]], axis=1)
    return np.ascontiguousarray(np.rot90(image, k)), out
