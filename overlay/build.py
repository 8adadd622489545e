"""QONNX + model card -> bundle, through the FINN flow (codenet.overlay.flow)."""

from __future__ import annotations

from pathlib import Path

from codenet.overlay.bundle import write_bundle
from codenet.overlay.flow import streamline


def build_bundle(qonnx_path, card: dict, bundle_dir) -> dict:
    model = streamline(qonnx_path)
    model.save(str(Path(qonnx_path).with_name("streamlined.onnx")))
    return write_bundle(model, card, bundle_dir)
