"""Detection data sets. Every item is (image uint8 HxWx3 RGB, boxes float32 (K,4) x1y1x2y2 px, labels int64 (K,))."""

from __future__ import annotations

from codenet.host.errors import CodenetError

DATA_HELP = ("synthetic | synthetic-objects | synthetic-shift[:printed] (test only) | "
             "trees[:<deepforest wheel or data folder>] | voc:<root> | coco:<images dir>:<annotations json>")


class ClassAgnostic:
    """A data set with every label mapped to one class, "object": for localization-only studies."""

    classes = ["object"]

    def __init__(self, dataset):
        self.dataset, self.name = dataset, f"{dataset.name}-objects"

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        image, boxes, labels = self.dataset[i]
        return image, boxes, labels * 0


def open_dataset(spec: str, split: str, n: int = 0, size: int = 256, seed: int = 0, classes=None):
    """A data set from a spec string (see DATA_HELP); `n` and `seed` apply to the synthetic set."""
    kind, _, rest = spec.partition(":")
    if kind in ("synthetic", "synthetic-objects"):
        from codenet.model.data.synthetic import SyntheticDetection

        data = SyntheticDetection(n, size=size, seed=seed, split=split)
        return ClassAgnostic(data) if kind == "synthetic-objects" else data
    if kind == "synthetic-shift" and rest in ("", "printed"):
        from codenet.model.data.shifted import ShiftedScenes

        return ShiftedScenes(n, size=size, seed=seed, split=split, digits=rest or "handwritten")
    if kind == "trees":
        from codenet.model.data.trees import TreeTiles

        return TreeTiles(split, rest or None)
    if kind == "voc" and rest:
        from codenet.model.data.voc import VOCDetection

        voc_split = {"train": "trainval", "val": "test"}.get(split, split)
        return VOCDetection(rest, split=voc_split, classes=classes)
    if kind == "coco" and rest.count(":") >= 1:
        from codenet.model.data.coco import COCODetection

        images, _, annotations = rest.rpartition(":")
        return COCODetection(images, annotations, classes=classes)
    raise CodenetError(f"bad data set {spec!r}: expected {DATA_HELP}")
