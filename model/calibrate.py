"""Fit a W4A8 model's score calibration on its val split (host/calibration.py applies it).

Platt scaling: a logistic regression of "this detection is true" (IoU >= 0.5, matched as for AP) on the
logit of its raw score, over the val detections scoring at least SCORE_FLOOR (the floor of the D-ECE,
evaluate.score_calibration), by Newton's method in float64. The fit is stored in the model file's
metadata, where evaluation, export and the bundle's detector find it; the val metrics stored beside it
(the bundle's default threshold among them) are recomputed on the calibrated scores.
"""

from __future__ import annotations

import numpy as np

from codenet.host.calibration import ScoreCalibration
from codenet.host.errors import CodenetError
from codenet.model.evaluate import SCORE_FLOOR, pooled_matches

MIN_EACH = 10  # true and false detections the fit needs at least
VAL_KEYS = ("mAP", "AP50", "VOC_AP50", "agnostic_AP50", "F1", "score_threshold")  # a model file's val metrics


def fit_platt(scores: np.ndarray, tp: np.ndarray, floor: float = SCORE_FLOOR) -> ScoreCalibration:
    """(a, b) maximizing the likelihood of the true-positive flags `tp` under sigmoid(a * logit(score) + b)."""
    keep = np.asarray(scores) >= floor
    s = np.clip(np.asarray(scores, np.float64)[keep], 1e-6, 1 - 1e-6)
    y = np.asarray(tp, np.float64)[keep]
    if y.sum() < MIN_EACH or (1 - y).sum() < MIN_EACH:
        raise CodenetError(f"too few detections to calibrate: {int(y.sum())} true and {int((1 - y).sum())} "
                           f"false ones score {floor} or more (need {MIN_EACH} of each)")
    z = np.log(s) - np.log1p(-s)
    x = np.stack([z, np.ones_like(z)], axis=1)
    w = np.array([1.0, 0.0])  # start at the identity
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        hessian = (x * (p * (1 - p))[:, None]).T @ x + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, x.T @ (p - y))
        w = w - step
        if np.abs(step).max() < 1e-12:
            break
    if not np.all(np.isfinite(w)) or w[0] <= 0:
        raise CodenetError(f"score calibration did not converge to an increasing map (a = {w[0]:.3g})")
    return ScoreCalibration(float(w[0]), float(w[1]))


def calibrate_model(model, dataset, data: str, split: str) -> tuple[dict, dict]:
    """Fit `model`'s Platt scaling on `dataset` (`data`'s `split`, named in the entry) and attach it.
    Returns the entry a model file stores (a, b, where it was fit, the D-ECE there before and after)
    and the metrics on calibrated scores."""
    from codenet.model.evaluate import evaluate
    from codenet.model.predict import predict

    items = [dataset[i] for i in range(len(dataset))]
    model.score_calibration = None  # fit on raw scores
    preds = predict(model, [it[0] for it in items])
    truth = [(it[1], it[2]) for it in items]
    calibration = fit_platt(*pooled_matches(preds, truth, len(dataset.classes)))
    raw = evaluate(preds, truth, dataset.classes)
    metrics = evaluate([(b, calibration(s), lab) for b, s, lab in preds], truth, dataset.classes)
    model.score_calibration = calibration
    entry = {**calibration.to_dict(), "data": data, "split": split,
             "calibration_error": [raw["calibration_error"], metrics["calibration_error"]]}
    return entry, metrics


def calibrate_file(src, dst, data: str | None = None, split: str | None = None) -> dict:
    """Calibrate the W4A8 model file `src` on its val split (by default the data and split it was tuned
    on) and write it to `dst` with its val metrics recomputed on calibrated scores. Returns the entry."""
    from codenet.model.checkpoint import load_model, save_model
    from codenet.model.data import open_dataset

    model, classes, meta = load_model(src)
    if not model.is_quant:
        raise CodenetError(f"{src}: a float model; calibration is fit for the W4A8 model that is deployed")
    settings = meta.get("settings", {})
    data = data or settings.get("val_data") or settings.get("data") or "synthetic"
    split = split or settings.get("val_split") or "val"
    dataset = open_dataset(data, split, settings.get("val_images", 300), model.cfg.input_size,
                           settings.get("seed", 0), classes=None)
    if len(dataset.classes) != len(classes):
        raise CodenetError(f"the data set has {len(dataset.classes)} classes, the model {len(classes)}")
    entry, metrics = calibrate_model(model, dataset, data, split)
    meta = {**meta, "score_calibration": entry, "val": {**meta.get("val", {}), **{k: metrics[k] for k in VAL_KEYS}}}
    save_model(model, classes, dst, meta)
    return entry
