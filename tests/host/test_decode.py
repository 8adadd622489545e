"""host.decode (vectorised vs loop reference, known boxes, coordinate mapping) and host.io atomic writes."""

import json
import os

import numpy as np
import pytest

from codenet.host import io as hio
from codenet.host.decode import as_dicts, decode, decode_reference, to_image_coords


def _maps(rng, c, h, w, logits):
    size = rng.uniform(0.5, 20, (2, h, w)).astype(np.float32)
    offset = rng.uniform(0, 1, (2, h, w)).astype(np.float32)
    return np.asarray(logits, np.float32).reshape(c, h, w), size, offset


def _assert_same(args, **kw):
    got = decode(*args, **kw)
    ref = decode_reference(*args, **kw)
    for g, r, dtype in zip(got, ref, (np.float32, np.float32, np.int64)):
        assert g.dtype == dtype and r.dtype == dtype
        np.testing.assert_array_equal(g, r)
    assert got[0].shape == (len(got[1]), 4) and len(got[2]) == len(got[1])
    assert np.all(np.diff(got[1]) <= 0)  # sorted by score, descending
    return got


@pytest.mark.parametrize("seed", range(6))
def test_matches_reference_continuous(seed):
    rng = np.random.default_rng(seed)
    c, h, w = 3, 13, 17
    args = _maps(rng, c, h, w, rng.normal(-1, 2, (c, h, w)))
    for top_k, thr in [(100, 0.3), (5, 0.3), (1000, 0.0), (7, 0.9)]:
        _assert_same(args, top_k=top_k, score_threshold=thr, output_stride=4)


@pytest.mark.parametrize("seed", range(6))
def test_matches_reference_ties_and_plateaus(seed):
    # Few distinct integer logits: many equal scores, plateaus of peaks and ties at the top-k boundary.
    rng = np.random.default_rng(100 + seed)
    c, h, w = 4, 9, 11
    args = _maps(rng, c, h, w, rng.integers(-2, 3, (c, h, w)))
    for top_k in (1, 3, 10, 37, 500):
        got = _assert_same(args, top_k=top_k, score_threshold=0.1, output_stride=8)
        assert len(got[1]) <= top_k


def test_all_equal_map_takes_first_flat_indices():
    rng = np.random.default_rng(1)
    c, h, w = 2, 5, 6
    args = _maps(rng, c, h, w, np.zeros((c, h, w)))
    boxes, scores, labels = _assert_same(args, top_k=8, score_threshold=0.5)
    assert len(scores) == 8 and np.all(scores == np.float32(0.5))
    assert labels.tolist() == [0] * 8  # flat indices 0..7: class 0, first row then second row
    centres_x = (boxes[:, 0] + boxes[:, 2]) / 2 / 4 - args[2][0].ravel()[:8]
    np.testing.assert_allclose(centres_x, [0, 1, 2, 3, 4, 5, 0, 1], atol=1e-4)


def test_saturated_logits_tie_in_float32():
    # Distinct large logits all become sigmoid 1.0 in float32: a plateau, and flat-index tie-breaking.
    rng = np.random.default_rng(2)
    logits = np.full((2, 6, 6), -5.0)
    logits[1, 2, 2], logits[0, 4, 4], logits[1, 0, 5] = 40.0, 30.0, 20.0
    args = _maps(rng, 2, 6, 6, logits)
    _, scores, labels = _assert_same(args, top_k=2)
    assert scores.tolist() == [1.0, 1.0] and labels.tolist() == [0, 1]


def test_empty_results():
    rng = np.random.default_rng(3)
    args = _maps(rng, 3, 8, 8, np.full((3, 8, 8), -8.0))
    for kw in ({}, {"score_threshold": 0.99}, {"top_k": 0}):
        boxes, scores, labels = _assert_same(args, **kw)
        assert boxes.shape == (0, 4) and scores.shape == (0,) and labels.shape == (0,)
    boxes, scores, labels = decode(*_maps(rng, 0, 8, 8, np.zeros((0, 8, 8))))
    assert boxes.shape == (0, 4)


def test_known_peaks_give_exact_boxes():
    c, h, w = 3, 16, 16
    heat = np.full((c, h, w), -10.0, np.float32)
    size = np.zeros((2, h, w), np.float32)
    offset = np.zeros((2, h, w), np.float32)
    heat[1, 5, 7] = 2.0
    size[:, 5, 7] = (4.0, 6.0)
    offset[:, 5, 7] = (0.5, 0.25)
    heat[0, 10, 3] = 1.0
    heat[0, 10, 4] = 0.5  # a lower neighbour: not a peak
    size[:, 10, 3] = (2.0, 2.0)
    boxes, scores, labels = decode(heat, size, offset, output_stride=4)
    np.testing.assert_array_equal(boxes, np.array([[22, 9, 38, 33], [8, 36, 16, 44]], np.float32))
    np.testing.assert_allclose(scores, [1 / (1 + np.exp(-2.0)), 1 / (1 + np.exp(-1.0))], rtol=1e-6)
    assert labels.tolist() == [1, 0]
    _assert_same((heat, size, offset))


def test_bad_shapes_raise():
    with pytest.raises(ValueError):
        decode(np.zeros((2, 4, 4)), np.zeros((2, 4, 5)), np.zeros((2, 4, 4)))
    with pytest.raises(ValueError):
        decode(np.zeros((4, 4)), np.zeros((2, 4, 4)), np.zeros((2, 4, 4)))


