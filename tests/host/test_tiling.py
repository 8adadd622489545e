"""Tiled detection (`codenet detect --tile`): windows, their cores, NMS, and a large image made of the
shipped samples."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from codenet.host.bundle import DEFAULT_BUNDLE
from codenet.host.tiling import cores, detect_tiled, nms, starts, windows
from tests.host.cli_run import detect

SAMPLES = Path(__file__).resolve().parents[2] / "host" / "samples"


@pytest.mark.parametrize("length, size, overlap, expected", [
    (256, 256, 64, [0]), (100, 256, 64, [0]), (512, 256, 0, [0, 256]), (600, 256, 64, [0, 192, 344]),
    (257, 256, 64, [0, 1])])
def test_window_starts(length, size, overlap, expected):
    got = starts(length, size, overlap)
    assert got == expected and got[-1] + size >= length


@pytest.mark.parametrize("length, overlap", [(600, 64), (1000, 0), (300, 200), (90, 10)])
def test_cores_partition_the_axis(length, overlap):
    offsets = starts(length, 256, overlap)
    spans = cores(offsets, 256, length)
    assert spans[0][0] == 0 and spans[-1][1] >= length
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # no gap, no double cover
    assert all(o <= lo < hi <= o + 256 for o, (lo, hi) in zip(offsets, spans))  # inside its own window


def test_windows_pad_a_small_image():
    image = np.full((100, 300, 3), 7, np.uint8)
    got = list(windows(image, 256, 32))
    assert [(x, y) for x, y, _, _ in got] == [(0, 0), (44, 0)]
    tile = got[0][3]
    assert tile.shape == (256, 256, 3) and (tile[:100] == 7).all() and (tile[100:] == 114).all()


def test_nms_is_class_wise():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.5, 0.9, 0.7, 0.2], np.float32)
    labels = np.array([0, 0, 1, 0])
    assert nms(boxes, scores, labels, 0.4).tolist() == [1, 2, 3]
    assert nms(boxes, scores, labels, 0.9).tolist() == [1, 2, 0, 3]


def shipped():
    assert (DEFAULT_BUNDLE / "manifest.json").exists(), "the shipped bundle is missing"
    from codenet.host.detector import Detector

    return Detector(score_threshold=0.1)


def mosaic():
    """The four 256x256 sample scenes side by side, 2 x 2: a 512x512 'aerial' image."""
    scenes = [np.asarray(Image.open(SAMPLES / f"scene{i}.jpg").convert("RGB")) for i in range(4)]
    return np.concatenate([np.concatenate(scenes[:2], 1), np.concatenate(scenes[2:], 1)], 0), scenes


def test_aligned_tiles_equal_each_scene_on_its_own():
    """Windows exactly on the four scenes: the merged result is each scene's detections, shifted, then
    the same NMS: bit for bit."""
    det = shipped()
    image, scenes = mosaic()
    got = detect_tiled(det, image, overlap=0, iou=0.4)
    parts = [det(s) for s in scenes]
    shift = [(0, 0), (256, 0), (0, 256), (256, 256)]
    boxes = np.concatenate([p[0] + np.array([x, y, x, y], np.float32) for p, (x, y) in zip(parts, shift)])
    scores = np.concatenate([p[1] for p in parts])
    labels = np.concatenate([p[2] for p in parts])
    keep = nms(boxes, scores, labels, 0.4)
    assert len(keep) > 0
    for g, w in zip(got, (boxes[keep], scores[keep], labels[keep])):
        assert g.dtype == w.dtype and np.array_equal(g, w)


def test_overlapping_tiles_find_the_scenes_objects_once():
    """Windows that straddle the scenes: the strong detections of the aligned run are found again
    (a box cut by a window edge is not the one kept), and no class has two boxes over the NMS IoU."""
    det = shipped()
    image, _ = mosaic()
    aligned = detect_tiled(det, image, overlap=0)
    shifted = detect_tiled(det, image, overlap=128)  # 3 x 3 windows at 0, 128, 256
    assert len(shifted[0]) > 0 and (shifted[0] >= 0).all() and (shifted[0] <= 512).all()
    assert len(nms(*shifted, 0.4)) == len(shifted[0])
    strong = aligned[1] >= 0.2
    def iou(a, b):
        w = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
        h = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
        inter = w * h
        return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter)
    found = [iou(b, shifted[0]).max() > 0.5 for b in aligned[0][strong]]
    assert strong.any() and np.mean(found) >= 0.8, found


def test_cli_tile(capsys, tmp_path):
    assert (DEFAULT_BUNDLE / "manifest.json").exists(), "the shipped bundle is missing"
    image, _ = mosaic()
    Image.fromarray(image).save(tmp_path / "big.png")
    code, err, out = detect(capsys, tmp_path, DEFAULT_BUNDLE, tmp_path / "big.png", "--tile", "--overlap", "0",
                            "--score", "0.1")
    assert code == 0, err
    dets = json.loads((tmp_path / "out" / "detections.json").read_text())[str(tmp_path / "big.png")]
    want = detect_tiled(shipped(), image, overlap=0)
    assert [d["box"] for d in dets] == [[round(float(v), 2) for v in b] for b in want[0]]
    assert "1 frame ->" in out
