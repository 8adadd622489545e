"""The manifest checked against its graph before anything runs: a hand-edited or mismatched manifest
(3 classes for an 18-channel head, another input size, a missing section) is a one-line error, not a
detector that silently decodes the wrong channels."""

from __future__ import annotations

import numpy as np

from codenet.host.calibration import ScoreCalibration
from codenet.host.errors import CodenetError


def check_manifest(where, manifest: dict, graph) -> None:
    """Raise CodenetError naming `where` (the manifest's path) at the first inconsistency."""

    def fail(message):
        raise CodenetError(f"{where}: {message}")

    for key in ("classes", "input", "output", "output_stride"):
        if key not in manifest:
            fail(f"no '{key}' entry (a damaged or hand-made manifest): re-export the bundle")
    classes, inp, out = manifest["classes"], manifest["input"], manifest["output"]
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) and c for c in classes):
        fail("'classes' must be a non-empty list of names")
    if not isinstance(inp, dict) or not isinstance(out, dict):
        fail("'input' and 'output' must be objects")
    stride = manifest["output_stride"]
    if isinstance(stride, bool) or not isinstance(stride, int) or stride <= 0:
        fail(f"'output_stride' must be a positive integer, got {stride!r}")
    shape = _shape(fail, "input", inp)
    if len(shape) != 4 or shape[0] != 1 or shape[1] != shape[2] or shape[3] != 3:
        fail(f"input shape {shape}: expected [1, S, S, 3] (square RGB)")
    if inp.get("dtype") != "uint8":
        fail(f"input dtype {inp.get('dtype')!r}: the accelerator takes uint8")
    oshape = _shape(fail, "output", out)
    size, nc = shape[1], len(classes)
    want = [1, size // stride, size // stride, nc + 4]
    if oshape != want:
        fail(f"output shape {oshape}: {nc} classes + 4 box channels at stride {stride} of a {size}-pixel "
             f"input need {want}")
    if out.get("dtype") != "int32":
        fail(f"output dtype {out.get('dtype')!r}: the head leaves the accelerator as int32 accumulators")
    for key in ("scale", "bias"):
        values = np.asarray(out.get(key, []), dtype=object)
        if values.shape != (nc + 4,) or not all(isinstance(v, (int, float)) and np.isfinite(v) for v in values):
            fail(f"output {key} must hold {nc + 4} finite numbers (one per output channel)")
    if "score_threshold" in manifest:  # optional: the model's own default threshold
        threshold = manifest["score_threshold"]
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
            fail(f"'score_threshold' must be a number in (0, 1], got {threshold!r}")
    if "score_calibration" in manifest:  # optional: Platt scaling of the scores (host/calibration.py)
        try:
            ScoreCalibration.from_dict(manifest["score_calibration"])
        except CodenetError as e:
            fail(str(e))
    _check_graph(fail, graph, oshape)


def _shape(fail, name: str, section: dict) -> list:
    shape = section.get("shape")
    if not isinstance(shape, list) or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                               for v in shape):
        fail(f"{name} shape {shape!r}: expected a list of positive integers")
    return shape


def _check_graph(fail, graph, oshape: list) -> None:
    """The graph's last layer produces the manifest's output, and every array the simulator reads is integer."""
    producers = [layer for layer in graph.layers if graph.output in layer.get("outputs", ())]
    if len(producers) != 1:
        fail(f"the graph's output {graph.output!r} has {len(producers)} producing layers, expected 1")
    last = producers[0]
    if list(last.get("shape", [])) != oshape:
        fail(f"the graph's output layer {last['name']} gives shape {last.get('shape')}, the manifest says {oshape}")
    weight = graph.arrays.get(f"{last['name']}.weight")
    if weight is not None and weight.shape[-1] != oshape[-1]:
        fail(f"the graph's output layer has {weight.shape[-1]} channels, the manifest {oshape[-1]}")
    for name, array in graph.arrays.items():
        if array.dtype.kind not in "iu":
            fail(f"graph array {name} is {array.dtype}: the accelerator's numbers are integers")
