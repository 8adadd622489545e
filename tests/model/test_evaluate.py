"""model.evaluate: COCO + VOC AP against hand-computed cases, edge cases, PR plot, metrics JSON."""

import json
import os

import numpy as np
import pytest

from codenet.model.evaluate import evaluate, plot_pr, plot_reliability, save_metrics, voc_ap

CLASSES = ["car", "person", "dog"]


def _gt(boxes, labels):
    return (np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(labels, np.int64))


def _pred(boxes, scores, labels):
    return (np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(scores, np.float32),
            np.asarray(labels, np.int64))


def _random_gt(rng, n_images=6):
    gts = []
    for _ in range(n_images):
        n = rng.integers(0, 5)
        xy = rng.uniform(0, 300, (n, 2))
        wh = rng.uniform(10, 150, (n, 2))  # small, medium and large objects
        gts.append(_gt(np.concatenate([xy, xy + wh], 1), rng.integers(0, 3, n)))
    return gts


def test_perfect_predictions_score_100():
    gts = _random_gt(np.random.default_rng(0))
    preds = [_pred(b, np.linspace(0.9, 0.5, len(b)), lab) for b, lab in gts]
    m = evaluate(preds, gts, CLASSES)
    for key in ("mAP", "AP50", "AP75", "VOC_AP50"):
        assert m[key] == pytest.approx(100.0)
    assert all(v == pytest.approx(100.0) for v in m["per_class_AP50"].values())
    recall, precision = m["pr_curves"]["car"]
    assert recall[-1] == 1.0 and np.all(precision == 1.0)


def test_iou_0_6_counts_at_50_not_75():
    gts = [_gt([[0, 0, 100, 100]], [0])]
    preds = [_pred([[23, 0, 123, 100]], [0.9], [0])]  # IoU = 7700 / 12300 = 0.626
    m = evaluate(preds, gts, CLASSES)
    assert m["AP50"] == pytest.approx(100.0)
    assert m["AP75"] == pytest.approx(0.0)
    assert m["mAP"] == pytest.approx(30.0)  # matched at IoU 0.50, 0.55, 0.60 out of ten thresholds
    assert m["VOC_AP50"] == pytest.approx(100.0)
    assert m["AP_large"] == pytest.approx(30.0)
    assert m["AP_small"] == -1.0 and m["AP_medium"] == -1.0  # no such objects: undefined
    assert m["per_class_AP50"] == {"car": 100.0, "person": -1.0, "dog": -1.0}


def test_false_positives_lower_ap_hand_computed():
    gts = [_gt([[0, 0, 50, 50], [100, 100, 150, 150]], [0, 0])]
    # Ranked: TP (0.9), FP (0.8, hits nothing), TP (0.7).
    # precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> VOC AP = 1/2 * 1 + 1/2 * 2/3 = 5/6.
    preds = [_pred([[0, 0, 50, 50], [300, 300, 350, 350], [100, 100, 150, 150]], [0.9, 0.8, 0.7], [0, 0, 0])]
    m = evaluate(preds, gts, CLASSES)
    assert m["VOC_AP50"] == pytest.approx(500 / 6, abs=1e-9)
    # COCO: 101 recall points, 51 (recall <= .5) at precision 1 and 50 at 2/3.
    assert m["AP50"] == pytest.approx(100 * (51 + 50 * 2 / 3) / 101, abs=1e-6)

    # Ranked: FP (0.95), TP, TP -> precision 0, 1/2, 2/3 -> envelope 2/3 everywhere -> AP = 2/3.
    preds = [_pred([[300, 300, 350, 350], [0, 0, 50, 50], [100, 100, 150, 150]], [0.95, 0.9, 0.7], [0, 0, 0])]
    m = evaluate(preds, gts, CLASSES)
    assert m["VOC_AP50"] == pytest.approx(200 / 3, abs=1e-9)
    recall, precision = m["pr_curves"]["car"]
    np.testing.assert_allclose(recall, [0, 0.5, 1])
    np.testing.assert_allclose(precision, [0, 0.5, 2 / 3])


def test_duplicates_and_wrong_class_are_false_positives():
    gts = [_gt([[0, 0, 50, 50]], [0]), _gt([[10, 10, 60, 60]], [1])]
    preds = [_pred([[0, 0, 50, 50], [1, 1, 50, 50], [0, 0, 50, 50]], [0.9, 0.8, 0.7], [0, 0, 1]),
             _pred([[10, 10, 60, 60]], [0.6], [1])]
    m = evaluate(preds, gts, CLASSES)
    assert m["per_class_AP50"]["car"] == pytest.approx(100.0)  # the duplicate ranks below the TP
    # person: FP (0.7, wrong image) then TP (0.6) -> AP = 1/2.
    assert m["per_class_AP50"]["person"] == pytest.approx(50.0)
    assert m["VOC_AP50"] == pytest.approx(75.0)


