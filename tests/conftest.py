"""Shared fixtures: the codenet-tiny chain (model, QONNX, FINN graphs, bundle), built once a session."""

import numpy as np
import pytest


def build_tiny_chain(out, prepare=None, **overrides) -> dict:
    """codenet-tiny (its config with `overrides`) quantized on synthetic images, with a live signal at
    every layer and dilations spread over 1..D so every dilation is exercised, `prepare(model)` if
    given, exported to QONNX and through the FINN flow into a bundle in `out`. Returns a dict with the
    model, classes and the paths: qonnx, folded (HW-layer graph), bundle."""
    import dataclasses

    import torch

    from codenet.model.config import load_config
    from codenet.model.data.synthetic import SyntheticDetection
    from codenet.model.export import export_qonnx_model, model_card
    from codenet.model.network import CoDeNet
    from codenet.overlay.flow.steps import build_bundle

    cfg, _ = load_config("codenet-tiny")
    cfg = dataclasses.replace(cfg, **overrides).validate()
    torch.manual_seed(0)
    model = CoDeNet(cfg)
    scenes = SyntheticDetection(16, size=cfg.input_size, seed=1, split="train")
    calib = torch.from_numpy(np.stack([scenes[i][0] for i in range(16)])).permute(0, 3, 1, 2).float()
    # an untrained net's signal dies within a few layers (the head's output would be constant): give
    # every BN this batch's statistics first, so each layer passes on a unit-variance signal
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.reset_running_stats()
        bn.momentum = None
    with torch.no_grad():
        model.train()(calib)
    model.quantize(calib).eval()
    with torch.no_grad():
        for st in model.neck:
            st.offset.conv.weight.normal_(0, 10 / (st.offset.in_scale.item() * 255))
            st.offset.conv.bias.fill_(2.5)
    if prepare is not None:
        prepare(model)
    qonnx = export_qonnx_model(model, out / "model.onnx")
    build_bundle(qonnx, model_card(model, scenes.classes), out / "bundle")
    return {"model": model, "classes": scenes.classes, "qonnx": qonnx, "folded": out / "folded.onnx",
            "bundle": out / "bundle"}


@pytest.fixture(scope="session")
def tiny_chain(tmp_path_factory):
    """The codenet-tiny chain (build_tiny_chain), built once a session. Without torch, brevitas or FINN
    its imports fail every test that uses it (tests/armhf/plugin.py skips them on the board)."""
    return build_tiny_chain(tmp_path_factory.mktemp("tiny_chain"))


@pytest.fixture(scope="session")
def tiny_bundle(tiny_chain):
    """The path of the codenet-tiny bundle (manifest.json + graph.npz); copy it before changing it."""
    return tiny_chain["bundle"]
