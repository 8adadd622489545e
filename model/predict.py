"""Run a PyTorch model on images: letterbox, forward, CenterNet decode, boxes in image coordinates."""

from __future__ import annotations

import numpy as np
import torch

from codenet.host.decode import decode, to_image_coords
from codenet.host.preprocess import letterbox_image
from codenet.model.network import split_output


@torch.no_grad()
def predict(model, images, batch_size: int = 16, score_threshold: float = 0.01, top_k: int = 100):
    """images: list of HxWx3 uint8 -> list of (boxes, scores, labels) per image. `score_threshold` is on
    raw scores: evaluation's floor, the same detections whether or not the model carries a calibration
    (`score_calibration`, from its file's metadata), which maps their scores as its bundle's detector does."""
    model.eval()
    calibration = getattr(model, "score_calibration", None)
    size, stride, nc = model.cfg.input_size, model.cfg.output_stride, model.cfg.num_classes
    results = []
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size]
        boxed = [letterbox_image(im, size) for im in chunk]
        device = next(model.parameters()).device
        x = torch.from_numpy(np.stack([b[0] for b in boxed])).permute(0, 3, 1, 2).float().to(device)
        hm, wh, off = (t.cpu().numpy() for t in split_output(model(x), nc))
        for i, (im, (_, (scale, pad_x, pad_y))) in enumerate(zip(chunk, boxed)):
            boxes, scores, labels = decode(hm[i], wh[i], off[i], top_k=top_k,
                                           score_threshold=score_threshold, output_stride=stride)
            if calibration is not None:
                scores = calibration(scores)
            boxes = to_image_coords(boxes, scale, pad_x, pad_y, im.shape[1], im.shape[0])
            results.append((boxes, scores, labels))
    return results


def evaluate_model(model, dataset, out_dir=None, progress: bool = True, batch_size: int = 16) -> dict:
    """mAP / AP50 of `model` on `dataset`; with `out_dir`, also metrics.json, pr.png and reliability.png there."""
    from pathlib import Path

    from codenet.host.io import write_json_atomic
    from codenet.model.evaluate import evaluate, plot_pr, plot_reliability

    indices = range(len(dataset))
    if progress:
        from tqdm import tqdm

        indices = tqdm(indices, desc="evaluate", leave=False, dynamic_ncols=True)
    items = [dataset[i] for i in indices]
    preds = predict(model, [it[0] for it in items], batch_size=batch_size)
    truth = [(it[1], it[2]) for it in items]
    metrics = evaluate(preds, truth, dataset.classes)
    if out_dir is not None:
        out_dir = Path(out_dir)
        title = f"{model.cfg.name} on {getattr(dataset, 'name', 'data')}"
        plot_pr(metrics, out_dir / "pr.png", title=title)
        plot_reliability(metrics, out_dir / "reliability.png", title=title)
        write_json_atomic({k: v for k, v in metrics.items() if k != "pr_curves"}, out_dir / "metrics.json")
    return metrics
