"""Structured pruning: slicing channels is removing their contributions, counts stay foldable, the search
stops only within its budget."""

import pytest
import torch
import yaml
from codenet.host.errors import CodenetError
from codenet.model import prune
from codenet.model.config import load_config
from codenet.model.network import CoDeNet, count

BUDGET_CYCLES = 1_000_000  # 100 frames/s at 100 MHz
CUTS = {"stem": 8, "backbone.1": 8, "backbone.3": 16, "neck.0": 8, "neck.2": 8, "head": 8}


def tiny(seed=0):
    """codenet-tiny with BN far from identity, so every channel matters."""
    cfg, _ = load_config("codenet-tiny")
    torch.manual_seed(seed)
    model = CoDeNet(cfg)
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.weight.data.uniform_(-1, 1)
        bn.bias.data.uniform_(-0.5, 0.5)
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 2)
    return model.eval()


def masked(model, keep):
    """A copy of `model` whose dense convs ignore the channels not kept: their input columns zeroed."""
    import copy

    out = copy.deepcopy(model)
    layers = dict(out.named_modules())
    for layer, (gin, _, depthwise) in prune.layer_groups(out.cfg).items():
        if gin in keep and not depthwise:
            w = layers[layer].conv.weight.data
            drop = torch.ones(w.shape[1], dtype=torch.bool)
            drop[keep[gin]] = False
            w[:, drop] = 0
    return out


def images(n=3, size=64, seed=1):
    return torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(seed)).float()


def keep_of(model):
    return {g: prune.ranked_channels(model, g, c) for g, c in CUTS.items()}


def test_pruned_float_model_equals_the_masked_one_in_float64():
    model = tiny().double()
    keep = keep_of(model)
    pruned = prune.slice_model(model, keep).double().eval()
    x = images().double()
    with torch.no_grad():
        diff = (pruned(x) - masked(model, keep)(x)).abs().max().item()
        assert diff < 1e-9
        assert (pruned(x) - model(x)).abs().max().item() > 1e-3  # the cut channels did matter


def test_pruned_w4a8_model_equals_the_masked_one_exactly():
    """In quant mode every value is an integer code: the calibrated masked model, sliced, gives the same
    codes and the same head output bit for bit (per-channel weight scales see the same row maxima)."""
    model = tiny()
    keep = keep_of(model)
    reference = masked(model, keep).quantize(images(8, seed=2))
    pruned = prune.slice_model(reference, keep).eval()
    assert pruned.is_quant
    x = images()
    with torch.no_grad():
        assert torch.equal(pruned(x), reference(x))


def test_slicing_cuts_depthwise_layers_in_lockstep_and_keeps_the_fixed_counts():
    model = tiny()
    pruned = prune.prune_to(model, CUTS)
    assert prune.widths(pruned.cfg) == {**prune.widths(model.cfg), **CUTS}
    layers = dict(pruned.named_modules())
    assert layers["backbone.2.dw"].conv.weight.shape[0] == CUTS["backbone.1"]
    assert layers["neck.0.offset"].conv.weight.shape[:2] == (1, CUTS["backbone.3"])
    assert layers["backbone.1.pw"].conv.weight.shape[:2] == (CUTS["backbone.1"], 16)  # backbone.0 not cut
    assert layers["neck.1.offset"].conv.weight.shape[:2] == (1, CUTS["neck.0"])
    assert layers["head.out"].conv.weight.shape[:2] == (model.cfg.num_classes + 4, CUTS["head"])
    assert count(pruned)["macs"] < count(model)["macs"]


def test_ranked_channels_keeps_the_largest_gammas():
    model = tiny()
    gamma = model.backbone[1].pw.bn.weight.detach().abs()
    kept = prune.ranked_channels(model, "backbone.1", 8)
    assert gamma[kept].min() >= gamma[[i for i in range(len(gamma)) if i not in kept.tolist()]].max()


def test_legal_counts():
    cfg = tiny().cfg
    assert prune.legal(cfg) == []
    assert prune.legal(prune.with_widths(cfg, {"neck.1": 12}))  # not a multiple of 8
    assert all(c % prune.QUANTUM == 0 for c in prune.uniform(cfg, 0.7).values())


def test_frozen_models_are_refused():
    model = tiny().quantize(images(4)).freeze()
    with pytest.raises(CodenetError):
        prune.slice_model(model, keep_of(model))


def mac_budget(limit):
    """A stand-in estimate: a design 'fits' when its MACs are within `limit`."""

    def estimate(cfg):
        macs = count(CoDeNet(cfg))["macs"]
        return {"fps": 1e9 / macs, "lut": macs, "bram18": 0, "misses": [] if macs <= limit else ["MACs"]}

    return estimate


