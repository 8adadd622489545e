"""Passes that turn the exported integer blocks into single nodes (our custom ops).

The export writes each requantization as Cast(double) -> Mul(M) -> Add(B) -> Mul(2^-S) -> Floor ->
Clip -> Cast(float), and the deformable depthwise conv as one Conv per dilation, masked by
Equal(d, k) and summed. FINN's streamlining knows neither; these passes find the exact patterns
and replace them by `DyadicRequant` and `BoundedDeformableConv` (codenet.overlay.ops.general).
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper
from qonnx.transformation.base import Transformation

from codenet.overlay.ops.general import DOMAIN


def _single_consumer(model, tensor, op_type):
    consumers = model.find_consumers(tensor)
    if consumers is None or len(consumers) != 1 or consumers[0].op_type != op_type:
        return None
    return consumers[0]


def _const(model, node, index=1):
    return model.get_initializer(node.input[index]) if len(node.input) > index else None


def _cast_to(node) -> int:
    return next(a.i for a in node.attribute if a.name == "to")


class AbsorbDyadicRequant(Transformation):
    """Cast(double) Mul Add Mul Floor Clip Cast(float) -> DyadicRequant(acc, M, B, S) with int64 constants."""

    def apply(self, model):
        for start in list(model.graph.node):
            if start.op_type != "Cast" or _cast_to(start) != TensorProto.DOUBLE:
                continue
            chain, node = [start], start
            for op in ("Mul", "Add", "Mul", "Floor", "Clip", "Cast"):
                node = _single_consumer(model, node.output[0], op)
                if node is None:
                    break
                chain.append(node)
            if node is None or _cast_to(chain[-1]) != TensorProto.FLOAT:
                continue
            _, mul, add, inv, _, clip, end = chain
            mult, bias, inv_shift = (_const(model, n) for n in (mul, add, inv))
            lo, hi = _const(model, clip, 1), _const(model, clip, 2)
            if any(v is None for v in (mult, bias, inv_shift, lo, hi)):
                continue
            # 2^-S read exactly from the float's exponent (a vectorized log2 may be an ulp off)
            mantissa, exponent = np.frexp(inv_shift.astype(np.float64).reshape(-1))
            if not np.all(mantissa == 0.5):
                continue  # not a power of two: not our requantization
            shift = 1 - exponent.astype(np.int64)
            name = start.name.replace("Cast", "DyadicRequant") or f"Requant_{len(model.graph.node)}"
            consts = {}
            for key, value in (("mult", mult), ("bias", bias), ("shift", shift)):
                consts[key] = model.make_new_valueinfo_name()
                model.set_initializer(consts[key], np.round(np.asarray(value, np.float64).reshape(-1)).astype(np.int64))
            new = helper.make_node("DyadicRequant", [start.input[0], consts["mult"], consts["bias"], consts["shift"]],
                                   [end.output[0]], name=name, domain=DOMAIN, lo=int(lo), hi=int(hi))
            index = list(model.graph.node).index(start)
            for n in chain:
                model.graph.node.remove(n)
            model.graph.node.insert(index, new)
        return model, False


class AbsorbDeformable(Transformation):
    """sum_k Cast(Equal(d, k)) * Conv_k(x, W, dilation k) -> BoundedDeformableConv(x, d, W)."""

    def apply(self, model):
        groups = {}
        for eq in model.graph.node:
            if eq.op_type == "Equal" and _const(model, eq) is not None:
                groups.setdefault(eq.input[0], []).append(eq)
        for d_tensor, equals in groups.items():
            taps = {}
            members = []
            for eq in equals:
                k = int(_const(model, eq).reshape(-1)[0])
                cast = _single_consumer(model, eq.output[0], "Cast")
                mul = cast and _single_consumer(model, cast.output[0], "Mul")
                if mul is None:
                    break
                conv_out = next(i for i in mul.input if i != cast.output[0])
                conv = model.find_producer(conv_out)
                if conv is None or conv.op_type != "Conv":
                    break
                taps[k] = (conv, mul)
                members += [eq, cast, mul, conv]
            bound = len(equals)
            if sorted(taps) != list(range(1, bound + 1)):
                continue
            # the sum: a chain of Adds over the masked taps
            pending = {mul.output[0] for _, mul in taps.values()}
            adds, frontier = [], None
            while pending:
                add = next((n for n in model.graph.node if n.op_type == "Add" and n not in adds
                            and set(n.input) & (pending | ({frontier} if frontier else set()))), None)
                if add is None:
                    break
                adds.append(add)
                pending -= set(add.input)
                frontier = add.output[0]
            if pending or not adds:
                continue
            conv1 = taps[1][0]
            x, weight = conv1.input[0], conv1.input[1]
            new = helper.make_node("BoundedDeformableConv", [x, d_tensor, weight], [adds[-1].output[0]],
                                   name=conv1.name.replace("Conv", "BoundedDeformableConv"), domain=DOMAIN,
                                   bound=bound)
            index = min(list(model.graph.node).index(n) for n in members + adds)
            for n in members + adds:
                model.graph.node.remove(n)
            model.graph.node.insert(index, new)
            return model, True  # one group per pass: the node list changed
        return model, False
