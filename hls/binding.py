"""How each kernel's parameters are laid out in its memories: written once, read by code generation
(overlay/codegen/hls_ops.py packs these lanes into params.h) and by the C simulation (hls/csim.py hands them
to the testbench, which packs them word by word in the same order). numpy only.

Each function returns integer lanes shaped as the kernel's array: (..., words, lanes per word); word w's
lane p sits in bits p*BITS.. of the word (FINN's packing).
"""

from __future__ import annotations

import numpy as np


def mvau_lanes(weight, simd: int, pe: int) -> np.ndarray:
    """weight (MW, MH) -> (PE, NF*SF, SIMD): weights[pe][nf*SF + sf] lane s is the weight of input
    sf*SIMD+s to output nf*PE+pe (codenet::mvau)."""
    mw, mh = weight.shape
    w = np.asarray(weight, dtype=np.int64)
    return w.reshape(mw // simd, simd, mh // pe, pe).transpose(3, 2, 0, 1).reshape(pe, -1, simd)


def vvau_lanes(weight, pe: int) -> np.ndarray:
    """weight (C, 1, K, K) -> (K*K*CF, PE): weights[t*CF + cf] lane pe is channel cf*PE+pe at tap t
    (codenet::vvau)."""
    c, _, k, _ = weight.shape
    w = np.asarray(weight, dtype=np.int64)
    return w.reshape(c // pe, pe, k * k).transpose(2, 0, 1).reshape(-1, pe)


def deformable_dw_lanes(weight, pe: int) -> np.ndarray:
    """weight (C, 1, 3, 3) -> (CF*9, PE): weights[cf*9 + t] lane pe is channel cf*PE+pe at tap t
    (codenet::deformable_dw: a pixel's channel group takes its 9 taps in a row)."""
    c = weight.shape[0]
    w = np.asarray(weight, dtype=np.int64)
    return w.reshape(c // pe, pe, 9).transpose(0, 2, 1).reshape(-1, pe)


def requant_lanes(values, pe: int) -> np.ndarray:
    """per-channel values (C,) -> (PE, CF): [pe][cf] is channel cf*PE+pe (codenet::dyadic_requant)."""
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    return v.reshape(-1, pe).T
