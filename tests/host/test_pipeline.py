"""The pipelined frame loop gives the plain loop's results, in order, and passes on a stage's failure
after finishing the frames it already had."""

import numpy as np
import pytest

from codenet.host.detector import Detector
from codenet.host.errors import CodenetError
from codenet.host.pipeline import pipelined, plain


def frames(n, size=(48, 80)):
    rng = np.random.default_rng(5)
    return [(f"f{i}", rng.integers(0, 256, (*size, 3), dtype=np.uint8)) for i in range(n)]


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_pipelined_equals_plain(tiny_bundle, n):
    det = Detector(tiny_bundle, score_threshold=0.05)
    want = list(plain(det, frames(n)))
    got = list(pipelined(Detector(tiny_bundle, score_threshold=0.05), frames(n)))
    assert [k for k, _, _ in got] == [k for k, _, _ in want]
    for (_, fg, g), (_, fw, w) in zip(got, want):
        assert fg is not None and np.array_equal(fg, fw)
        assert all(a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(g, w))


def test_failing_source_finishes_what_it_gave(tiny_bundle):
    def source():
        yield from frames(3)
        raise KeyboardInterrupt  # a camera's Ctrl-C

    got = []
    with pytest.raises(KeyboardInterrupt):
        for key, _, _ in pipelined(Detector(tiny_bundle), source()):
            got.append(key)
    assert got == ["f0", "f1", "f2"]


def test_decoder_failure_reaches_the_caller(tiny_bundle, monkeypatch):
    det = Detector(tiny_bundle)

    def broken(acc, geometry):
        raise CodenetError("decode failed")

    monkeypatch.setattr(det, "finish", broken)
    with pytest.raises(CodenetError, match="decode failed"):
        list(pipelined(det, frames(3)))


def test_a_stuck_source_does_not_hold_up_ctrl_c(tiny_bundle):
    import gc
    import os
    import signal
    import threading
    import time

    stuck, release = threading.Event(), threading.Event()

    def source():
        yield from frames(1)
        stuck.set()
        release.wait(30)  # a camera that stops delivering
        yield from frames(1)

    def press_ctrl_c():  # the user presses Ctrl-C while the loop waits on the camera
        if stuck.wait(30):
            time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGINT)

    # No garbage collection while the signal is due: CPython drops a KeyboardInterrupt that lands in
    # a finalizer ("Exception ignored in __del__"), which would look like a swallowed Ctrl-C.
    gc.collect()
    gc.disable()
    try:
        threading.Thread(target=press_ctrl_c, daemon=True).start()
        t0 = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            list(pipelined(Detector(tiny_bundle), source()))
        assert time.monotonic() - t0 < 10
    finally:
        gc.enable()
        release.set()
