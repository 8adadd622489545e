"""The integer arithmetic every 8-bit activation uses, and its straight-through training form.

Hardware contract (design.md section 4): an activation after a conv is
    q = clip((acc * M_c + B_c) >> S_c, lo, hi)
with acc the integer accumulator, per-channel integers M_c, B_c, S_c, rounding half up (folded into
B_c). Training computes exactly these integers in the forward pass and lets the gradient through the
real-valued affine map it approximates, so the trained model is the deployed model.

The integers are derived in plain Python floats (IEEE float64): +, -, *, /, sqrt are correctly
rounded there and nothing is vectorized, fused or reordered, so every machine derives the same
integers from the same parameters. torch's float32 kernels are not: its sqrt differs by one ulp
between CPUs, which moved biases by up to 2^S ulp.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

#: magnitude bits of the multiplier M (|M| < 2^MULT_BITS): with acc < 2^23, acc*M stays < 2^53
MULT_BITS = 14
MAX_SHIFT = 40


def floats(values) -> list[float]:
    """A tensor or sequence -> Python floats (float32 to float64 is exact)."""
    if isinstance(values, torch.Tensor):
        return values.detach().double().cpu().reshape(-1).tolist()
    if isinstance(values, Iterable):
        return [float(v) for v in values]
    return [float(values)]


def dyadic_channel(m: float, b: float) -> tuple[int, int, int]:
    """Real y = acc*m + b -> integers (M, B, S) with floor((acc*M + B) / 2^S) = round-half-up(y).

    S makes 2^(MULT_BITS-1) <= |M| < 2^MULT_BITS: 14 bits of the scale. frexp gives the exponent
    exactly (log2 from a math library may be an ulp off at a power of two); scaling by 2^S is exact.
    """
    if m == 0.0:
        return 0, round(b), 0
    _, exp = math.frexp(abs(m))  # |m| = f * 2^exp, 0.5 <= f < 1: floor(log2 |m|) = exp - 1
    shift = min(max(MULT_BITS - exp, 0), MAX_SHIFT)
    mult = round(math.ldexp(m, shift))  # round half to even, as torch.round
    half = 1 << (shift - 1) if shift > 0 else 0  # the half for round-half-up; none with S = 0
    return mult, round(math.ldexp(b, shift)) + half, shift


def dyadic(m, b) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-channel real (m, b) (tensors or float sequences) -> int64 tensors (M, B, S)."""
    ms, bs = floats(m), floats(b)
    if len(bs) == 1 and len(ms) > 1:
        bs = bs * len(ms)
    rows = [dyadic_channel(mc, bc) for mc, bc in zip(ms, bs, strict=True)]
    return tuple(torch.tensor(col, dtype=torch.int64) for col in zip(*rows))


def requantize_int(acc: torch.Tensor, mult, bias, shift, lo: int, hi: int) -> torch.Tensor:
    """The hardware's integer requantization on an (N, C, H, W) accumulator holding exact integers."""
    view = (1, -1, 1, 1)
    a = acc.detach().round().to(torch.int64)
    mult, bias, shift = (t.to(a.device) for t in (mult, bias, shift))
    y = a * mult.view(view) + bias.view(view)
    y = torch.div(y, torch.pow(2, shift).view(view), rounding_mode="floor")
    return y.clamp(lo, hi).to(acc.dtype)


def requantize(acc: torch.Tensor, m: torch.Tensor, b: torch.Tensor, lo: int, hi: int,
               integers=None) -> torch.Tensor:
    """Integer-exact forward, straight-through backward of clamp(acc*m + b, lo, hi) (per channel m, b).

    `integers`: the layer's (M, B, S); by default derived from (m, b) here.
    """
    view = (1, -1, 1, 1)
    real = torch.clamp(acc * m.view(view) + b.view(view), lo, hi)
    exact = requantize_int(acc, *(integers if integers is not None else dyadic(m, b)), lo, hi)
    return real + (exact - real).detach()
