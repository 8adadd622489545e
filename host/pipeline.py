"""The frame loop on both Cortex-A9 cores: while the PL runs frame n, one thread captures and
letterboxes frame n+1 and another decodes frame n-1; the main thread packs n+1 into the second DMA
buffer, waits for n, starts n+1 at once and hands n to the decoder (double-buffered: the PL reads one
slot's buffers while the ARM fills the other's). numpy's resizing, packing and decoding release the
GIL, so the three overlap on two cores. `plain` is the same work one stage after the other.
"""

from __future__ import annotations

import queue
import threading
import time

_END = object()


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def _take(q: queue.Queue):
    item = q.get()
    if isinstance(item, _Failed):
        raise item.error
    return item


def plain(detector, frames):
    """(key, frame, (boxes, scores, labels)) for each (key, frame), one stage after the other."""
    for key, frame in frames:
        yield key, frame, detector(frame)


def pipelined(detector, frames):
    """The same results as `plain`, in order, with capture + letterbox and decoding overlapping the
    accelerator. A stage's exception (Ctrl-C from a camera too) reaches the caller at its frame."""
    stop = threading.Event()
    prepared, to_decode, decoded = queue.Queue(maxsize=2), queue.Queue(), queue.Queue()

    def prepare():
        try:
            for key, frame in frames:
                if stop.is_set():
                    return
                prepared.put((key, frame, *detector.prepare(frame)))
            prepared.put(_END)
        except BaseException as e:  # noqa: B902 - handed to the main thread, which re-raises it
            prepared.put(_Failed(e))

    def decode():
        while (item := to_decode.get()) is not _END:
            key, frame, acc, geometry = item
            try:
                decoded.put((key, frame, detector.finish(acc, geometry)))
            except BaseException as e:  # noqa: B902
                decoded.put(_Failed(e))

    workers = [threading.Thread(target=prepare, daemon=True), threading.Thread(target=decode, daemon=True)]
    for w in workers:
        w.start()
    try:
        current, slot, waiting, failure = _take(prepared), 0, 0, None
        if current is not _END:
            detector.load(current[2][None], slot)
            detector.start(slot)
        while current is not _END:
            try:
                following = _take(prepared)  # frame n+1, letterboxed while the PL ran n
            except BaseException as e:  # noqa: B902 - the source failed or ended by Ctrl-C: finish what it
                following, failure = _END, e  # gave first, then raise
            if following is not _END:
                detector.load(following[2][None], 1 - slot)  # the other slot: the PL still reads this one
            detector.wait()  # frame n done: start n+1 at once, then unpack n
            if following is not _END:
                detector.start(1 - slot)
            acc = detector.collect(slot)[0]
            to_decode.put((current[0], current[1], acc, current[3]))
            waiting += 1
            if waiting > 1:  # frame n-1 was decoded while the PL ran n
                yield _take(decoded)
                waiting -= 1
            current, slot = following, 1 - slot
        while waiting:
            yield _take(decoded)
            waiting -= 1
        if failure is not None:
            raise failure
    finally:
        stop.set()
        to_decode.put(_END)
        deadline = time.monotonic() + 1.0  # a camera that never delivers must not hold up Ctrl-C
        while workers[0].is_alive() and time.monotonic() < deadline:  # unblock a producer on a full queue
            try:
                prepared.get(timeout=0.05)
            except queue.Empty:
                pass