def test_class_without_predictions_and_images_without_anything():
    gts = [_gt([[0, 0, 40, 40]], [0]), _gt([[0, 0, 40, 40]], [2]), _gt(np.zeros((0, 4)), [])]
    none = _pred(np.zeros((0, 4)), [], [])
    preds = [_pred([[0, 0, 40, 40]], [0.9], [0]), none, none]
    m = evaluate(preds, gts, CLASSES)
    assert m["per_class_AP50"] == {"car": 100.0, "person": -1.0, "dog": 0.0}
    assert m["VOC_AP50"] == pytest.approx(50.0)
    assert m["AP50"] == pytest.approx(50.0)
    assert len(m["pr_curves"]["dog"][0]) == 0


@pytest.mark.parametrize("preds", [[], [_pred(np.zeros((0, 4)), [], [])],
                                   [_pred([[0, 0, 9, 9]], [0.5], [1])]])
def test_empty_ground_truth_gives_zeros(preds):
    gts = [_gt(np.zeros((0, 4)), [])] * len(preds)
    m = evaluate(preds, gts, CLASSES)
    for key in ("mAP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large", "VOC_AP50"):
        assert m[key] == 0.0
    assert not any(np.isnan(v) for v in m["per_class_AP50"].values())


def test_no_predictions_at_all():
    gts = [_gt([[0, 0, 40, 40]], [1])]
    m = evaluate([_pred(np.zeros((0, 4)), [], [])], gts, CLASSES)
    assert m["VOC_AP50"] == 0.0 and m["mAP"] == 0.0 and m["AP50"] == 0.0


def test_input_errors():
    with pytest.raises(ValueError):
        evaluate([], [_gt([[0, 0, 1, 1]], [0])], CLASSES)
    with pytest.raises(ValueError):
        evaluate([_pred([[0, 0, 1, 1]], [0.5], [3])], [_gt([[0, 0, 1, 1]], [0])], CLASSES)


def test_voc_ap_edges():
    assert voc_ap(np.zeros(0), np.zeros(0)) == 0.0
    assert voc_ap(np.array([1.0]), np.array([1.0])) == 1.0


def test_pr_plot_and_metrics_json(tmp_path, capsys):
    gts = _random_gt(np.random.default_rng(1))
    rng = np.random.default_rng(2)
    preds = [_pred(b + rng.normal(0, 8, b.shape), rng.uniform(0.3, 1, len(b)), lab) for b, lab in gts]
    m = evaluate(preds, gts, CLASSES)
    assert capsys.readouterr().out == ""  # pycocotools' prints are suppressed

    png = tmp_path / "pr.png"
    plot_pr(m, png, title="test")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert os.listdir(tmp_path) == ["pr.png"]

    save_metrics(m, tmp_path / "metrics.json")
    data = json.loads((tmp_path / "metrics.json").read_text())
    assert "pr_curves" not in data and data["VOC_AP50"] == pytest.approx(m["VOC_AP50"])
    assert sorted(os.listdir(tmp_path)) == ["metrics.json", "pr.png"]


def test_true_object_scores_hand_computed():
    gts = [_gt([[0, 0, 50, 50], [100, 100, 150, 150], [200, 200, 240, 240]], [0, 0, 1]),
           _gt([[0, 0, 30, 30]], [2])]
    preds = [_pred([[0, 0, 50, 52], [0, 0, 48, 50], [102, 100, 150, 150], [200, 200, 240, 240]],
                   [0.4, 0.7, 0.35, 0.9], [0, 0, 0, 0]),  # the last one: right box, wrong class
             _pred([[60, 60, 90, 90]], [0.95], [2])]  # misses its object
    m = evaluate(preds, gts, CLASSES)
    # best scores of the true objects: 0.7, 0.35, 0 (class 1 found by nobody), 0 (missed)
    assert m["true_score_median"] == pytest.approx(17.5)
    assert m["recall_at_0.3"] == pytest.approx(50.0) and m["recall_at_0.5"] == pytest.approx(25.0)
    empty = evaluate([_pred([], [], [])], [_gt([], [])], CLASSES)
    assert empty["true_score_median"] == 0.0 and empty["recall_at_0.5"] == 0.0



