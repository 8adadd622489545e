"""Detection metrics: COCO-style AP via pycocotools, Pascal VOC AP50 in numpy, and a PR plot.

Inputs, one entry per image:
  predictions[i]  = (boxes (N, 4) x1y1x2y2 pixels, scores (N,), labels (N,))
  ground_truth[i] = (boxes (M, 4) x1y1x2y2 pixels, labels (M,))
Labels index `classes`. All AP numbers are returned in percent (0..100).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Sequence

import numpy as np

from codenet.host.io import write_bytes_atomic, write_json_atomic

__all__ = ["evaluate", "voc_ap", "plot_pr", "plot_reliability", "metrics_to_json", "save_metrics"]

COCO_KEYS = ("mAP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large")  # = COCOeval.stats[0:6]
SCORE_FLOOR = 0.1  # calibration looks at detections from here up: below it lies the background's tail


def _as_pred(entry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    boxes, scores, labels = entry
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    lab = np.asarray(labels).reshape(-1).astype(np.int64)
    if not (len(b) == len(s) == len(lab)):
        raise ValueError(f"prediction boxes/scores/labels differ in length: {len(b)}, {len(s)}, {len(lab)}")
    return b, s, lab


def _as_gt(entry) -> tuple[np.ndarray, np.ndarray]:
    boxes, labels = entry
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    lab = np.asarray(labels).reshape(-1).astype(np.int64)
    if len(b) != len(lab):
        raise ValueError(f"ground-truth boxes/labels differ in length: {len(b)}, {len(lab)}")
    return b, lab


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (len(a), len(b)) of x1y1x2y2 boxes; continuous coordinates (no VOC '+1'), like COCO."""
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """All-point interpolated AP (VOC2010+): area under the monotone precision envelope. In 0..1."""
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def _voc_class(preds, gts, cls: int,
               iou_threshold: float) -> tuple[np.ndarray, np.ndarray, int, np.ndarray, np.ndarray]:
    """Recall/precision curve of one class over all images, greedy by score, VOC devkit rules, and the
    detections' scores in that order with their true-positive flags.

    Each detection takes its best-IoU ground truth of the same image; if that one is already matched
    (or IoU < threshold) the detection is a false positive (no fallback to the second best, as in VOC).
    """
    npos = 0
    # Per image with detections: scores, image index, best-IoU ground truth and that IoU.
    det_scores, det_img, det_best, det_iou = [], [], [], []
    for i, ((pb, ps, pl), (gb, gl)) in enumerate(zip(preds, gts)):
        g = gb[gl == cls]
        npos += len(g)
        p_mask = pl == cls
        if not p_mask.any():
            continue
        p, s = pb[p_mask], ps[p_mask]
        if len(g):
            ious = _iou(p, g)
            best = ious.argmax(axis=1)
            best_iou = ious[np.arange(len(p)), best]
        else:
            best, best_iou = np.full(len(p), -1), np.zeros(len(p))
        det_scores.append(s)
        det_img.append(np.full(len(p), i))
        det_best.append(best)
        det_iou.append(best_iou)
    if not det_scores:
        return np.zeros(0), np.zeros(0), npos, np.zeros(0), np.zeros(0)

    scores = np.concatenate(det_scores)
    img, best, best_iou = np.concatenate(det_img), np.concatenate(det_best), np.concatenate(det_iou)
    order = np.argsort(-scores, kind="stable")  # ties: image order, then detection order
    tp = np.zeros(len(order))
    taken: set[tuple[int, int]] = set()
    for rank, d in enumerate(order):
        key = (int(img[d]), int(best[d]))
        if best[d] >= 0 and best_iou[d] >= iou_threshold and key not in taken:
            taken.add(key)
            tp[rank] = 1.0
    ctp = np.cumsum(tp)
    cfp = np.cumsum(1.0 - tp)
    recall = ctp / npos if npos else np.zeros_like(ctp)
    precision = ctp / (ctp + cfp)
    return recall, precision, npos, scores[order], tp


def best_f1_threshold(scores: np.ndarray, tp: np.ndarray, npos: int) -> dict:
    """The score threshold at which detections (all classes pooled: scores and true-positive flags as
    _voc_class matches them) have the best F1 against `npos` true objects: the threshold a detector
    should default to. F1, precision and recall there in percent; threshold 0.5 and F1 0 without any."""
    if npos == 0 or not len(scores) or not tp.any():
        return {"score_threshold": 0.5, "F1": 0.0, "precision_at_threshold": 0.0, "recall_at_threshold": 0.0}
    order = np.argsort(-scores, kind="stable")
    s, ctp = scores[order], np.cumsum(tp[order])
    last = np.r_[s[1:] != s[:-1], True]  # a threshold keeps every detection of an equal score
    k = np.flatnonzero(last)
    f1 = 2 * ctp[k] / (k + 1 + npos)
    best = k[int(np.argmax(f1))]
    return {"score_threshold": float(s[best]), "F1": float(f1.max()) * 100,
            "precision_at_threshold": float(ctp[best] / (best + 1)) * 100,
            "recall_at_threshold": float(ctp[best] / npos) * 100}


