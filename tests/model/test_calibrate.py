"""Score calibration: Platt scaling recovered from its own data, fit on a real model without moving
one AP figure, stored in the model file and refused where it cannot be fit."""

import numpy as np
import pytest

from codenet.host.cli import main
from codenet.host.errors import CodenetError
from codenet.model.calibrate import calibrate_model, fit_platt
from codenet.model.checkpoint import load_model, save_model
from codenet.model.data import open_dataset
from codenet.model.evaluate import evaluate
from codenet.model.predict import predict
from tests.host.cli_run import one_line

WEIGHTS = "model/weights/"


def test_fit_platt_recovers_the_scaling_its_flags_were_drawn_from():
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.05, 0.98, 40_000)
    z = np.log(raw / (1 - raw))
    tp = (rng.uniform(size=raw.size) < 1 / (1 + np.exp(-(2.5 * z + 0.6)))).astype(np.float64)
    cal = fit_platt(raw.astype(np.float32), tp)
    assert cal.a == pytest.approx(2.5, abs=0.1) and cal.b == pytest.approx(0.6, abs=0.1)
    # deterministic: the same detections give the same bits
    again = fit_platt(raw.astype(np.float32), tp)
    assert (again.a, again.b) == (cal.a, cal.b)


@pytest.mark.parametrize("tp", [np.ones(50), np.zeros(50), np.r_[np.ones(5), np.zeros(45)]])
def test_too_few_true_or_false_detections_to_fit(tp):
    with pytest.raises(CodenetError, match="too few detections"):
        fit_platt(np.linspace(0.2, 0.9, 50), tp)


def test_calibrating_the_shipped_model_moves_no_ap_and_lowers_its_calibration_error(tmp_path):
    model, classes, meta = load_model(WEIGHTS + "codenet-s.pt")
    data = open_dataset("synthetic", "val", 48, model.cfg.input_size, 0, classes=None)
    items = [data[i] for i in range(len(data))]
    truth = [(it[1], it[2]) for it in items]
    model.score_calibration = None
    raw = evaluate(predict(model, [it[0] for it in items]), truth, classes)
    entry, calibrated = calibrate_model(model, data, "synthetic", "val")
    again = evaluate(predict(model, [it[0] for it in items]), truth, classes)  # through the model's own map
    for key in ("AP50", "mAP", "AP75", "VOC_AP50", "agnostic_AP50"):
        assert calibrated[key] == again[key] == raw[key], key
    assert entry["calibration_error"] == [raw["calibration_error"], calibrated["calibration_error"]]
    assert calibrated["calibration_error"] < raw["calibration_error"]
    save_model(model, classes, tmp_path / "cal.pt", {**meta, "score_calibration": entry})
    loaded = load_model(tmp_path / "cal.pt")[0]
    assert (loaded.score_calibration.a, loaded.score_calibration.b) == (entry["a"], entry["b"])


def test_calibrate_scores_refuses_a_float_model(capsys, tmp_path):
    code = main(["calibrate-scores", "--model", WEIGHTS + "trees-float.pt", "--out", str(tmp_path / "x.pt")])
    one_line(code, capsys.readouterr().err.strip(), "float model")
    assert not (tmp_path / "x.pt").exists()
