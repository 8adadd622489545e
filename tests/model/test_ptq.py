"""Post-training quantization: float model file -> W4A8 model file with its integers, no training step."""

import pytest
import torch

from codenet.host.cli import main
from codenet.model.checkpoint import load_model, save_model
from codenet.model.config import load_config
from codenet.model.network import ACT_MAX, CoDeNet, mse_peak


@pytest.fixture
def float_model_file(tmp_path):
    cfg, _ = load_config("codenet-tiny")
    torch.manual_seed(0)
    model = CoDeNet(cfg).eval()
    path = tmp_path / "float.pt"
    save_model(model, [str(i) for i in range(cfg.num_classes)], path)
    return path


def quant_error(values, peak):
    step = peak / ACT_MAX
    return (torch.clamp(torch.round(values / step), 0, ACT_MAX) * step - values).square().mean().item()


def test_mse_peak_beats_the_max_and_the_percentile_on_heavy_tails():
    gen = torch.Generator().manual_seed(0)
    values = torch.relu(torch.randn(200_000, generator=gen)) ** 3  # a long tail, as ReLU outputs have
    peak = mse_peak(values)
    assert peak < values.max().item()
    assert quant_error(values, peak) <= quant_error(values, values.max().item())
    assert quant_error(values, peak) <= quant_error(values, torch.quantile(values, 0.9999).item())


@pytest.mark.parametrize("method", ["percentile", "mse"])
def test_quantize_command_writes_a_w4a8_model_with_integers(tmp_path, capsys, float_model_file, method):
    out = tmp_path / f"{method}.pt"
    assert main(["quantize", "--model", str(float_model_file), "--out", str(out), "--images", "8",
                 "--method", method]) == 0
    model, _, meta = load_model(out)
    assert model.is_quant and model.has_integers and meta["ptq"]["method"] == method
    size = model.cfg.input_size
    with torch.no_grad():
        y = model(torch.randint(0, 256, (1, 3, size, size)).float())
    assert y.shape[1] == model.cfg.num_classes + 4 and torch.isfinite(y).all()


def test_quantizing_a_w4a8_model_is_one_error(tmp_path, capsys, float_model_file):
    w4a8 = tmp_path / "w4a8.pt"
    assert main(["quantize", "--model", str(float_model_file), "--out", str(w4a8), "--images", "4"]) == 0
    capsys.readouterr()
    assert main(["quantize", "--model", str(w4a8), "--out", str(tmp_path / "again.pt"), "--images", "4"]) == 2
    err = capsys.readouterr().err
    assert "already a W4A8 model" in err and err.count("\n") == 1


def test_compare_writes_the_float_ptq_qat_table(tmp_path, float_model_file):
    from codenet.model.ptq import compare, quantize_model

    qat = tmp_path / "qat.pt"  # a stand-in for QAT's output: the table only needs a W4A8 file
    quantize_model(float_model_file, "synthetic", qat, images=4)
    rows = compare(float_model_file, qat, "synthetic", ["val"], tmp_path / "ptq", images=4, eval_images=3)
    assert [r["model"] for r in rows] == ["float", "PTQ W4A8 (percentile)", "PTQ W4A8 (mse)", "QAT W4A8"]
    assert all(0 <= r["val"] <= 100 for r in rows)
    table = (tmp_path / "ptq" / "ptq.md").read_text().splitlines()
    assert table[0] == "| model | AP50 val |" and len(table) == 6


def test_results_section_states_what_qat_buys():
    from codenet.model.report import PTQ_TREES, ptq_section

    rows = [{"model": "float", "file": "f", "val": 40.0, "test": 44.0},
            {"model": "PTQ W4A8 (percentile)", "file": "p", "val": 39.0, "test": 41.0},
            {"model": "PTQ W4A8 (mse)", "file": "m", "val": 38.5, "test": 41.5},
            {"model": "QAT W4A8", "file": "q", "val": 41.0, "test": 42.0}]
    text = ptq_section(rows, *PTQ_TREES)
    assert "| QAT W4A8 | 41.0 | 42.0 |" in text
    assert "+2.0 on val, +0.5 on test" in text


def test_sensitivity_tries_each_layer_narrower_and_wider(float_model_file):
    from codenet.model.sensitivity import sensitivity

    rows = sensitivity(float_model_file, "synthetic", widths=(2, 8), images=4, eval_images=2)
    assert rows[0]["layer"] == "(uniform)"
    layers = {r["layer"] for r in rows[1:]}
    assert {"backbone.0.pw", "neck.0.dw", "head.out", "stem"} <= layers
    assert all((r["bits_saved"] > 0) == (r["bits"] < 4) for r in rows[1:])
    assert {r["bits"] for r in rows if r["layer"] == "neck.0.dw"} == {2, 8}
    pw = {r["bits"]: r["bits_saved"] for r in rows if r["layer"] == "backbone.0.pw"}
    assert pw[8] == -2 * pw[2]  # 4 bits added per weight, 2 saved