def test_to_image_coords_round_trip_and_clip():
    rng = np.random.default_rng(4)
    width, height, scale, pad_x, pad_y = 640, 360, 0.4, 0.0, 56.0  # 640x360 letterboxed into 256x256
    x1 = rng.uniform(0, 500, 20)
    y1 = rng.uniform(0, 250, 20)
    x2, y2 = x1 + rng.uniform(1, 140, 20), y1 + rng.uniform(1, 110, 20)
    orig = np.stack([x1, y1, x2, y2], 1).astype(np.float32)
    net = orig.copy()
    net[:, 0::2] = orig[:, 0::2] * scale + pad_x
    net[:, 1::2] = orig[:, 1::2] * scale + pad_y
    back = to_image_coords(net, scale, pad_x, pad_y, width, height)
    assert back.dtype == np.float32 and back.shape == orig.shape
    np.testing.assert_allclose(back, orig, atol=1e-3)
    # Boxes reaching into the padding are clipped to the image.
    out = to_image_coords([[-10, 0, 300, 300]], scale, pad_x, pad_y, width, height)
    np.testing.assert_allclose(out, [[0, 0, 640, 360]])
    assert to_image_coords(np.zeros((0, 4)), 1, 0, 0, 10, 10).shape == (0, 4)


def test_as_dicts():
    d = as_dicts(np.array([[1.234, 2.345, 3.456, 4.567]], np.float32), np.array([0.87654], np.float32),
                 np.array([1]), ["cat", "dog"])
    assert d == [{"box": [1.23, 2.35, 3.46, 4.57], "score": 0.8765, "label": 1, "name": "dog"}]
    assert isinstance(d[0]["box"][0], float) and type(d[0]["label"]) is int
    json.dumps(d)
    assert as_dicts(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int), ["a"]) == []


# host.io: atomic writes


def test_write_json_atomic_replaces_and_leaves_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "out" / "metrics.json"
    hio.write_json_atomic({"a": 1}, target)  # creates the folder
    first_inode = os.stat(target).st_ino

    calls = []
    real_replace = os.replace

    def spy(src, dst):
        calls.append((src, dst))
        assert json.loads(target.read_text()) == {"a": 1}  # the old content is intact until the swap
        real_replace(src, dst)

    monkeypatch.setattr(hio.os, "replace", spy)
    hio.write_json_atomic({"b": np.float32(0.5), "c": np.arange(3)}, target)
    assert json.loads(target.read_text()) == {"b": 0.5, "c": [0, 1, 2]}
    (src, dst), = calls
    assert os.path.dirname(src) == str(target.parent) and dst == str(target)
    assert os.stat(target).st_ino != first_inode  # a new file was renamed over it, not rewritten in place
    assert os.listdir(target.parent) == ["metrics.json"]


def test_write_atomic_failure_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "x.json"
    hio.write_json_atomic([1, 2], target)
    with pytest.raises(ValueError):
        hio.write_json_atomic({"bad": float("nan")}, target)  # strict JSON: no NaN
    with pytest.raises(TypeError):
        hio.write_json_atomic({"bad": object()}, target)

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(hio.os, "replace", boom)
    with pytest.raises(OSError):
        hio.write_bytes_atomic(b"new", target)
    assert json.loads(target.read_text()) == [1, 2]
    assert os.listdir(tmp_path) == ["x.json"]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("thr", [0.001, 0.05, 0.3, 0.5, 0.9, 0.999])
def test_sparse_peaks_equal_the_dense_map(seed, thr):
    """The board's fast path (sigmoids only near cells that can reach the threshold) against the whole
    map, on backgrounds a trained head gives: far below the threshold, with peaks, plateaus, logits just
    either side of logit(threshold), and denormal-range scores."""
    from codenet.host.decode import _dense_peaks, _sparse_peaks

    rng = np.random.default_rng(seed)
    c, h, w = 5, 32, 40
    heat = rng.normal(-12, 3, (c, h, w)).astype(np.float32)
    edge = np.float32(np.log(thr / (1 - thr)))
    picks = rng.integers(0, heat.size, 60)
    heat.reshape(-1)[picks[:20]] = edge + rng.uniform(-0.02, 0.02, 20).astype(np.float32)
    heat.reshape(-1)[picks[20:40]] = rng.uniform(-1, 8, 20).astype(np.float32)
    heat[:, :2, :2] = np.float32(5.0)  # a plateau in the corner
    heat.reshape(-1)[picks[40:]] = np.float32(-95.0)  # denormal sigmoids
    sparse = _sparse_peaks(heat, thr)
    assert sparse[0] is not None  # the fast path ran
    dense = _dense_peaks(heat, thr)
    assert np.array_equal(sparse[0], dense[0]) and np.array_equal(sparse[1].view(np.uint32), dense[1].view(np.uint32))
    _assert_same(_maps(rng, c, h, w, heat), top_k=25, score_threshold=thr)


def test_sparse_peaks_step_aside_when_many_cells_qualify():
    from codenet.host.decode import _sparse_peaks

    assert _sparse_peaks(np.zeros((2, 8, 8), np.float32), 0.3) == (None, None)  # every cell a candidate
    assert _sparse_peaks(np.zeros((2, 8, 8), np.float32) - 9, 0.0) == (None, None)  # threshold 0: dense
