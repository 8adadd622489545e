"""The exact chain on the shipped codenet-s model at 256x256, on >= 100 inputs (slow: node-by-node ONNX)."""

import copy

import numpy as np
import pytest
import torch
from qonnx.core.modelwrapper import ModelWrapper

from codenet.host.bundle import load_bundle
from codenet.host.sim import simulate
from codenet.model.checkpoint import load_model
from codenet.model.cli import DEFAULT_MODEL
from codenet.model.export import export
from codenet.overlay.flow.steps import build_bundle
from codenet.overlay.estimate.folding import SHIPPED_FOLDING, load_folding
from codenet.overlay.flow.execute import execute
from tests.overlay.test_export_chain import chain_inputs

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not DEFAULT_MODEL.exists(), reason="no shipped model")]


def test_shipped_model_chain_is_exact(tmp_path):
    model, _, _ = load_model(DEFAULT_MODEL)
    card = export(DEFAULT_MODEL, tmp_path)
    build_bundle(tmp_path / "model.onnx", card, tmp_path / "bundle", load_folding(SHIPPED_FOLDING))
    x = chain_inputs(model.cfg.input_size, n_random=30, n_scenes=50)
    assert len(x) >= 100
    frozen = copy.deepcopy(model).freeze()
    with torch.no_grad():
        brevitas = torch.cat([frozen(torch.from_numpy(x[i:i + 10])) for i in range(0, len(x), 10)]).numpy()
        assert torch.equal(model.head.out.dequantize(torch.from_numpy(brevitas)), model(torch.from_numpy(x)))
    qonnx = execute(ModelWrapper(str(tmp_path / "model.onnx")), x)
    assert np.array_equal(qonnx, brevitas)
    streamlined = execute(ModelWrapper(str(tmp_path / "streamlined.onnx")), x)
    assert np.array_equal(streamlined, qonnx)
    hw = execute(ModelWrapper(str(tmp_path / "hw_layers.onnx")), x, batched=False)
    assert np.array_equal(hw, streamlined)
    sim = simulate(load_bundle(tmp_path / "bundle").graph, x.transpose(0, 2, 3, 1).astype(np.uint8))
    assert np.array_equal(sim.transpose(0, 3, 1, 2), hw.astype(np.int32))
