"""The model file (codenet-model/2) stores the deployed integers: loaded, evaluated and exported as stored."""

import copy

import pytest
import torch

from codenet.host.cli import main
from codenet.host.errors import CodenetError
from codenet.model import checkpoint
from codenet.model.checkpoint import MODEL_FORMAT_V1, load_model, save_model
from codenet.model.quant import dyadic_channel


@pytest.fixture(scope="module")
def quant_model(tiny_chain):
    return tiny_chain["model"], tiny_chain["classes"]


def write_v1(model, classes, path):
    """A file as codenet-model/1 wrote it: float parameters only."""
    checkpoint.save_atomic({"format": MODEL_FORMAT_V1, "config": checkpoint.plain(model.cfg.to_dict()),
                            "classes": list(classes), "quantized": model.is_quant,
                            "state": {k: v for k, v in model.state_dict().items() if ".frozen." not in k},
                            "meta": {}}, path)


def test_saved_integers_are_what_the_model_computed(tmp_path, quant_model):
    model, classes = quant_model
    save_model(model, classes, tmp_path / "m.pt")
    loaded, _, _ = load_model(tmp_path / "m.pt")
    assert loaded.has_integers
    x = torch.randint(0, 256, (3, 3, model.cfg.input_size, model.cfg.input_size)).float()
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))  # QAT's forward == the stored integers' forward
    stored = loaded.deployed_integers()
    assert stored.keys() == model.quant_layers().keys()
    assert all(e["weight"].dtype == torch.int8 for e in stored.values())


def test_loaded_integers_survive_changed_floats(tmp_path, quant_model):
    model, classes = quant_model
    save_model(model, classes, tmp_path / "m.pt")
    loaded, _, _ = load_model(tmp_path / "m.pt")
    x = torch.randint(0, 256, (2, 3, model.cfg.input_size, model.cfg.input_size)).float()
    with torch.no_grad():
        before = loaded(x)
        for bn in (m for m in loaded.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            bn.running_mean.add_(0.5)
        assert torch.equal(loaded(x), before)
    assert copy.deepcopy(loaded).freeze().deployed_integers()["stem"]["bias"].equal(
        model.deployed_integers()["stem"]["bias"])


def test_v1_w4a8_file_is_refused_with_the_command_that_converts_it(tmp_path, quant_model):
    model, classes = quant_model
    write_v1(model, classes, tmp_path / "old.pt")
    with pytest.raises(CodenetError, match="codenet upgrade-model"):
        load_model(tmp_path / "old.pt")


def test_upgrade_model_command(tmp_path, capsys, quant_model):
    model, classes = quant_model
    write_v1(model, classes, tmp_path / "old.pt")
    assert main(["upgrade-model", str(tmp_path / "old.pt"), str(tmp_path / "new.pt")]) == 0
    loaded, _, meta = load_model(tmp_path / "new.pt")
    assert meta["upgraded_from"] == MODEL_FORMAT_V1
    for name, entry in model.deployed_integers().items():
        for key, value in entry.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(loaded.deployed_integers()[name][key]))
    capsys.readouterr()
    assert main(["upgrade-model", str(tmp_path / "new.pt"), str(tmp_path / "again.pt")]) == 2
    assert "already a codenet-model/2 file" in capsys.readouterr().err


def test_v1_float_model_still_loads(tmp_path, quant_model):
    from codenet.model.network import CoDeNet

    model = CoDeNet(quant_model[0].cfg)
    write_v1(model, quant_model[1], tmp_path / "float.pt")
    loaded, _, _ = load_model(tmp_path / "float.pt")
    assert not loaded.is_quant and not loaded.has_integers


def test_integers_that_do_not_fit_the_network_are_one_error(tmp_path, quant_model):
    model, classes = quant_model
    save_model(model, classes, tmp_path / "m.pt")
    obj = torch.load(tmp_path / "m.pt", weights_only=True)
    obj["integers"].pop(next(iter(obj["integers"])))
    checkpoint.save_atomic(obj, tmp_path / "m.pt")
    with pytest.raises(CodenetError, match="weights do not match"):
        load_model(tmp_path / "m.pt")


@pytest.mark.parametrize("m, b", [(0.0123, -3.5), (-7.25e-5, 1e3), (1.0, 0.5), (2.0 ** -20, 0.0), (0.0, 2.5),
                                  (3.0e-12, 4.0)])
def test_dyadic_channel_is_exact_rounding_of_the_scaled_real(m, b):
    from fractions import Fraction

    mult, bias, shift = dyadic_channel(m, b)
    if m != 0.0:
        assert 2 ** 13 <= abs(mult) < 2 ** 14 or shift in (0, 40)
    scaled_m, scaled_b = Fraction(m) * 2 ** shift, Fraction(b) * 2 ** shift
    assert mult == round(scaled_m)  # Fraction rounds half to even, as the derivation does
    assert bias == round(scaled_b) + (2 ** (shift - 1) if shift else 0)
