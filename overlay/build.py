"""QONNX + model card -> bundle: our FINN step list, each step's graph saved beside the QONNX file; then
the folded graph specialized to our HLS ops (specialized.onnx), what FINN's cppsim and hw_codegen take."""

from __future__ import annotations

import time
from pathlib import Path

from codenet.host.io import write_json_atomic
from codenet.overlay.bundle import write_bundle
from codenet.overlay.flow import streamline, to_hw_layers
from codenet.overlay.folding import apply_folding
from codenet.overlay.specialize import specialize

#: (name of the saved graph, step): QONNX -> FINN integer graph -> FINN HW layers -> folded
STEPS = (("streamlined", streamline), ("hw_layers", to_hw_layers), ("folded", apply_folding))


def build_bundle(qonnx_path, card: dict, bundle_dir, folding: dict | None = None) -> dict:
    out = Path(qonnx_path).parent
    model, seconds = str(qonnx_path), {}
    for name, step in STEPS:
        t = time.perf_counter()
        model = step(model, folding) if step is apply_folding else step(model)
        seconds[name] = round(time.perf_counter() - t, 2)
        model.save(str(out / f"{name}.onnx"))
    manifest = write_bundle(model, card, bundle_dir)  # the bundle: HW layers, as the simulator runs them
    t = time.perf_counter()
    specialize(model).save(str(out / "specialized.onnx"))
    seconds["specialized"] = round(time.perf_counter() - t, 2)
    write_json_atomic(seconds, out / "time_per_step.json")
    return manifest
