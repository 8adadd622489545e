"""Bad bundles and bad images: one clear line and exit 2, never a traceback."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from codenet.host.bundle import DEFAULT_BUNDLE, load_bundle
from codenet.host.cli import main
from tests.host.cli_run import detect, one_line


@pytest.fixture
def bundle(tmp_path):
    dst = tmp_path / "bundle"
    shutil.copytree(DEFAULT_BUNDLE, dst)
    return dst


def sample(tmp_path):
    path = tmp_path / "img.png"
    Image.fromarray(np.full((40, 60, 3), 90, np.uint8)).save(path)
    return path


def test_shipped_bundle_loads():
    b = load_bundle()
    assert b.input_size == 256 and len(b.classes) == 14 and b.graph.layers


def test_other_format_version(capsys, tmp_path, bundle):
    m = json.loads((bundle / "manifest.json").read_text())
    m["format"] = "codenet-bundle/0"
    (bundle / "manifest.json").write_text(json.dumps(m))
    one_line(*detect(capsys, tmp_path, bundle, sample(tmp_path))[:2], "codenet-bundle/0", "codenet-bundle/1")


def test_graph_hash_mismatch(capsys, tmp_path, bundle):
    data = bytearray((bundle / "graph.npz").read_bytes())
    data[-100] ^= 0xFF
    (bundle / "graph.npz").write_bytes(bytes(data))
    one_line(*detect(capsys, tmp_path, bundle, sample(tmp_path))[:2], "graph.npz", "hash")


@pytest.mark.parametrize("name", ["graph.npz", "manifest.json"])
def test_missing_file(capsys, tmp_path, bundle, name):
    (bundle / name).unlink()
    one_line(*detect(capsys, tmp_path, bundle, sample(tmp_path))[:2], name if name == "graph.npz" else "manifest")


def test_corrupt_manifest(capsys, tmp_path, bundle):
    (bundle / "manifest.json").write_text("{not json")
    one_line(*detect(capsys, tmp_path, bundle, sample(tmp_path))[:2], "manifest.json")


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n truncated"])
def test_unreadable_image(capsys, tmp_path, bundle, content):
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    one_line(*detect(capsys, tmp_path, bundle, bad)[:2], "bad.png")


def test_missing_image(capsys, tmp_path, bundle):
    one_line(*detect(capsys, tmp_path, bundle, tmp_path / "nope.jpg")[:2], "nope.jpg")


def test_unknown_backend(capsys, tmp_path, bundle):
    code = main(["detect", str(sample(tmp_path)), "--bundle", str(bundle), "--backend", "gpu"])
    one_line(code, capsys.readouterr().err.strip(), "gpu")


@pytest.mark.parametrize("mode", ["L", "RGBA", "I;16", "P"])
def test_odd_images_detect(capsys, tmp_path, bundle, mode):
    path = tmp_path / f"odd_{mode.replace(';', '')}.png"
    arr = np.random.default_rng(0).integers(0, 255, (33, 70)).astype(np.uint16 if mode == "I;16" else np.uint8)
    im = Image.fromarray(arr)  # uint8 -> L, uint16 -> I;16
    assert im.mode == ("I;16" if mode == "I;16" else "L")
    (im if mode in ("L", "I;16") else im.convert(mode)).save(path)
    code, err, out = detect(capsys, tmp_path, bundle, path)
    assert code == 0, err
    assert (tmp_path / "out" / f"{path.stem}.jpg").is_file()
    assert json.loads((tmp_path / "out" / "detections.json").read_text()).keys() == {str(path)}


@pytest.mark.parametrize("value", [0, 1.5, "0.3", True, None])
def test_bad_score_threshold(capsys, tmp_path, bundle, value):
    m = json.loads((bundle / "manifest.json").read_text())
    m["score_threshold"] = value
    (bundle / "manifest.json").write_text(json.dumps(m))
    one_line(*detect(capsys, tmp_path, bundle, sample(tmp_path))[:2], "score_threshold")


def test_the_bundles_threshold_is_the_default(tmp_path, bundle):
    from codenet.host.detector import DEFAULT_SCORE, Detector

    m = json.loads((bundle / "manifest.json").read_text())
    m["score_threshold"] = 0.21
    (bundle / "manifest.json").write_text(json.dumps(m))
    assert Detector(bundle).score_threshold == 0.21 and Detector(bundle, score_threshold=0.6).score_threshold == 0.6
    del m["score_threshold"]
    (bundle / "manifest.json").write_text(json.dumps(m))
    assert Detector(bundle).score_threshold == DEFAULT_SCORE


@pytest.mark.parametrize("value", [{"a": 0, "b": 0.1}, {"a": -1.0, "b": 0}, {"a": 1.0}, {"a": "2", "b": 0}, [2, 0],
                                   {"a": float("inf"), "b": 0}])
def test_bad_score_calibration(capsys, tmp_path, bundle, value):
    m = json.loads((bundle / "manifest.json").read_text())
    m["score_calibration"] = value
    (bundle / "manifest.json").write_text(json.dumps(m))
    one_line(*detect(capsys, tmp_path, bundle, sample(tmp_path))[:2], "calibration")


def test_a_calibrated_bundle_keeps_the_raw_detections_and_maps_their_scores(bundle):
    from codenet.host.calibration import ScoreCalibration
    from codenet.host.detector import Detector
    from codenet.host.images import read_images

    image = next(iter(read_images([DEFAULT_BUNDLE.parents[1] / "samples" / "scene0.jpg"], progress=False)))[1]
    m = json.loads((bundle / "manifest.json").read_text())
    m.pop("score_calibration", None)
    (bundle / "manifest.json").write_text(json.dumps(m))
    raw_boxes, raw_scores, raw_labels = Detector(bundle, score_threshold=0.05)(image)
    calibration = ScoreCalibration(2.5, 0.7)
    m["score_calibration"] = calibration.to_dict()
    (bundle / "manifest.json").write_text(json.dumps(m))
    for threshold in (0.05, 0.3, 0.6):
        boxes, scores, labels = Detector(bundle, score_threshold=threshold)(image)
        mapped = calibration(raw_scores)
        keep = mapped >= np.float32(threshold)
        assert np.array_equal(boxes, raw_boxes[keep]) and np.array_equal(labels, raw_labels[keep])
        assert np.array_equal(scores, mapped[keep])
    # the map keeps their order (best first) and moves the scores; the threshold cuts some
    assert (np.diff(mapped) <= 0).all() and not np.array_equal(mapped, raw_scores) and 0 < keep.sum() < len(mapped)
