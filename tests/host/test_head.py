"""The head's accumulators decoded where they matter equal the decode of the whole dequantized head."""

import numpy as np
import pytest

from codenet.host.decode import decode
from codenet.host.head import _candidates, decode_head, dequantize


def head(seed, nc=6, h=24, w=20, scale=1e-3, bias=-12.0):
    """Accumulators of a trained-looking head: background logits far below the threshold, a few objects,
    a plateau, ties, and values on either side of every threshold's integer bound."""
    rng = np.random.default_rng(seed)
    s = (scale * rng.uniform(0.5, 2, nc + 4)).astype(np.float32)
    b = np.concatenate([np.full(nc, bias), rng.uniform(-1, 3, 4)]).astype(np.float32)
    acc = rng.integers(-2000, 2000, (h, w, nc + 4)).astype(np.int32)
    for _ in range(8):
        y, x, c = rng.integers(h), rng.integers(w), rng.integers(nc)
        acc[max(0, y - 1):y + 2, max(0, x - 1):x + 2, c] = int(rng.uniform(10, 20) / s[c])
    acc[:2, :2, 0] = int(14 / s[0])  # a plateau at the border
    acc[-1, -1, nc - 1] = np.iinfo(np.int32).max  # saturated
    return acc, s, b


def same(got, want):
    assert all(g.dtype == w.dtype and np.array_equal(g, w) for g, w in zip(got, want)), (got, want)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("thr", [0.001, 0.1, 0.3, 0.5, 0.9, 0.999])
@pytest.mark.parametrize("top_k", [3, 100])
def test_equals_the_dense_decode(seed, thr, top_k):
    acc, s, b = head(seed)
    assert _candidates(acc, s, b, 6, thr) is not None  # the fast path ran
    want = decode(*dequantize(acc, s, b, 6), top_k=top_k, score_threshold=thr, output_stride=4)
    same(decode_head(acc, s, b, 6, top_k=top_k, score_threshold=thr, output_stride=4), want)


@pytest.mark.parametrize("thr", [0.05, 0.3, 0.7])
def test_logits_on_the_threshold_are_found(thr):
    """Accumulators on both sides of the exact threshold crossing: none lost to the integer bound."""
    acc, s, b = head(7)
    logit = np.log(thr / (1 - thr))
    edge = int(round((logit - float(b[2])) / float(s[2])))
    for i in range(12):  # isolated cells, each its own peak, at edge - 6 ... edge + 5
        acc[3 + (i // 4) * 6, 2 + (i % 4) * 5, 2] = edge + i - 6
    same(decode_head(acc, s, b, 6, score_threshold=thr), decode(*dequantize(acc, s, b, 6), score_threshold=thr))


def test_dense_where_the_fast_path_does_not_fit():
    acc, s, b = head(3, bias=5.0)  # every cell scores above the threshold
    assert _candidates(acc, s, b, 6, 0.3) is None
    same(decode_head(acc, s, b, 6), decode(*dequantize(acc, s, b, 6)))
    s[1] = -s[1]  # a negative class scale: the integer bound does not apply
    assert _candidates(acc, s, b, 6, 0.3) is None
    same(decode_head(acc, s, b, 6, score_threshold=0.0), decode(*dequantize(acc, s, b, 6), score_threshold=0.0))


def test_background_only():
    acc, s, b = head(11)
    acc[..., :6] = np.random.default_rng(0).integers(-2000, 2000, acc[..., :6].shape)  # no object left
    assert _candidates(acc, s, b, 6, 0.3).size == 0
    same(decode_head(acc, s, b, 6), decode(*dequantize(acc, s, b, 6)))
