"""The integer semantics of every hardware layer, numpy only (NHWC). The golden model of the hardware.

One function per FINN HW layer kind: padding, sliding window, the bounded deformable depthwise conv,
matrix-vector (MVAU), vector-vector (VVAU, depthwise), requantization, nearest upsampling.
Activations are uint8 codes; accumulators are exact integers: the MACs run in float32 through BLAS,
exact while every partial sum stays below 2^24 (`acc_bound` checks this per layer), else in float64.
Windows are laid out (tap, channel), channel fastest, as FINN's sliding-window generator emits them.
"""

from __future__ import annotations

import numpy as np

EXACT_F32 = 2 ** 24


def acc_bound(weight: np.ndarray, in_max: int = 255) -> int:
    """Largest |accumulator| of a layer: the largest sum of |w| feeding one output, times the input max."""
    w = np.abs(np.asarray(weight).astype(np.int64))
    return int(w.reshape(w.shape[0], -1).sum(axis=1).max()) * in_max


def mac_dtype(weight, axis0_is_output: bool = True) -> type:
    w = weight if axis0_is_output else np.asarray(weight).T
    return np.float32 if acc_bound(w) < EXACT_F32 else np.float64


def pad(x, pads, value=0) -> np.ndarray:
    """pads = (top, left, bottom, right), FINN FMPadding's order."""
    top, left, bottom, right = pads
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def sliding_window(x, k: int, stride: int = 1, dilation: int = 1) -> np.ndarray:
    """(N, H, W, C) -> (N, Ho, Wo, k*k*C): every k x k window (no padding), tap-major, channel fastest."""
    n, h, w, c = x.shape
    ho = (h - dilation * (k - 1) - 1) // stride + 1
    wo = (w - dilation * (k - 1) - 1) // stride + 1
    taps = [x[:, ky * dilation:ky * dilation + stride * (ho - 1) + 1:stride,
              kx * dilation:kx * dilation + stride * (wo - 1) + 1:stride, :] for ky in range(k) for kx in range(k)]
    return np.concatenate(taps, axis=-1)


def deformable_window(x, dilation, bound: int) -> np.ndarray:
    """(N, H, W, C), dilation (N, H, W) in 1..bound -> (N, H, W, 9*C): pixel p's taps x[p + d(p)*k],
    k in {-1,0,1}^2, 0 (the activations' zero point) outside the image."""
    n, h, w, c = x.shape
    if dilation.min() < 1 or dilation.max() > bound:
        raise ValueError(f"dilation outside 1..{bound}")
    xp = pad(x, (bound,) * 4)
    out = np.zeros((n, h, w, 9 * c), x.dtype)
    for d in range(1, bound + 1):
        mask = dilation == d
        if mask.any():
            window = sliding_window(xp[:, bound - d:bound + h + d, bound - d:bound + w + d], 3, 1, d)
            out[mask] = window[mask]
    return out


def mvau(windows, weight) -> np.ndarray:
    """Matrix-vector unit: windows (..., MW) times integer weight (MW, MH) -> accumulators (..., MH)."""
    dt = mac_dtype(weight, axis0_is_output=False)
    return windows.astype(dt) @ weight.astype(dt)


def vvau(windows, weight) -> np.ndarray:
    """Vector-vector unit (depthwise): windows (..., k*k*C), weight (C, 1, k, k) -> accumulators (..., C)."""
    c, _, kh, kw = weight.shape
    dt = mac_dtype(weight)
    taps = windows.reshape(*windows.shape[:-1], kh * kw, c).astype(dt)
    return np.einsum("...tc,tc->...c", taps, weight.reshape(c, kh * kw).T.astype(dt))


def requant(acc, mult, bias, shift, lo, hi) -> np.ndarray:
    """clip((acc * M + B) >> S, lo, hi) per channel (last axis), in int64: the 8-bit activation."""
    a = np.asarray(acc).astype(np.int64)
    y = np.right_shift(a * mult.astype(np.int64) + bias.astype(np.int64), shift.astype(np.int64))
    return np.clip(y, lo, hi).astype(np.uint8 if 0 <= lo and hi <= 255 else np.int64)


def upsample_nearest(x, factor: int = 2) -> np.ndarray:
    return np.repeat(np.repeat(x, factor, axis=1), factor, axis=2)


def conv2d(x, weight, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """A whole conv as the hardware computes it: padding, sliding window, then MVAU or VVAU (depthwise)."""
    cout, cpg, k, _ = weight.shape
    windows = sliding_window(pad(x, (padding,) * 4), k, stride, dilation)
    if groups == 1:
        return mvau(windows, weight.transpose(2, 3, 1, 0).reshape(k * k * cpg, cout))
    if groups != x.shape[-1] or cpg != 1 or cout != groups:
        raise ValueError(f"unsupported grouped conv: groups={groups}, weight {weight.shape}")
    return vvau(windows, weight)


def deformable_dw(x, dilation, weight, bound) -> np.ndarray:
    """The bounded deformable depthwise 3x3 (one HW layer, BoundedDeformableDW): x (N, H, W, C), dilation
    (N, H, W) in 1..bound, weight (C, 1, 3, 3) -> accumulators (N, H, W, C), each pixel's taps at its
    own dilation (deformable_window) times the depthwise weights (vvau)."""
    return vvau(deformable_window(x, dilation, bound), weight)
