"""The integer arithmetic every 8-bit activation uses, and its straight-through training form.

Hardware contract (design.md section 4): an activation after a conv is
    q = clip((acc * M_c + B_c) >> S_c, lo, hi)
with acc the integer accumulator, per-channel integers M_c, B_c, S_c, rounding half up (folded into
B_c). Training computes exactly these integers in the forward pass and lets the gradient through the
real-valued affine map it approximates, so the trained model is the deployed model.
"""

from __future__ import annotations

import torch

#: magnitude bits of the multiplier M (|M| < 2^MULT_BITS): with acc < 2^23, acc*M stays < 2^53
MULT_BITS = 14
MAX_SHIFT = 40


def dyadic(m: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Real per-channel y = acc*m + b -> integers (M, B, S) with floor((acc*M + B) / 2^S) = round-half-up(y).

    S is chosen per channel so that 2^(MULT_BITS-1) <= |M| < 2^MULT_BITS keeps 14 bits of the scale.
    """
    m = m.detach().double()
    b = b.detach().double()
    mag = m.abs().clamp_min(1e-30)
    shift = (MULT_BITS - 1 - torch.floor(torch.log2(mag))).clamp(0, MAX_SHIFT)
    shift = torch.where(m == 0, torch.zeros_like(shift), shift)
    scale = torch.exp2(shift)
    mult = torch.round(m * scale)
    # the half for round-half-up; with S = 0 there is nothing to round
    half = torch.where(shift > 0, torch.exp2(shift - 1), torch.zeros_like(shift))
    bias = torch.round(b * scale) + half
    return mult.to(torch.int64), bias.to(torch.int64), shift.to(torch.int64)


def requantize_int(acc: torch.Tensor, mult, bias, shift, lo: int, hi: int) -> torch.Tensor:
    """The hardware's integer requantization on an (N, C, H, W) accumulator holding exact integers."""
    view = (1, -1, 1, 1)
    a = acc.detach().round().to(torch.int64)
    y = a * mult.view(view) + bias.view(view)
    y = torch.div(y, torch.pow(2, shift).view(view), rounding_mode="floor")
    return y.clamp(lo, hi).to(acc.dtype)


def requantize(acc: torch.Tensor, m: torch.Tensor, b: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    """Integer-exact forward, straight-through backward of clamp(acc*m + b, lo, hi) (per channel m, b)."""
    view = (1, -1, 1, 1)
    real = torch.clamp(acc * m.view(view) + b.view(view), lo, hi)
    exact = requantize_int(acc, *dyadic(m, b), lo, hi)
    return real + (exact - real).detach()
