"""Each shipped bundle is its shipped model: same integers, same detections on its sample images."""

from pathlib import Path

import numpy as np
import pytest
from qonnx.core.modelwrapper import ModelWrapper

from codenet.host.bundle import DEFAULT_BUNDLE, load_bundle
from codenet.host.detector import Detector
from codenet.host.images import read_images
from codenet.model.checkpoint import load_model
from codenet.model.cli import DEFAULT_MODEL
from codenet.model.export import export
from codenet.model.predict import predict
from codenet.overlay.flow.board import load_board
from codenet.overlay.flow.steps import build_bundle
from codenet.overlay.estimate.fold_search import folding_config, search_folding
from codenet.overlay.estimate.folding import SHIPPED_FOLDING, TREES_FOLDING, load_folding

BUNDLES = DEFAULT_BUNDLE.parent
SAMPLES = BUNDLES.parent / "samples"
# name: (model file, bundle, sample images, folding: as make bundle exports it)
SHIPPED = {
    "codenet-s": (DEFAULT_MODEL, DEFAULT_BUNDLE, sorted(SAMPLES.glob("*.jpg")), SHIPPED_FOLDING),
    "codenet-trees": (DEFAULT_MODEL.parent / "trees.pt", BUNDLES / "codenet-trees",
                      sorted((SAMPLES / "trees").glob("*.jpg")), TREES_FOLDING),
}


@pytest.fixture(params=sorted(SHIPPED))
def shipped(request):
    model, bundle, samples, folding = SHIPPED[request.param]
    assert model.exists() and bundle.exists() and len(samples) >= 3, request.param
    return model, bundle, samples, folding


def test_shipped_bundle_is_exported_from_the_shipped_model(tmp_path, shipped):
    model, bundle, _, folding = shipped
    card = export(model, tmp_path)
    build_bundle(tmp_path / "model.onnx", card, tmp_path / "bundle", load_folding(folding))
    fresh, ship = load_bundle(tmp_path / "bundle"), load_bundle(bundle)
    assert fresh.graph.layers == ship.graph.layers
    assert fresh.graph.arrays.keys() == ship.graph.arrays.keys()
    for key, value in fresh.graph.arrays.items():
        assert np.array_equal(value, ship.graph.arrays[key]), key
    assert fresh.manifest["output"] == ship.manifest["output"]
    assert fresh.score_threshold == ship.score_threshold and 0 < ship.score_threshold < 1  # the model's, from val
    assert Path(tmp_path / "bundle" / "graph.npz").read_bytes() == Path(bundle / "graph.npz").read_bytes()
    # and its folding is the search's for this very network at the board's target, as make estimate finds it
    searched = search_folding(ModelWrapper(str(tmp_path / "hw_layers.onnx")), load_board())
    assert folding_config(searched) == load_folding(folding)


def test_detections_identical_on_the_samples(shipped):
    model_path, bundle, samples, _ = shipped
    model, classes, _ = load_model(model_path)
    detector = Detector(bundle, score_threshold=0.1)
    assert detector.classes == classes
    # the bundle calibrates its scores as the model file does; predict's threshold is on raw scores
    calibration = model.score_calibration
    assert (None if calibration is None else calibration.to_dict()) == bundle_calibration(bundle)
    images = [image for _, image in read_images(samples, progress=False)]
    total = 0
    for image, (tb, ts, tl) in zip(images, predict(model, images, score_threshold=detector.decode_threshold)):
        keep = ts >= np.float32(0.1)
        b, s, lab = detector(image)
        assert np.array_equal(b, tb[keep]) and np.array_equal(s, ts[keep]) and np.array_equal(lab, tl[keep])
        total += len(s)
    assert total > 0


def bundle_calibration(bundle):
    return load_bundle(bundle).manifest.get("score_calibration")