def pooled_matches(predictions: Sequence, ground_truth: Sequence, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Every detection's score and true-positive flag (IoU >= 0.5, matched per class as for AP), all
    classes pooled."""
    preds, gts = [_as_pred(p) for p in predictions], [_as_gt(g) for g in ground_truth]
    matched = [_voc_class(preds, gts, c, 0.5)[3:] for c in range(n_classes)]
    return np.concatenate([m[0] for m in matched]), np.concatenate([m[1] for m in matched])


def score_calibration(scores: np.ndarray, tp: np.ndarray, floor: float = SCORE_FLOOR, bins: int = 10) -> dict:
    """How well detection scores estimate the chance that a detection is true (IoU >= 0.5, as _voc_class
    matches them): the detection expected calibration error (D-ECE: per score bin of width 1 / `bins`,
    |precision - mean score| weighted by the bin's share of detections) over the detections scoring at
    least `floor`, in percent, and the reliability diagram's bins as [mean score, precision, count].
    The floor leaves out the near-zero tail that evaluation keeps for AP and no user ever sees."""
    keep = scores >= floor
    scores, tp = scores[keep], tp[keep]
    if not scores.size:
        return {"calibration_error": 0.0, "reliability": []}
    which = np.minimum((scores * bins).astype(np.int64), bins - 1)
    rows, error = [], 0.0
    for b in np.unique(which):
        s, t = scores[which == b], tp[which == b]
        rows.append([float(s.mean()), float(t.mean()), int(s.size)])
        error += abs(t.mean() - s.mean()) * s.size
    return {"calibration_error": float(error / scores.size) * 100, "reliability": rows}


def true_object_scores(preds, gts, iou_threshold: float = 0.5) -> dict:
    """How confidently true objects are found: per ground-truth box, the best score among detections of
    its class with IoU >= iou_threshold (0 if none). Returns the median of those scores in percent and
    the recall at score thresholds 0.3 (the CLI's default) and 0.5, in percent."""
    best = []
    for (pb, ps, pl), (gb, gl) in zip(preds, gts):
        for cls in np.unique(gl):
            g = gb[gl == cls]
            mask = pl == cls
            if not mask.any():
                best += [0.0] * len(g)
                continue
            hit = _iou(g, pb[mask]) >= iou_threshold
            best += np.where(hit, ps[mask][None, :], 0.0).max(axis=1).tolist()
    best = np.asarray(best)
    if best.size == 0:
        return {"true_score_median": 0.0, "recall_at_0.3": 0.0, "recall_at_0.5": 0.0}
    return {"true_score_median": float(np.median(best)) * 100, "recall_at_0.3": float((best >= 0.3).mean()) * 100,
            "recall_at_0.5": float((best >= 0.5).mean()) * 100}


def _coco_metrics(preds, gts, n_classes: int) -> dict[str, float]:
    """COCOeval bbox stats[0:6] in percent; -1 where COCO says undefined (e.g. no small objects)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images = [{"id": i + 1} for i in range(len(gts))]
    categories = [{"id": c + 1, "name": str(c)} for c in range(n_classes)]

    def anns(entries, with_scores):
        out = []
        for i, entry in enumerate(entries):
            boxes, labels = entry[0], entry[-1]
            for j, (box, label) in enumerate(zip(boxes, labels)):
                w, h = float(box[2] - box[0]), float(box[3] - box[1])
                a = {"id": len(out) + 1, "image_id": i + 1, "category_id": int(label) + 1,
                     "bbox": [float(box[0]), float(box[1]), w, h], "area": w * h, "iscrowd": 0}
                if with_scores:
                    a["score"] = float(entry[1][j])
                out.append(a)
        return out

    # pycocotools reports progress with print(); keep library output clean.
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt, coco_dt = COCO(), COCO()
        coco_gt.dataset = {"images": images, "categories": categories, "annotations": anns(gts, False)}
        coco_dt.dataset = {"images": images, "categories": categories, "annotations": anns(preds, True)}
        coco_gt.createIndex()
        coco_dt.createIndex()
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {k: (float(v) * 100.0 if v >= 0 else -1.0) for k, v in zip(COCO_KEYS, ev.stats[:6])}


def evaluate(predictions: Sequence, ground_truth: Sequence, classes: Sequence[str]) -> dict:
    """COCO metrics (mAP, AP50, AP75, AP_small/medium/large) + VOC_AP50, per_class_AP50, pr_curves,
    how true objects score (`true_object_scores`), the best-F1 score threshold (`best_f1_threshold`),
    how well scores estimate precision (`score_calibration`) and agnostic_AP50 (VOC AP50 with every label one class: localization alone).

    VOC_AP50 is the mean over classes that have ground truth; a class without ground truth gets
    per_class_AP50 = -1 and empty curves. With no ground truth at all every number is 0.
    """
    if len(predictions) != len(ground_truth):
        raise ValueError(f"{len(predictions)} prediction entries for {len(ground_truth)} images")
    preds = [_as_pred(p) for p in predictions]
    gts = [_as_gt(g) for g in ground_truth]
    n = len(classes)
    for lab in [p[2] for p in preds] + [g[1] for g in gts]:
        if lab.size and (lab.min() < 0 or lab.max() >= n):
            raise ValueError(f"label out of range 0..{n - 1}: {lab.min()}..{lab.max()}")

    per_class: dict[str, float] = {}
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    aps, pooled, total = [], [], 0
    for c, name in enumerate(classes):
        recall, precision, npos, scores, tp = _voc_class(preds, gts, c, 0.5)
        pooled.append((scores, tp))
        total += npos
        if npos == 0:
            per_class[name], curves[name] = -1.0, (np.zeros(0), np.zeros(0))
            continue
        ap = voc_ap(recall, precision) * 100.0
        per_class[name], curves[name] = ap, (recall, precision)
        aps.append(ap)

    if aps:
        metrics = _coco_metrics(preds, gts, n)
    else:  # nothing to find: COCOeval would give -1 everywhere; report zeros instead
        metrics = dict.fromkeys(COCO_KEYS, 0.0)
    metrics["VOC_AP50"] = float(np.mean(aps)) if aps else 0.0
    metrics.update(true_object_scores(preds, gts))
    scores, tp = np.concatenate([p[0] for p in pooled]), np.concatenate([p[1] for p in pooled])
    metrics.update(best_f1_threshold(scores, tp, total))
    metrics.update(score_calibration(scores, tp))
    # localization alone: every box one class (the same detections, so duplicates across classes count)
    agnostic = [(b, sc, np.zeros_like(lab)) for b, sc, lab in preds]
    recall, precision, npos, _, _ = _voc_class(agnostic, [(b, np.zeros_like(lab)) for b, lab in gts], 0, 0.5)
    metrics["agnostic_AP50"] = voc_ap(recall, precision) * 100.0 if npos else 0.0
    metrics["per_class_AP50"] = per_class
    metrics["pr_curves"] = curves
    return metrics


def metrics_to_json(metrics: dict) -> dict:
    """The metrics without the (bulky) PR curves, ready for json."""
    return {k: v for k, v in metrics.items() if k != "pr_curves"}


def save_metrics(metrics: dict, path: str | os.PathLike) -> str:
    """Write metrics_to_json(metrics) atomically."""
    return write_json_atomic(metrics_to_json(metrics), path)


def plot_pr(metrics: dict, path: str | os.PathLike, title: str = "") -> str:
    """Precision-recall curves (one per class with ground truth) to a PNG, written atomically."""
    # The object-oriented API with the Agg canvas: no pyplot, no global backend switch, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(7, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for name, (recall, precision) in metrics["pr_curves"].items():
        ap = metrics["per_class_AP50"].get(name, -1.0)
        if ap < 0 or len(recall) == 0:
            if ap >= 0:  # GT but no detections: still list it, AP 0
                ax.plot([], [], label=f"{name} (AP50 {ap:.1f})")
            continue
        # Draw the monotone precision envelope, the curve whose area is the VOC AP in the legend.
        envelope = np.maximum.accumulate(precision[::-1])[::-1]
        ax.plot(np.concatenate([[0.0], recall]), np.concatenate([[envelope[0]], envelope]),
                drawstyle="steps-pre", linewidth=1.2, label=f"{name} (AP50 {ap:.1f})")
    handles, labels = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color="none"))
    labels.append(f"mean: VOC AP50 {metrics['VOC_AP50']:.1f}, COCO AP50 {metrics['AP50']:.1f}, "
                  f"mAP {metrics['mAP']:.1f}")
    _unit_axes(ax, "Recall", "Precision", title)
    ax.legend(handles, labels, loc="best", fontsize="small")
    return _save_png(fig, path)


def plot_reliability(metrics: dict, path: str | os.PathLike, title: str = "") -> str:
    """The reliability diagram to a PNG, written atomically: per score bin, the share of detections that
    are true against their mean score (the diagonal is a calibrated score), each point labelled with its count."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    rows = np.asarray(metrics["reliability"], dtype=np.float64).reshape(-1, 3)
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="calibrated")
    if len(rows):
        ax.plot(rows[:, 0], rows[:, 1], marker="o", label=f"detections (D-ECE {metrics['calibration_error']:.1f} %)")
        for score, precision, count in rows:
            ax.annotate(f"{int(count)}", (score, precision), textcoords="offset points", xytext=(4, -10),
                        fontsize="x-small", color="0.4")
    ax.axvline(metrics["score_threshold"], color="tab:red", linewidth=1,
               label=f"best-F1 threshold {metrics['score_threshold']:.2f}")
    _unit_axes(ax, "Score (bin mean)", "Share of true detections (IoU >= 0.5)", title)
    ax.legend(loc="upper left", fontsize="small")
    return _save_png(fig, path)


def _unit_axes(ax, xlabel: str, ylabel: str, title: str) -> None:
    """Both plots' frame: the unit square (a little headroom above 1), labels, a light grid, the title."""
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if title:
        ax.set_title(title)


def _save_png(fig, path) -> str:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return write_bytes_atomic(buf.getvalue(), path)
