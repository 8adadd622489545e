"""Detector: bundle + backend -> detections. Letterbox, run the integer graph, dequantize, decode."""

from __future__ import annotations

import time

import numpy as np

from codenet.host.bundle import load_bundle
from codenet.host.calibration import ScoreCalibration
from codenet.host.decode import to_image_coords
from codenet.host.errors import CodenetError
from codenet.host.head import decode_head, dequantize
from codenet.host.preprocess import letterbox_image

BACKENDS = ("sim", "pynq", "csim")
DEFAULT_SCORE = 0.3  # for a bundle that names no threshold of its own


class Detector:
    """`Detector(bundle_dir, backend="sim")(image)` -> (boxes, scores, labels) in image pixels. The score
    threshold defaults to the bundle's own (its model's best F1 on its val split), else DEFAULT_SCORE.
    Scores are the bundle's calibrated ones where it carries a calibration (host/calibration.py)."""

    def __init__(self, bundle=None, backend: str = "sim", score_threshold: float | None = None, top_k: int = 100,
                 timeout_s: float = 5.0):
        if score_threshold is not None and not (isinstance(score_threshold, (int, float))
                                                and 0 <= score_threshold <= 1):  # NaN fails too
            raise CodenetError(f"score threshold must be a number in [0, 1], got {score_threshold!r}")
        if backend not in BACKENDS:
            raise CodenetError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
        self.bundle = load_bundle(bundle)
        self.accelerator = None
        if backend == "pynq":
            from codenet.host.pynq_backend import PynqAccelerator  # checks the bitstream against the manifest

            self.accelerator = PynqAccelerator(self.bundle, timeout_s=timeout_s)
        if backend == "csim":
            from codenet.hls import csim  # dev only: g++ and the ap_types headers of the hls4ml wheel

            missing = csim.unavailable()
            if missing:
                raise CodenetError(f"the csim backend cannot run here: {missing} (it is for development: "
                                   f"pip install 'codenet-fpga[dev]')")
        self.backend = backend
        if score_threshold is None:
            own = self.bundle.score_threshold
            score_threshold = DEFAULT_SCORE if own is None else own
        self.score_threshold, self.top_k = score_threshold, top_k
        self.calibration = ScoreCalibration.from_dict(self.bundle.manifest.get("score_calibration"))
        # the threshold on raw heatmap scores that the decode runs at
        self.decode_threshold = (score_threshold if self.calibration is None
                                 else self.calibration.raw_threshold(score_threshold))
        out = self.bundle.manifest["output"]
        # float32, as the model computed them: the dequantized head is bit-identical to PyTorch's
        self.scale = np.asarray(out["scale"], np.float64).astype(np.float32)
        self.bias = np.asarray(out["bias"], np.float64).astype(np.float32)
        self.num_classes = len(self.bundle.classes)
        self.stride = int(self.bundle.manifest["output_stride"])
        self.timing = {"pre": 0.0, "accel": 0.0, "post": 0.0, "frames": 0}
        self._loaded = {}

    @property
    def classes(self) -> list:
        return self.bundle.classes

    def run_graph(self, batch: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) uint8 -> (N, S/4, S/4, C+4) int32 accumulators."""
        if self.accelerator is not None:
            return self.accelerator(batch)
        if self.backend == "csim":
            from codenet.hls.csim import run_graph

            return run_graph(self.bundle.graph, batch)
        from codenet.host.sim import simulate

        return simulate(self.bundle.graph, batch)

    def close(self):
        """Free the accelerator's DMA buffers (pynq backend); the other backends hold nothing."""
        if self.accelerator is not None:
            self.accelerator.close()

    def head(self, acc: np.ndarray):
        """One image's accumulator (H, W, C+4) -> heatmap logits, size, offset, channel-first float32."""
        return dequantize(acc, self.scale, self.bias, self.num_classes)

    def prepare(self, image: np.ndarray):
        """The ARM's work before the accelerator: (canvas S x S x 3 uint8, geometry for `finish`)."""
        t0 = time.perf_counter()
        canvas, (scale, pad_x, pad_y) = letterbox_image(image, self.bundle.input_size)
        self.timing["pre"] += time.perf_counter() - t0
        return canvas, (scale, pad_x, pad_y, image.shape[1], image.shape[0])

    def finish(self, acc: np.ndarray, geometry):
        """The ARM's work after it: one image's accumulators -> (boxes, scores, labels) in image pixels."""
        t0 = time.perf_counter()
        boxes, scores, labels = decode_head(acc, self.scale, self.bias, self.num_classes, top_k=self.top_k,
                                            score_threshold=self.decode_threshold, output_stride=self.stride)
        if self.calibration is not None:
            boxes, scores, labels = self.calibration.filter(boxes, scores, labels, self.score_threshold)
        boxes = to_image_coords(boxes, *geometry)
        self.timing["post"] += time.perf_counter() - t0
        self.timing["frames"] += 1
        return boxes, scores, labels

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """`run_graph`, timed as the accelerator's (or simulator's) share."""
        t0 = time.perf_counter()
        acc = self.run_graph(batch)
        self.timing["accel"] += time.perf_counter() - t0
        return acc

    # the pipelined loop's three steps (host/pipeline.py): the pynq backend double-buffers by slot; the
    # simulators compute at collect
    def load(self, batch: np.ndarray, slot: int = 0):
        if self.accelerator is not None:
            self.accelerator.load(batch, slot)
        else:
            self._loaded[slot] = batch

    def start(self, slot: int = 0):
        if self.accelerator is not None:
            self.accelerator.start(slot)

    def wait(self):
        """Until the accelerator's run in progress is done (the simulators have none)."""
        if self.accelerator is not None:
            t0 = time.perf_counter()
            self.accelerator.wait()
            self.timing["accel"] += time.perf_counter() - t0

    def collect(self, slot: int = 0) -> np.ndarray:
        t0 = time.perf_counter()
        acc = self.accelerator.collect(slot) if self.accelerator is not None else self.run_graph(self._loaded.pop(slot))
        self.timing["accel"] += time.perf_counter() - t0
        return acc

    def __call__(self, image: np.ndarray):
        canvas, geometry = self.prepare(image)
        return self.finish(self.infer(canvas[None])[0], geometry)
