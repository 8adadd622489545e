"""COCO-layout detection data: an images folder and an instances JSON (images, annotations, categories)."""

import json
from pathlib import Path

import numpy as np

from codenet.host.errors import CodenetError
from codenet.host.preprocess import read_image

from .voc import class_index


class COCODetection:
    """Items (image HxWx3 uint8, boxes (K,4) float32 x1,y1,x2,y2, labels (K,) int64) in the JSON's order.

    Labels index `classes`: by default the category names sorted by category id; `category_ids[k]` is
    the COCO id of class k (None if the JSON has no such category), for writing results back.
    Crowd annotations (iscrowd=1) are skipped.
    """

    def __init__(self, images_dir, annotation_file, classes=None):
        self.images_dir, self.annotation_file = Path(images_dir), Path(annotation_file)
        self.name = f"coco-{self.annotation_file.stem}"
        path = self.annotation_file
        if not self.images_dir.is_dir():
            raise CodenetError(f"{self.images_dir}: images folder not found")
        try:
            with open(path, "rb") as f:
                data = json.load(f)
        except FileNotFoundError:
            raise CodenetError(f"{path}: annotation file not found") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise CodenetError(f"{path}: malformed JSON ({e})") from None
        except OSError as e:
            raise CodenetError(f"{path}: cannot read annotation file ({e})") from None
        lists = ("images", "categories")
        if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in lists):
            raise CodenetError(f"{path}: not a COCO instances file (needs 'images' and 'categories' lists)")
        try:
            self._index(data, classes)
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            # a field missing or of the wrong type somewhere in a hand-made or converted file
            raise CodenetError(f"{path}: malformed COCO annotations ({type(e).__name__}: {e})") from None

    def _index(self, data: dict, classes) -> None:
        path = self.annotation_file
        categories = sorted(data["categories"], key=lambda c: int(c["id"]))
        names = {int(c["id"]): str(c["name"]) for c in categories}
        self.classes = [names[i] for i in sorted(names)] if classes is None else list(classes)
        index = class_index(self.classes, f"COCO data set {path}")
        by_name = {name: cid for cid, name in names.items()}
        self.category_ids = [by_name.get(c) for c in self.classes]
        self.image_ids = [int(im["id"]) for im in data["images"]]
        self._files = [str(im["file_name"]) for im in data["images"]]
        rows = {image_id: k for k, image_id in enumerate(self.image_ids)}
        if len(rows) != len(self.image_ids):
            raise CodenetError(f"{path}: repeated image id")
        boxes = [[] for _ in self.image_ids]
        labels = [[] for _ in self.image_ids]
        for k, ann in enumerate(data.get("annotations", [])):
            what = f"{path}: annotation #{k} (id {ann.get('id')})"
            if ann.get("iscrowd", 0):
                continue
            try:
                image_id, category_id = int(ann["image_id"]), int(ann["category_id"])
                x, y, w, h = (float(v) for v in ann["bbox"])
            except (KeyError, TypeError, ValueError) as e:
                raise CodenetError(f"{what} is malformed ({type(e).__name__}: {e})") from None
            if image_id not in rows:
                raise CodenetError(f"{what} refers to unknown image id {image_id}")
            if category_id not in names:
                raise CodenetError(f"{what} has unknown category id {category_id}")
            name = names[category_id]
            if name not in index:
                raise CodenetError(f"{what} has unknown class {name!r} (classes: {', '.join(index)})")
            if w <= 0 or h <= 0:
                continue  # a handful of COCO boxes are empty: nothing to learn from them
            boxes[rows[image_id]].append((x, y, x + w, y + h))
            labels[rows[image_id]].append(index[name])
        self._targets = [
            (np.asarray(b, dtype=np.float32).reshape(-1, 4), np.asarray(lab, dtype=np.int64))
            for b, lab in zip(boxes, labels)
        ]

    def __len__(self) -> int:
        return len(self.image_ids)

    def image_path(self, i: int) -> Path:
        return self.images_dir / self._files[i]

    def __getitem__(self, i):
        boxes, labels = self._targets[i]
        return read_image(self.image_path(i)), boxes.copy(), labels.copy()
