"""The HW-layer graph to estimate or build: from a trained model, or an untrained-but-quantized one.

Folding and resources depend on the shapes and bit widths only, not on trained weights, so a model
config quantized on a few synthetic images gives the same estimates as the trained model.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def untrained_model(config: str):
    """A config's model, W4A8-quantized on 8 synthetic images (the test chain's recipe)."""
    import numpy as np
    import torch
    from codenet.model.config import load_config
    from codenet.model.data.synthetic import SyntheticDetection
    from codenet.model.network import CoDeNet

    cfg, _ = load_config(config)
    torch.manual_seed(0)
    model = CoDeNet(cfg)
    scenes = SyntheticDetection(8, size=cfg.input_size, seed=1, split="train")
    calib = torch.from_numpy(np.stack([scenes[i][0] for i in range(8)])).permute(0, 3, 1, 2).float()
    classes = scenes.classes if cfg.num_classes == len(scenes.classes) else [
        f"class {i}" for i in range(cfg.num_classes)]  # the graph's shape is all an estimate needs of them
    return model.quantize(calib).eval(), classes


def add_graph_args(p) -> None:
    """The arguments naming the graph to estimate or build (make estimate, make overlay)."""
    p.add_argument("--board", default=None, help="board config YAML (default: overlay/pynq-z2.yaml)")
    p.add_argument("--model", default=None, help="trained W4A8 model (default: model/weights/codenet-s.pt if "
                                                 "present and no --config is given)")
    p.add_argument("--config", default=None, help="model config (preset or YAML) for an untrained, "
                                                  "quantized graph (default: codenet-s)")
    p.add_argument("--graph", default=None, help="an HW-layer ONNX (hw_layers.onnx) instead of building one")
    p.add_argument("--bundle", default=None, help="with --graph: its bundle (the host timings; make overlay adds the bitstream to it)")
    p.add_argument("--folding", default=None, help="a folding JSON instead of the search")


def model_path(args):
    """--model; else, unless --config names another network, the shipped model when it exists; else None
    (an untrained graph of --config, codenet-s by default)."""
    from codenet.host.errors import CodenetError
    from codenet.model.cli import DEFAULT_MODEL

    if args.model and args.config:
        raise CodenetError("give --model (a trained network) or --config (an untrained one), not both")
    if args.model or args.config:
        return args.model
    return DEFAULT_MODEL if Path(DEFAULT_MODEL).is_file() else None


def build_hw_graph(out_dir, model_path=None, config=None) -> dict:
    """Export through our FINN steps into out_dir (model.onnx, hw_layers.onnx, folded.onnx, bundle/):
    model_path's network, else an untrained one of config (default codenet-s).
    Returns {"hw_layers": path, "bundle": path, "source": what it was built from}."""
    from codenet.model.export import export, export_qonnx_model, model_card
    from codenet.overlay.flow.steps import build_bundle

    out = Path(out_dir)
    if model_path is not None:
        card = export(model_path, out)
        source = _shown(Path(model_path))
    else:
        config = config or "codenet-s"
        model, classes = untrained_model(config)
        qonnx = export_qonnx_model(model, out / "model.onnx")
        card = model_card(model, classes, {"note": "untrained, quantized on synthetic images: for estimates"})
        card["qonnx_sha256"] = hashlib.sha256(qonnx.read_bytes()).hexdigest()
        source = f"{config} (untrained, quantized)"
    build_bundle(out / "model.onnx", card, out / "bundle")
    return {"hw_layers": out / "hw_layers.onnx", "bundle": out / "bundle", "source": source}


def _shown(path: Path) -> str:
    """A path as a report shows it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
