"""QONNX + model card -> bundle, through the FINN flow (codenet.overlay.flow)."""

from __future__ import annotations

from pathlib import Path

from codenet.overlay.bundle import write_bundle
from codenet.overlay.flow import streamline, to_hw_layers


def build_bundle(qonnx_path, card: dict, bundle_dir) -> dict:
    """Saves the FINN graphs beside the QONNX file (streamlined.onnx, hw_layers.onnx)."""
    model = streamline(qonnx_path)
    model.save(str(Path(qonnx_path).with_name("streamlined.onnx")))
    hw = to_hw_layers(model)
    hw.save(str(Path(qonnx_path).with_name("hw_layers.onnx")))
    return write_bundle(hw, card, bundle_dir)
