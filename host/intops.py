"""The integer semantics of every layer, numpy only (NHWC). The golden model of the hardware.

Activations are uint8 codes; accumulators are exact integers. Convolutions multiply in float32 via
BLAS, which is exact while every partial sum stays below 2^24 (the bundle checks the bound per
layer, `acc_bound`) and otherwise in float64 (exact below 2^53).
"""

from __future__ import annotations

import numpy as np

EXACT_F32 = 2 ** 24


def acc_bound(weight: np.ndarray, in_max: int = 255) -> int:
    """Largest |accumulator| a layer can reach: sum of |w| over one output's taps times the input max."""
    w = np.abs(weight.astype(np.int64)).reshape(weight.shape[0], -1)
    return int(w.sum(axis=1).max()) * in_max


def _dtype(weight) -> type:
    return np.float32 if acc_bound(weight) < EXACT_F32 else np.float64


def _pad(x, pad, value=0):
    return np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), constant_values=value) if pad else x


def _tap(xp, ky, kx, stride, dilation, ho, wo):
    """The (N, Ho, Wo, C) slice of padded input that tap (ky, kx) reads for every output pixel."""
    y0, x0 = ky * dilation, kx * dilation
    return xp[:, y0:y0 + stride * (ho - 1) + 1:stride, x0:x0 + stride * (wo - 1) + 1:stride, :]


def conv2d(x, weight, stride=1, pad=0, dilation=1, groups=1) -> np.ndarray:
    """x (N,H,W,Cin) integer codes, weight (Cout, Cin/groups, k, k) integers -> accumulator (N,Ho,Wo,Cout).

    groups is 1 (dense) or Cin == Cout (depthwise); the result holds exact integers.
    """
    n, h, w, cin = x.shape
    cout, cpg, k, _ = weight.shape
    dt = _dtype(weight)
    ho = (h + 2 * pad - dilation * (k - 1) - 1) // stride + 1
    wo = (w + 2 * pad - dilation * (k - 1) - 1) // stride + 1
    xp = _pad(x.astype(dt, copy=False), pad)
    if groups == 1:
        # im2col: taps in (ky, kx, cin) order against the weight in the same order
        cols = np.concatenate([_tap(xp, ky, kx, stride, dilation, ho, wo) for ky in range(k) for kx in range(k)],
                              axis=-1)
        wmat = weight.transpose(2, 3, 1, 0).reshape(k * k * cin, cout).astype(dt)
        return (cols.reshape(-1, k * k * cin) @ wmat).reshape(n, ho, wo, cout)
    if groups != cin or cout != cin or cpg != 1:
        raise ValueError(f"unsupported grouped conv: groups={groups}, weight {weight.shape}, input {cin} channels")
    acc = np.zeros((n, ho, wo, cout), dt)
    wt = weight[:, 0].astype(dt)
    for ky in range(k):
        for kx in range(k):
            acc += _tap(xp, ky, kx, stride, dilation, ho, wo) * wt[:, ky, kx]
    return acc


def deformable_dw(x, dilation, weight, bound) -> np.ndarray:
    """Bounded deformable depthwise 3x3: pixel p reads x[p + d(p) * k], k in {-1,0,1}^2, 0 outside.

    x (N,H,W,C) codes, dilation (N,H,W) integers in 1..bound, weight (C,1,3,3) -> accumulator (N,H,W,C).
    """
    n, h, w, c = x.shape
    dt = _dtype(weight)
    wt = weight[:, 0].astype(dt)
    xp = _pad(x.astype(dt, copy=False), bound)
    acc = np.zeros((n, h, w, c), dt)
    for d in range(1, bound + 1):
        mask = dilation == d
        if not mask.any():
            continue
        part = np.zeros((n, h, w, c), dt)
        for ky in range(3):
            for kx in range(3):
                y0, x0 = bound + (ky - 1) * d, bound + (kx - 1) * d
                part += xp[:, y0:y0 + h, x0:x0 + w, :] * wt[:, ky, kx]
        acc += part * mask[..., None]
    return acc


def requant(acc, mult, bias, shift, lo, hi) -> np.ndarray:
    """clip((acc * M + B) >> S, lo, hi) per channel (last axis), in int64: the 8-bit activation."""
    a = np.asarray(acc).astype(np.int64)
    y = np.right_shift(a * mult.astype(np.int64) + bias.astype(np.int64), shift.astype(np.int64))
    return np.clip(y, lo, hi).astype(np.uint8 if 0 <= lo and hi <= 255 else np.int64)


def upsample_nearest(x, factor: int = 2) -> np.ndarray:
    return np.repeat(np.repeat(x, factor, axis=1), factor, axis=2)