def test_search_stops_within_a_tiny_budget_with_legal_counts():
    model = tiny()
    limit = 0.8 * count(model)["macs"]
    pruned, path = prune.search(
        model,
        lambda m: float(sum(prune.widths(m.cfg).values())),
        mac_budget(limit),
        BUDGET_CYCLES,
        log=lambda s: None,
    )
    assert count(pruned)["macs"] <= limit
    assert all(row["estimate"]["misses"] for row in path[:-1]) and not path[-1]["estimate"]["misses"]
    assert prune.legal(pruned.cfg) == []
    assert len(path) > 2  # more than one step: the budget is checked after each


def test_search_gives_up_when_the_budget_cannot_be_met():
    with pytest.raises(CodenetError, match="budget"):
        prune.search(tiny(), lambda m: 0.0, mac_budget(0), BUDGET_CYCLES, max_steps=0, log=lambda s: None)


def test_finetune_distils_from_the_unpruned_teacher_in_both_phases(tmp_path):
    from codenet.model.checkpoint import CHECKPOINT_FORMAT, load, load_model, save_model

    model = tiny()
    classes = [str(i) for i in range(model.cfg.num_classes)]
    save_model(model, classes, tmp_path / "teacher.pt")
    config = prune.write_variant(model, classes, CUTS, "tiny-pruned", tmp_path, {})
    data = yaml.safe_load(config.read_text())
    assert (
        data["train"]["init_from"] == str(tmp_path / "tiny-pruned-float.pt") and data["train"]["distill"] > 0
    )
    data["train"] |= {
        "data": "synthetic",
        "train_images": 16,
        "val_images": 8,
        "calib_images": 8,
        "float_epochs": 1,
        "qat_epochs": 1,
        "report_splits": [],
        "workers": 0,
    }
    config.write_text(yaml.safe_dump(data))
    out = prune.finetune(config, tmp_path / "teacher.pt", tmp_path / "run", progress=False)
    trained, _, _ = load_model(out)
    assert trained.is_quant and prune.widths(trained.cfg) == {**prune.widths(model.cfg), **CUTS}
    log = load(tmp_path / "run" / "checkpoint.pt", CHECKPOINT_FORMAT)["log"]
    assert [row["phase"] for row in log] == ["float", "qat"] and all(row["distill"] > 0 for row in log)


def test_results_section_compares_pruned_with_uniform_and_shipped():
    from codenet.model.report import prune_section

    def point(role, ap, fps, max_fps, lut):
        w = prune.widths(tiny().cfg)
        return {
            "name": role,
            "role": role,
            "widths": w,
            "parameters": 1000,
            "macs": 2_000_000,
            "ap50": {"val": ap, "test": ap + 1, "cross-site": ap - 10, "float val": ap},
            "at_budget": {"fps": fps, "lut": lut, "bram18": 100},
            "fits_budget": role != "shipped",
            "max_fps": max_fps,
        }

    result = {
        "budget": {"fps": 90, "lut": 36000, "bram18": 200, "dsp": 220},
        "search_seconds": 600,
        "search": [{}, {}, {}],
        "points": [
            {**point("shipped", 41.0, 60.0, 63.6, 42000), "run": "runs/trees"},
            point("pruned", 40.0, 95.4, 95.4, 35000),
            point("uniform", 36.5, 95.4, 95.4, 35500),
        ],
    }
    text = prune_section(result)
    assert "+3.5 on val, +3.5 on test, +3.5 on cross-site" in text
    assert "1.50 x the frame rate" in text and "-1.0 AP50 on test" in text
    assert "cut from (the shipped row: `runs/trees`)" in text
    assert "| shipped |" in text and "60.0 (misses)" in text


def test_layer_shapes_match_a_forward_pass():
    """compute_cost reads shapes from the config: they must be the ones the network computes."""
    model = prune.prune_to(tiny(), CUTS)
    seen, hooks = {}, []
    for name, layer in model.quant_layers().items():
        def hook(mod, inp, out, name=name):
            seen[name] = (tuple(inp[0].shape), tuple((out[1] if isinstance(out, tuple) else out).shape))

        hooks.append(layer.register_forward_hook(hook))
    with torch.no_grad():
        model(images(1))
    assert seen == prune.layer_shapes(model.cfg)


def test_mixed_precision_refuses_a_float_model_of_other_channels(tmp_path):
    from codenet.model.checkpoint import save_model

    model = tiny()
    save_model(model, [str(i) for i in range(model.cfg.num_classes)], tmp_path / "float.pt")
    with pytest.raises(CodenetError, match="channels"):
        prune.run_mixed(tmp_path / "float.pt", "trees-pruned-mixed", tmp_path / "run", data="synthetic")
