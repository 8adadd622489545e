"""host/packing.py against finn-plus-driver's packing, byte for byte (dev only: the board has neither qonnx
nor finn-plus-driver). The Makefile installs finn-plus-driver 1.6.1 with --no-deps: it pins numpy<2,
while its packing module needs only numpy, bitstring and qonnx, which the dev venv has."""

import json

import numpy as np
import pytest

from codenet.host.packing import pack, packed_width, parse_datatype, unpack

CASES = [("UINT8", (1, 64, 64, 1, 3)), ("UINT8", (2, 4, 4, 3, 1)), ("INT32", (1, 32, 32, 18, 1)),
         ("INT32", (2, 8, 8, 3, 6)), ("INT4", (1, 5, 8)), ("INT4", (3, 7)), ("UINT4", (2, 3, 5)),
         ("INT20", (1, 4, 4, 2, 3)), ("INT24", (2, 6, 3)), ("UINT1", (4, 9)), ("BINARY", (3, 10)),
         ("INT2", (2, 11)), ("UINT16", (3, 5)), ("INT13", (2, 2, 7))]
WIDE = [("UINT31", (2, 3)), ("INT62", (3, 2))]  # past float32's 24 bits: finn-plus-driver is inexact there


def values(datatype, shape, seed=0):
    bits, signed = parse_datatype(datatype)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    x = np.random.default_rng(seed).integers(lo, hi, shape, dtype=np.int64, endpoint=True)
    x.flat[:2] = lo, hi  # the extremes always appear
    return x


@pytest.mark.parametrize("datatype, shape", CASES)
def test_pack_matches_finn_plus_driver(datatype, shape):
    from finn_plus_driver import packing as fpd  # .venv's dev tools (make test): fail, not skip, without it
    from qonnx.core.datatype import DataType

    x = values(datatype, shape)
    bits, signed = parse_datatype(datatype)
    if bits in (8, 16, 32):  # a native container: finn-plus-driver's byte-view path, exact
        container = np.dtype(f"{'i' if signed else 'u'}{bits // 8}")
    elif bits <= 24:  # its general path goes through float32, exact up to 24 bits
        container = np.float32
    else:
        raise AssertionError(f"{datatype}: finn-plus-driver is exact only in native containers or <= 24 bits")
    theirs = fpd.finnpy_to_packed_bytearray(x.astype(container), DataType[datatype], reverse_inner=True,
                                            reverse_endian=True)
    ours = pack(x, datatype)
    assert ours.dtype == np.uint8 and ours.shape == theirs.shape and ours.tobytes() == theirs.tobytes()
    if bits <= 24:  # its unpacking returns float32: exact up to 24 bits (ours is exact for INT32 too)
        back = fpd.packed_bytearray_to_finnpy(ours, DataType[datatype], shape, reverse_inner=True,
                                              reverse_endian=True)
        assert np.array_equal(back.astype(np.int64), x)
        assert np.array_equal(unpack(ours, datatype, shape[-1]), back.astype(np.int64))


@pytest.mark.parametrize("datatype, shape", CASES + WIDE)
def test_round_trip(datatype, shape):
    x = values(datatype, shape, seed=1)
    packed = pack(x, datatype)
    assert packed.shape == (*shape[:-1], packed_width(shape[-1], datatype))
    assert np.array_equal(unpack(packed, datatype, shape[-1]), x)


def test_element_zero_in_the_least_significant_bits():
    # deploy.md, part A: finn-plus-driver packs INT4 [-8,-1,0,1,2,3,7,-2] to f8 10 32 e7
    assert pack(np.array([-8, -1, 0, 1, 2, 3, 7, -2]), "INT4").tobytes() == bytes.fromhex("f81032e7")
    assert pack(np.array([[1, -2]]), "INT32").tobytes() == bytes.fromhex("01000000feffffff")


def test_every_datatype_the_bundles_use(tiny_bundle):
    accel = json.loads((tiny_bundle / "manifest.json").read_text())["accelerator"]
    for port in (accel["input"], accel["output"]):
        assert (port["datatype"], tuple(port["folded_shape"])) in CASES
        assert port["packed_shape"][-1] == packed_width(port["folded_shape"][-1], port["datatype"])


@pytest.mark.parametrize("x, datatype, message", [
    (np.array([16]), "INT4", "outside INT4"), (np.array([-1]), "UINT8", "outside UINT8"),
    (np.array([1.5]), "INT4", "integer array"), (np.array([1]), "FLOAT32", "unsupported"),
])
def test_pack_rejects(x, datatype, message):
    with pytest.raises(ValueError, match=message):
        pack(x, datatype)


def test_unpack_rejects_wrong_width():
    with pytest.raises(ValueError, match="are 3 bytes"):
        unpack(np.zeros((2, 4), np.uint8), "UINT8", 3)
