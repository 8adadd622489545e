"""Pascal VOC detection data: root/Annotations/*.xml, root/JPEGImages/*.jpg, root/ImageSets/Main/*.txt."""

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from codenet.host.errors import CodenetError
from codenet.host.preprocess import read_image

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
)  # fmt: skip


def class_index(classes, what: str) -> dict:
    """Map class names to label indices, refusing an empty list or a repeated name."""
    names = list(classes)
    if not names or not all(isinstance(c, str) and c for c in names):
        raise CodenetError(f"{what}: classes must be a non-empty list of names, got {classes!r}")
    index = {c: i for i, c in enumerate(names)}
    if len(index) != len(names):
        raise CodenetError(f"{what}: repeated class name in {names}")
    return index


class VOCDetection:
    """Items (image HxWx3 uint8, boxes (K,4) float32 x1,y1,x2,y2 0-based, labels (K,) int64).

    Annotations are parsed up front, so a broken file or an unknown class fails before training
    starts; images are read per item.
    """

    def __init__(self, root, split: str = "trainval", classes=None, keep_difficult: bool = False):
        self.root = Path(root)
        self.split = split
        self.classes = list(VOC_CLASSES if classes is None else classes)
        self.name = f"voc-{split}"
        index = class_index(self.classes, f"VOC data set {self.root}")
        for sub in ("", "Annotations", "JPEGImages"):
            if not (self.root / sub).is_dir():
                raise CodenetError(f"{self.root / sub}: folder not found (expected a Pascal VOC layout)")
        split_file = self.root / "ImageSets" / "Main" / f"{split}.txt"
        try:
            lines = split_file.read_text().splitlines()
        except FileNotFoundError:
            raise CodenetError(f"{split_file}: split file not found (no {split!r} split here)") from None
        except (OSError, UnicodeDecodeError) as e:
            raise CodenetError(f"{split_file}: cannot read split file ({e})") from None
        # first word of each line: the per-class files VOC also ships have "<id> <1|-1|0>" lines
        self.ids = [line.split()[0] for line in lines if line.strip()]
        if not self.ids:
            raise CodenetError(f"{split_file}: no image ids")
        self._targets = [self._parse(i, index, keep_difficult) for i in self.ids]

    def _parse(self, image_id: str, index: dict, keep_difficult: bool):
        path = self.root / "Annotations" / f"{image_id}.xml"
        try:
            tree = ET.parse(path)
        except FileNotFoundError:
            raise CodenetError(f"{path}: annotation file not found (listed in split {self.split})") from None
        except (ET.ParseError, OSError) as e:
            raise CodenetError(f"{path}: malformed XML ({e})") from None
        return parse_objects(tree.getroot(), path, index, keep_difficult)

    def __len__(self) -> int:
        return len(self.ids)

    def image_path(self, i: int) -> Path:
        return self.root / "JPEGImages" / f"{self.ids[i]}.jpg"

    def __getitem__(self, i):
        boxes, labels = self._targets[i]
        return read_image(self.image_path(i)), boxes.copy(), labels.copy()


def parse_objects(root: ET.Element, path, index: dict, keep_difficult: bool = False):
    """The <object> boxes of one VOC annotation -> (boxes (K,4) float32 0-based pixel edges, labels (K,))."""
    boxes, labels = [], []
    for n, obj in enumerate(root.findall("object")):
        name = (obj.findtext("name") or "").strip()
        if name not in index:
            known = ", ".join(index)
            raise CodenetError(f"{path}: object {n} has unknown class {name!r} (classes: {known})")
        try:
            difficult = int(obj.findtext("difficult") or 0)
            box = obj.find("bndbox")
            x1, y1, x2, y2 = (float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        except (AttributeError, TypeError, ValueError):
            raise CodenetError(f"{path}: object {n} ({name}): missing or non-numeric bndbox") from None
        if x2 < x1 or y2 < y1:
            raise CodenetError(f"{path}: object {n} ({name}) has an empty bndbox {x1, y1, x2, y2}")
        if difficult and not keep_difficult:
            continue
        # VOC counts pixels from 1 and includes xmax: pixel edges in 0-based coordinates
        boxes.append((x1 - 1, y1 - 1, x2, y2))
        labels.append(index[name])
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4), np.asarray(labels, dtype=np.int64)
