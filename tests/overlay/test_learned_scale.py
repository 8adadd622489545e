"""Learned per-channel weight scales (weight_scale: learned): they start where the weights' max puts
them, train, and whatever they become stays exact through the chain: Brevitas == QONNX == FINN ==
simulator."""

import copy
import dataclasses
import math

import pytest
import torch

from codenet.host.errors import CodenetError
from codenet.model.config import load_config
from codenet.model.layers import LEARNED_SCALE, learned_scale
from codenet.model.network import CoDeNet
from tests.conftest import build_tiny_chain
from tests.overlay.test_export_chain import assert_chain_exact, chain_inputs


def _shrink(model):
    """Learned scales as training could leave them: 60-100 % of the max, so some weights clip."""
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for layer in model.quant_layers().values():
            value = learned_scale(layer.conv)
            value.mul_(0.6 + 0.4 * torch.rand(value.shape, generator=gen))


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    chain = build_tiny_chain(tmp_path_factory.mktemp("learned"), prepare=_shrink, weight_scale="learned")
    x = chain_inputs(chain["model"].cfg.input_size, n_random=12, n_scenes=12)
    return {**chain, "x": x}


def _at_the_rails(model) -> int:
    """How many deployed weight codes sit at +-(2^(bits-1) - 1)."""
    layers = copy.deepcopy(model).freeze().quant_layers().values()
    return sum(int((lay.frozen.weight_int.abs() == 2 ** (lay.weight_bits - 1) - 1).sum()) for lay in layers)


def test_learned_scale_chain_is_exact(learned, tiny_chain):
    assert_chain_exact(learned, learned["x"])
    # the shrunk scales are the ones deployed: far more weights clip than at the max's scale
    assert _at_the_rails(learned["model"]) > 2 * _at_the_rails(tiny_chain["model"])


def test_learned_scales_start_at_the_max_and_train():
    cfg, _ = load_config("codenet-tiny")
    torch.manual_seed(0)
    stats = CoDeNet(cfg)
    learned = CoDeNet(dataclasses.replace(cfg, weight_scale="learned"))
    learned.load_state_dict(stats.state_dict())  # a float state has no learned scales: not an error
    x = torch.rand(2, 3, cfg.input_size, cfg.input_size) * 255
    for model in (stats, learned):
        model.quantize(x)
    s, lay = stats.quant_layers(), learned.quant_layers()
    for name in s:
        a, b = s[name].conv.quant_weight(), lay[name].conv.quant_weight()
        assert torch.allclose(a.scale, b.scale, rtol=1e-6) and torch.equal(a.int(), b.int()), name
    learned.train()
    opt = torch.optim.Adam(learned.parameters(), lr=1e-3, eps=1e-30)  # scale gradients are tiny: Adam steps them
    before = {n: learned_scale(l.conv).detach().clone() for n, l in lay.items()}
    learned(x).square().mean().backward()
    opt.step()
    # every layer the loss reaches (an untrained head may pass nothing back) moves its scales
    reached = [n for n, l in lay.items() if l.conv.weight.grad is not None and l.conv.weight.grad.abs().sum() > 0]
    moved = [n for n, l in lay.items()
             if not torch.equal(learned_scale(l.conv), before[n])]
    assert len(reached) >= len(lay) // 2 and moved == reached


def test_a_state_missing_other_keys_is_still_an_error():
    cfg, _ = load_config("codenet-tiny")
    learned = CoDeNet(dataclasses.replace(cfg, weight_scale="learned"))
    state = CoDeNet(cfg).state_dict()
    del state["stem.bn.weight"]
    with pytest.raises(RuntimeError, match="stem.bn.weight"):
        learned.load_state_dict(state)


def test_an_unknown_weight_scale_is_one_error():
    cfg, _ = load_config("codenet-tiny")
    with pytest.raises(CodenetError, match="weight_scale must be one of stats, learned"):
        dataclasses.replace(cfg, weight_scale="lsq").validate()


def test_learned_scales_train_and_resume_exactly(tmp_path):
    """A run with learned scales: interrupted mid QAT and resumed, the scales and weights it ends with
    are those of the run straight through, and they moved from the max they started at."""
    from codenet.model.checkpoint import load_model
    from codenet.model.train import Trainer, TrainSettings

    cfg, train = load_config("codenet-tiny")
    cfg = dataclasses.replace(cfg, weight_scale="learned")
    s = TrainSettings.from_dict({**train, "checkpoint_every": 1})
    straight = Trainer(cfg, s, tmp_path / "a", progress=False).run()
    steps = math.ceil(s.train_images / s.batch_size)  # one epoch's steps, as the trainer counts them
    Trainer(cfg, s, tmp_path / "b", progress=False).run(stop_after_steps=s.float_epochs * steps + 1)
    resumed = Trainer(cfg, s, tmp_path / "b", progress=False).run(resume=True)
    a, b = load_model(straight)[0], load_model(resumed)[0]
    assert a.cfg.weight_scale == "learned"
    sa, sb = a.state_dict(), b.state_dict()
    scales = [k for k in sa if k.endswith(LEARNED_SCALE)]
    assert len(scales) == len(a.quant_layers())
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    moved = 0
    for name, layer in a.quant_layers().items():  # the value holds the clipping threshold, max |w| at the start
        peak = layer.conv.weight.detach().abs().flatten(1).amax(1)
        moved += not torch.allclose(sa[f"{name}.conv.{LEARNED_SCALE}"].flatten(),
                                    peak, rtol=1e-4)
    assert moved >= len(scales) // 2
