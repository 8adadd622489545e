"""Export a trained W4A8 model to QONNX (Brevitas `export_qonnx`) with its model card.

The exported graph is the frozen model: Quant nodes carry the integer weights (scale 1), each 8-bit
activation is its requantization in float64 standard ops (exact below 2^53), the deformable
depthwise conv is one Conv per dilation selected per pixel by Equal masks, and the output is the
head's integer accumulator. Every value is an integer, so the QONNX graph reproduces the PyTorch
model exactly, and the FINN flow (codenet.overlay) pattern-matches these blocks into its layers.
"""

from __future__ import annotations

import copy
import hashlib
import tempfile
import warnings
from pathlib import Path

import torch

from codenet.host.errors import CodenetError
from codenet.host.io import write_bytes_atomic, write_json_atomic

CARD_FORMAT = "codenet-model-card/1"


def model_card(model, classes, meta: dict | None = None) -> dict:
    """What a consumer needs besides the graph: classes, input, preprocessing, output layout."""
    scale, bias = model.head_affine()
    cfg = model.cfg
    return {
        "format": CARD_FORMAT,
        "name": cfg.name,
        "classes": list(classes),
        "input": {"shape": [1, 3, cfg.input_size, cfg.input_size], "layout": "NCHW", "dtype": "uint8",
                  "preprocessing": "RGB, letterbox to the input size (keep aspect, centre, pad 114), no "
                                   "normalisation: the uint8 codes are the input"},
        "output": {"shape": [1, cfg.num_classes + 4, cfg.input_size // cfg.output_stride,
                             cfg.input_size // cfg.output_stride],
                   "layout": "NCHW", "dtype": "int32 accumulator",
                   "channels": {"heatmap_logits": [0, cfg.num_classes], "size_wh": [cfg.num_classes, cfg.num_classes + 2],
                                "offset_xy": [cfg.num_classes + 2, cfg.num_classes + 4]},
                   "dequantize": "float = acc * scale[c] + bias[c]",
                   "scale": scale.tolist(), "bias": bias.tolist()},
        "output_stride": cfg.output_stride,
        "config": cfg.to_dict(),
        "meta": meta or {},
    }


def export_qonnx_model(model, path) -> Path:
    """Frozen copy of `model` -> cleaned QONNX file at `path` (written atomically)."""
    from brevitas.export import export_qonnx
    from qonnx.util.cleanup import cleanup

    frozen = copy.deepcopy(model).freeze()
    size = model.cfg.input_size
    example = torch.zeros(1, 3, size, size)
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        raw, clean = Path(tmp) / "raw.onnx", Path(tmp) / "clean.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            export_qonnx(frozen, example, export_path=str(raw), dynamo=False)
        cleanup(str(raw), out_file=str(clean))
        write_bytes_atomic(clean.read_bytes(), path)
    return path


def export(model_path, out_dir) -> dict:
    """model.pt -> out_dir/{model.onnx, model_card.json}; returns the card."""
    from codenet.model.checkpoint import load_model

    model, classes, meta = load_model(model_path)
    if not model.is_quant:
        raise CodenetError(f"{model_path}: a float model; export needs a W4A8 (QAT) model")
    out = Path(out_dir)
    onnx_path = export_qonnx_model(model, out / "model.onnx")
    card = model_card(model, classes, meta)
    card["qonnx_sha256"] = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    write_json_atomic(card, out / "model_card.json")
    return card
