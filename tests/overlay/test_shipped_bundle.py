"""The shipped bundle is the shipped model: same integers, same detections on the sample images."""

import numpy as np
import pytest

from codenet.host.bundle import DEFAULT_BUNDLE, load_bundle
from codenet.host.detector import Detector
from codenet.host.images import read_images
from codenet.model.checkpoint import load_model
from codenet.model.cli import DEFAULT_MODEL
from codenet.model.export import export
from codenet.model.predict import predict
from codenet.overlay.build import build_bundle
from codenet.overlay.folding import SHIPPED_FOLDING, load_folding

SAMPLES = DEFAULT_BUNDLE.parents[1] / "samples"
pytestmark = pytest.mark.skipif(not DEFAULT_MODEL.exists(), reason="no shipped model")


def test_shipped_bundle_is_exported_from_the_shipped_model(tmp_path):
    card = export(DEFAULT_MODEL, tmp_path)
    build_bundle(tmp_path / "model.onnx", card, tmp_path / "bundle", load_folding(SHIPPED_FOLDING))
    fresh, shipped = load_bundle(tmp_path / "bundle"), load_bundle(DEFAULT_BUNDLE)
    assert fresh.graph.layers == shipped.graph.layers
    assert fresh.graph.arrays.keys() == shipped.graph.arrays.keys()
    for key, value in fresh.graph.arrays.items():
        assert np.array_equal(value, shipped.graph.arrays[key]), key
    assert fresh.manifest["output"] == shipped.manifest["output"]


def test_detections_identical_on_the_samples():
    model, classes, _ = load_model(DEFAULT_MODEL)
    detector = Detector(score_threshold=0.1)
    assert detector.classes == classes
    images = [image for _, image in read_images([SAMPLES], progress=False)]
    assert len(images) >= 5
    total = 0
    for image, (tb, ts, tl) in zip(images, predict(model, images, score_threshold=0.1)):
        b, s, lab = detector(image)
        assert np.array_equal(b, tb) and np.array_equal(s, ts) and np.array_equal(lab, tl)
        total += len(s)
    assert total > 0
