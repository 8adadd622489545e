"""CenterNet loss: penalty-reduced focal loss (alpha 2, beta 4) + L1 size (x0.1) + L1 offset."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 2, beta: float = 4) -> torch.Tensor:
    pred = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1).float()
    neg = 1 - pos
    pos_loss = torch.log(pred) * (1 - pred) ** alpha * pos
    neg_loss = torch.log(1 - pred) * pred ** alpha * (1 - target) ** beta * neg
    num_pos = pos.sum()
    return -(pos_loss.sum() + neg_loss.sum()) / num_pos.clamp_min(1)


def gather(feature: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W), (N, K) flat indices -> (N, K, C)."""
    n, c = feature.shape[:2]
    flat = feature.view(n, c, -1).permute(0, 2, 1)
    return flat.gather(1, index.unsqueeze(-1).expand(-1, -1, c))


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).expand_as(pred)
    return F.l1_loss(pred * m, target * m, reduction="sum") / (m.sum() + 1e-4)


def dense_l1(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Weighted L1 over maps (N, C, H, W) with per-cell weights (N, H, W) that sum to 1 per object: the
    mean over the objects `mask` counts and the channels, as masked_l1 over their centres."""
    return ((pred - target).abs() * weight.unsqueeze(1)).sum() / (mask.sum() * pred.shape[1] + 1e-4)


def centernet_loss(heatmap, size, offset, targets, size_weight: float = 0.1):
    """Returns (total, parts) for one batch; `targets` holds the stacked arrays of `targets.py` (with
    box_map and box_weight, the box terms are dense: every cell of an object's Gaussian)."""
    hm = focal_loss(heatmap, targets["heatmap"])
    if "box_weight" in targets:
        wh = dense_l1(size, targets["box_map"][:, :2], targets["box_weight"], targets["mask"])
        off = dense_l1(offset, targets["box_map"][:, 2:], targets["box_weight"], targets["mask"])
    else:
        wh = masked_l1(gather(size, targets["index"]), targets["size"], targets["mask"])
        off = masked_l1(gather(offset, targets["index"]), targets["offset"], targets["mask"])
    total = hm + size_weight * wh + off
    return total, {"heatmap": hm.item(), "size": wh.item(), "offset": off.item()}
