"""model/data/shifted.py: the second scene generator, a test set only."""

import numpy as np
import pytest

from codenet.host.errors import CodenetError
from codenet.model.data import open_dataset
from codenet.model.data.shifted import ShiftedScenes, _fit, _printed_digit, _shape
from codenet.model.data.synthetic import CLASSES, SyntheticDetection


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("digits", ["handwritten", "printed"])
def test_items_are_deterministic_in_any_order(digits):
    a, b = ShiftedScenes(6, seed=4, digits=digits), ShiftedScenes(6, seed=4, digits=digits)
    late = a[5]
    assert _same(late, b[5]) and _same(a[0], b[0]) and _same(a[-1], late)
    assert not _same(a[0], ShiftedScenes(6, seed=5, digits=digits)[0])


def test_items_are_not_the_synthetic_sets():
    assert not np.array_equal(ShiftedScenes(1)[0][0], SyntheticDetection(1, split="test")[0][0])


@pytest.mark.parametrize("spec", ["synthetic-shift", "synthetic-shift:printed"])
def test_item_format_and_boxes(spec):
    ds = open_dataset(spec, "test", n=40, size=256)
    assert ds.classes == list(CLASSES) and len(ds) == 40
    labels = []
    for image, boxes, lab in (ds[i] for i in range(len(ds))):
        assert image.shape == (256, 256, 3) and image.dtype == np.uint8
        assert boxes.dtype == np.float32 and lab.dtype == np.int64 and len(boxes) == len(lab) >= 1
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= 256).all()
        assert (boxes[:, 2:] - boxes[:, :2] >= 4).all()
        for j in range(len(boxes)):  # objects barely overlap
            for k in range(j):
                x0, y0 = np.maximum(boxes[j, :2], boxes[k, :2])
                x1, y1 = np.minimum(boxes[j, 2:], boxes[k, 2:])
                inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
                area = np.prod(boxes[[j, k], 2:] - boxes[[j, k], :2], axis=1).sum()
                assert inter / (area - inter) < 0.1
        labels += lab.tolist()
    assert set(labels) <= set(range(14)) and len(set(labels)) >= 10


@pytest.mark.parametrize("alpha", [
    _printed_digit(1, 9, 23), _printed_digit(8, 40, 31), _shape(np.random.default_rng(0), "star", 17, 20),
    _fit(np.pad(np.ones((3, 5), np.float32), 4), 12, 7)])
def test_coverage_fills_its_box(alpha):
    """Every edge of the box touches the object, so the box is tight."""
    solid = alpha > 0.3
    assert solid[0].any() and solid[-1].any() and solid[:, 0].any() and solid[:, -1].any()


def test_only_a_test_set_and_bad_arguments():
    for split in ("train", "val"):
        with pytest.raises(CodenetError, match="test set only"):
            open_dataset("synthetic-shift", split, n=2)
    with pytest.raises(CodenetError, match="bad data set"):
        open_dataset("synthetic-shift:cursive", "test", n=2)
    with pytest.raises(CodenetError, match="digits must be"):
        ShiftedScenes(2, digits="cursive")
    with pytest.raises(CodenetError, match="size must be"):
        ShiftedScenes(2, size=32)
    with pytest.raises(IndexError):
        ShiftedScenes(2)[2]


def test_report_section_reads_the_three_evaluations(tmp_path):
    import json

    from codenet.model import report

    for name, ap50, digit, shape in (("synthetic", 60.0, 50.0, 80.0), ("handwritten", 70.0, 60.0, 90.0),
                                     ("printed", 40.0, 20.0, 70.0)):
        per_class = {c: (digit if k < 10 else shape) for k, c in enumerate(CLASSES)}
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps(
            {"AP50": ap50, "agnostic_AP50": ap50 + 10, "mAP": ap50 / 2, "true_score_median": 45.0,
             "per_class_AP50": per_class}))
    text = report.shift_section(tmp_path)
    assert "| 70.0 | 80.0 | 35.0 | 60.0 | 90.0 | 0.45 |" in text
    assert "+10.0 AP50 on the second generator's handwriting, -20.0 with printed digits" in text
    assert "50.0 -> 20.0" in text and "80.0 -> 70.0" in text and "70.0 -> 50.0" in text
