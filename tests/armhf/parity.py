"""The shipped bundle on armhf gives exactly what it gives on the build machine: canvas, accumulators, boxes.

`make test-armhf` (tests/armhf/run.sh) first runs this file as a script in .venv, which writes the build
machine's results for the samples to build/armhf/reference.npz, then collects it under armhf Python
with the host tests. The canvas and the int32 accumulators are integer work (32-bit intp, numpy 1.24
against 2.x) and must be equal, as must the boxes, labels, their order and the scores: the sigmoid runs
in float64 and is rounded to float32 once (host/decode.py), because float32 exp is numpy's own SIMD
code on x86 (up to 2.3 ulp off; numpy 2.4, AVX-512) and glibc's expf on armhf (0.5 ulp).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from codenet.host.decode import decode
from codenet.host.detector import Detector
from codenet.host.preprocess import letterbox_image, read_image

SAMPLES = Path(__file__).resolve().parents[2] / "host" / "samples"
NAMES = ["scene0.jpg", "wide.jpg"]  # a 4:3 scene and a wide one (padding on the other axis)
REFERENCE = Path(__file__).resolve().parents[2] / "build" / "armhf" / "reference.npz"
THRESHOLD = 0.05  # low enough that the weak shipped model gives boxes to compare
EXACT = ("canvas", "acc", "boxes", "labels", "scores")


def results(name: str) -> dict:
    detector = Detector()
    canvas, _ = letterbox_image(read_image(SAMPLES / name), detector.bundle.input_size)
    acc = detector.run_graph(canvas[None])[0]
    boxes, scores, labels = decode(*detector.head(acc), top_k=detector.top_k, score_threshold=THRESHOLD,
                                   output_stride=detector.stride)
    return {"canvas": canvas, "acc": acc, "boxes": boxes, "scores": scores, "labels": labels}


def test_same_results_as_the_build_machine():
    import pytest

    if not REFERENCE.exists():
        pytest.skip(f"no {REFERENCE}: tests/armhf/run.sh writes it with .venv")
    ref = np.load(REFERENCE)
    for name in NAMES:
        got = results(name)
        assert len(got["scores"]) > 0, f"{name}: nothing detected at {THRESHOLD}, nothing compared"
        for key, value in got.items():
            expected = ref[f"{name}/{key}"]
            assert value.dtype == expected.dtype and value.shape == expected.shape, (name, key)
        for key in EXACT:
            mismatch = np.flatnonzero(got[key].ravel() != ref[f"{name}/{key}"].ravel())
            assert mismatch.size == 0, f"{name} {key}: {mismatch.size} elements differ, first at {mismatch[:5]}"


if __name__ == "__main__":
    from codenet.host.io import write_bytes_atomic
    import io

    buf = io.BytesIO()
    np.savez(buf, **{f"{name}/{key}": v for name in NAMES for key, v in results(name).items()})
    write_bytes_atomic(buf.getvalue(), sys.argv[1] if len(sys.argv) > 1 else REFERENCE)