def test_best_f1_threshold_and_class_agnostic_ap_hand_computed():
    gts = [_gt([[0, 0, 50, 50], [100, 100, 150, 150], [200, 200, 240, 240]], [0, 0, 1]),
           _gt([[0, 0, 30, 30]], [2])]
    preds = [_pred([[0, 0, 50, 52], [0, 0, 48, 50], [102, 100, 150, 150], [200, 200, 240, 240]],
                   [0.4, 0.7, 0.35, 0.9], [0, 0, 0, 0]),
             _pred([[60, 60, 90, 90]], [0.95], [2])]
    m = evaluate(preds, gts, CLASSES)
    # pooled by score: 0.95 FP, 0.9 FP (wrong class), 0.7 TP, 0.4 FP (a duplicate), 0.35 TP; 4 objects:
    # F1 0, 0, 2/7, 2/8, 4/9: the best keeps every detection down to 0.35
    assert m["score_threshold"] == pytest.approx(0.35)
    assert m["F1"] == pytest.approx(400 / 9) and m["precision_at_threshold"] == pytest.approx(40.0)
    assert m["recall_at_threshold"] == pytest.approx(50.0)
    # one class: 0.95 FP, 0.9 TP (the wrong-class box is right), 0.7 TP, 0.4 FP, 0.35 TP: VOC AP
    # 0.25 * 2/3 + 0.25 * 2/3 + 0.25 * 0.6
    assert m["agnostic_AP50"] == pytest.approx(100 * (0.25 * 2 / 3 * 2 + 0.25 * 0.6))
    empty = evaluate([_pred([], [], [])], [_gt([[0, 0, 9, 9]], [0])], CLASSES)
    assert empty["F1"] == 0.0 and empty["score_threshold"] == 0.5 and empty["agnostic_AP50"] == 0.0


def test_score_calibration_hand_computed(tmp_path):
    gts = [_gt([[0, 0, 50, 50], [100, 100, 150, 150], [200, 200, 240, 240]], [0, 0, 1]),
           _gt([[0, 0, 30, 30]], [2])]
    preds = [_pred([[0, 0, 50, 52], [0, 0, 48, 50], [102, 100, 150, 150], [200, 200, 240, 240], [300, 300, 340, 340]],
                   [0.4, 0.75, 0.35, 0.92, 0.05], [0, 0, 0, 0, 0]),
             _pred([[60, 60, 90, 90]], [0.96], [2])]
    m = evaluate(preds, gts, CLASSES)
    # pooled: 0.96 FP, 0.92 FP, 0.75 TP, 0.4 FP, 0.35 TP; the 0.05 FP is under the floor. Bins 0.3-0.4
    # (0.35 TP: 0.65 off), 0.4-0.5 (0.4 FP: 0.4), 0.7-0.8 (0.75 TP: 0.25), 0.9-1 (0.94 mean, both FP: 0.94 x 2)
    expected = [[0.35, 1.0, 1], [0.4, 0.0, 1], [0.75, 1.0, 1], [0.94, 0.0, 2]]
    assert np.ravel(m["reliability"]) == pytest.approx(np.ravel(expected))
    assert m["calibration_error"] == pytest.approx(100 * (0.65 + 0.4 + 0.25 + 2 * 0.94) / 5)
    png = plot_reliability(m, tmp_path / "reliability.png", title="test")
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    empty = evaluate([_pred([], [], [])], [_gt([[0, 0, 9, 9]], [0])], CLASSES)
    assert empty["calibration_error"] == 0.0 and empty["reliability"] == []
    plot_reliability(empty, tmp_path / "empty.png")

def test_report_keeps_the_sections_of_runs_it_does_not_have(tmp_path, capsys):
    from codenet.model.report import main as report_main

    out = tmp_path / "results.md"
    old = ("# Results\n\n## Default model: codenet-s (x)\n\nfigures A\n\n## Tree-crown detector: t (y)\n\n"
           "figures B\n\n## Ablation: variants\n\ntable C\n")
    out.write_text(old)
    none = str(tmp_path / "none")
    assert report_main(["--run", none, "--trees", none, "--ablation", none, "--ptq", none,
                        "--ptq-synthetic", none, "--prune", none, "--shift", none, "--out", str(out)]) == 0
    assert out.read_text() == old


def test_the_tree_section_describes_the_network_its_run_trained():
    import dataclasses

    from codenet.model.config import load_config
    from codenet.model.report import _network_text

    s32 = load_config("trees-s32")[0]
    s16 = load_config("trees")[0]
    assert _network_text(s32.to_dict()).startswith(
        "A stride-32 network with one class (codenet-s's channels, three decoder stages to the head's stride 4")
    assert _network_text(s16.to_dict()).startswith("A stride-16 network with one class (codenet-s's channels, two")
    narrow = dataclasses.replace(s32, stem=(8, 2), num_classes=3)
    assert _network_text(narrow.to_dict()).startswith("A stride-32 network with 3 classes (its own channels")
