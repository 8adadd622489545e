"""The host's per-frame costs at the network input size (256x256 for codenet-s), for `make bench`.

Everything the board's CPU does around the accelerator, timed in one run on this machine: letterbox
(a 640x480 camera frame resized, and a frame already at the input size), the pynq backend's packing
of the input and unpacking of the int32 accumulators, dequantizing the head, and decoding it, with
the vectorised decode against the plain-loop reference peak finder (decode_reference) on the same head.
"""

from __future__ import annotations

import numpy as np

from codenet.host.decode import decode, decode_reference
from codenet.host.packing import pack, unpack
from codenet.host.preprocess import letterbox_image
from codenet.overlay.bench.timing import best_of


def synthetic_head(num_classes: int, grid: int, objects: int = 12, seed: int = 0):
    """Head outputs shaped like a trained detector's: low logits with Gaussian peaks at a few objects."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:grid, :grid]
    heat = rng.normal(-6.0, 1.0, (num_classes, grid, grid)).astype(np.float32)
    for _ in range(objects):
        c, y, x, s = rng.integers(num_classes), rng.integers(grid), rng.integers(grid), rng.uniform(1, 4)
        heat[c] = np.maximum(heat[c], 4.0 * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * s * s)) - 2.0)
    size = rng.uniform(2, 20, (2, grid, grid)).astype(np.float32)
    offset = rng.uniform(0, 1, (2, grid, grid)).astype(np.float32)
    return heat, size, offset


def host_costs(size: int, num_classes: int, stride: int, head=None, score_threshold: float = 0.3,
               dequantize=None, accumulators=None) -> dict:
    """Milliseconds per frame of each host stage; `head` (heat, size, offset) defaults to a synthetic one."""
    rng = np.random.default_rng(1)
    grid = size // stride
    camera = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    square = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    heads = head if head is not None else synthetic_head(num_classes, grid)
    acc = accumulators if accumulators is not None else rng.integers(
        -(1 << 31), 1 << 31, (1, grid, grid, num_classes + 4), dtype=np.int64).astype(np.int32)
    packed_out = pack(acc[..., None], "INT32")
    kw = {"score_threshold": score_threshold, "output_stride": stride}
    assert all(np.array_equal(a, b) for a, b in zip(decode(*heads, **kw), decode_reference(*heads, **kw)))
    ms = {
        f"letterbox_640x480_to_{size}": best_of(lambda: letterbox_image(camera, size), number=20),
        f"letterbox_{size}x{size}": best_of(lambda: letterbox_image(square, size), number=50),
        "pack_input_uint8": best_of(lambda: pack(square.reshape(1, size, size, 1, 3), "UINT8"), number=50),
        "unpack_output_int32": best_of(lambda: unpack(packed_out, "INT32", 1), number=20),
        "decode": best_of(lambda: decode(*heads, **kw), number=50),
        "decode_reference": best_of(lambda: decode_reference(*heads, **kw), repeat=3),
    }
    if dequantize is not None:
        ms["dequantize_head"] = best_of(lambda: dequantize(acc[0]), number=50)
    ms = {k: 1e3 * v for k, v in ms.items()}
    return {"input": [size, size, 3], "grid": [grid, grid, num_classes + 4],
            "head": "the model's, on a synthetic scene" if head is not None else "synthetic (Gaussian peaks)",
            "peaks_decoded": len(decode(*heads, **kw)[1]), "host_ms": ms,
            "decode_speedup_vs_reference": ms["decode_reference"] / ms["decode"]}
