"""FINN's packing of tensors into DMA buffers, in numpy alone (the board cannot install qonnx).

A folded tensor (..., fold) of a FINN datatype becomes bytes (..., ceil(fold * bits / 8)): each row of
`fold` elements is one integer with element 0 in the least significant bits, written little-endian.
That is finn-plus-driver's finnpy_to_packed_bytearray(x, dt, reverse_inner=True, reverse_endian=True)
and packed_bytearray_to_finnpy(..., reverse_inner=True, reverse_endian=True), which its Zynq driver
uses for the IODMA buffers (tests/host/test_packing.py checks the two byte for byte).
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["pack", "packed_width", "parse_datatype", "unpack"]

MAX_BITS = 62  # values and masks fit int64/uint64 arithmetic


def parse_datatype(name: str) -> tuple[int, bool]:
    """FINN datatype name -> (bits, signed): "UINT8" -> (8, False), "INT20" -> (20, True), "BINARY" -> (1, False)."""
    if name == "BINARY":
        return 1, False
    m = re.fullmatch(r"(U?)INT(\d+)", name)
    if not m or not 1 <= int(m.group(2)) <= MAX_BITS:
        raise ValueError(f"unsupported FINN datatype {name!r} (integers of 1..{MAX_BITS} bits)")
    return int(m.group(2)), not m.group(1)


def packed_width(fold: int, datatype: str) -> int:
    """Bytes per packed row of `fold` elements (the stream word rounded up to whole bytes)."""
    bits, _ = parse_datatype(datatype)
    return (fold * bits + 7) // 8


def _range(bits: int, signed: bool) -> tuple[int, int]:
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def pack(x, datatype: str) -> np.ndarray:
    """Integer array (..., fold) -> uint8 (..., packed_width(fold)); values outside the datatype raise."""
    bits, signed = parse_datatype(datatype)
    x = np.asarray(x)
    if x.ndim == 0 or not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"pack needs an integer array with a fold axis, got {x.dtype} {x.shape}")
    lo, hi = _range(bits, signed)
    if x.size and (int(x.min()) < lo or int(x.max()) > hi):
        raise ValueError(f"values outside {datatype} ({lo}..{hi})")
    fold, nbytes = x.shape[-1], packed_width(x.shape[-1], datatype)
    if bits in (8, 16, 32):  # a native little-endian container holds exactly the packed bytes
        native = np.ascontiguousarray(x, dtype=f"<{'i' if signed else 'u'}{bits // 8}")
        return native.view(np.uint8).reshape(*x.shape[:-1], nbytes)
    if bits % 8 == 0:
        # whole bytes: the little-endian two's complement bytes of each element, truncated, in order
        b = x.astype("<i8").view(np.uint8).reshape(*x.shape, 8)[..., : bits // 8]
        return np.ascontiguousarray(b.reshape(*x.shape[:-1], nbytes))
    u = x.astype(np.int64).astype(np.uint64) & np.uint64((1 << bits) - 1)
    bitplanes = ((u[..., None] >> np.arange(bits, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
    flat = bitplanes.reshape(*x.shape[:-1], fold * bits)
    pad = np.zeros((*x.shape[:-1], nbytes * 8 - fold * bits), np.uint8)
    return np.packbits(np.concatenate([flat, pad], axis=-1), axis=-1, bitorder="little")


def unpack(packed, datatype: str, fold: int) -> np.ndarray:
    """uint8 (..., packed_width(fold)) -> integers (..., fold): int32 where they fit, else int64."""
    bits, signed = parse_datatype(datatype)
    packed = np.asarray(packed, dtype=np.uint8)
    nbytes = packed_width(fold, datatype)
    if packed.ndim == 0 or packed.shape[-1] != nbytes:
        raise ValueError(f"packed rows of {fold} x {datatype} are {nbytes} bytes, got shape {packed.shape}")
    lead = packed.shape[:-1]
    lo, hi = _range(bits, signed)
    fits = np.iinfo(np.int32).min <= lo and hi <= np.iinfo(np.int32).max
    if bits in (8, 16, 32):
        native = np.ascontiguousarray(packed).view(f"<{'i' if signed else 'u'}{bits // 8}").reshape(*lead, fold)
        return native.astype(np.int32 if fits else np.int64)
    if bits % 8 == 0:
        b = packed.reshape(*lead, fold, bits // 8).astype(np.uint64)
        u = (b << (np.arange(bits // 8, dtype=np.uint64) * np.uint64(8))).sum(axis=-1, dtype=np.uint64)
    else:
        planes = np.unpackbits(packed, axis=-1, bitorder="little")[..., : fold * bits]
        planes = planes.reshape(*lead, fold, bits).astype(np.uint64)
        u = (planes << np.arange(bits, dtype=np.uint64)).sum(axis=-1, dtype=np.uint64)
    v = u.astype(np.int64)
    if signed:
        v = np.where(v >= (1 << (bits - 1)), v - (1 << bits), v)
    return v.astype(np.int32) if fits else v
