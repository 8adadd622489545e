"""Detection data sets. Every item is (image uint8 HxWx3 RGB, boxes float32 (K,4) x1y1x2y2 px, labels int64 (K,))."""

from __future__ import annotations

from codenet.host.errors import CodenetError

DATA_HELP = "synthetic | voc:<root> | coco:<images dir>:<annotations json>"


def open_dataset(spec: str, split: str, n: int = 0, size: int = 256, seed: int = 0, classes=None):
    """A data set from a spec string (see DATA_HELP); `n` and `seed` apply to the synthetic set."""
    kind, _, rest = spec.partition(":")
    if kind == "synthetic":
        from codenet.model.data.synthetic import SyntheticDetection

        return SyntheticDetection(n, size=size, seed=seed, split=split)
    if kind == "voc" and rest:
        from codenet.model.data.voc import VOCDetection

        voc_split = {"train": "trainval", "val": "test"}.get(split, split)
        return VOCDetection(rest, split=voc_split, classes=classes)
    if kind == "coco" and rest.count(":") >= 1:
        from codenet.model.data.coco import COCODetection

        images, _, annotations = rest.rpartition(":")
        return COCODetection(images, annotations, classes=classes)
    raise CodenetError(f"bad data set {spec!r}: expected {DATA_HELP}")
