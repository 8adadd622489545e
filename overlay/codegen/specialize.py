"""FINN HW layers -> our HLS ops (codegen/hls_ops.py), as FINN's SpecializeLayers does for its own."""

from __future__ import annotations

from codenet.host.errors import CodenetError
from onnx import helper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

# the HLS backend's own code generation: packed streams, one kernel call a start (FINN's hls_vector /
# freerunning styles are finn-hlslib's)
BACKEND_ATTRS = {"cpp_interface": "packed", "hls_style": "ifm_aware"}
EMBEDDED = {"MVAU", "VVAU"}  # weights as a ROM inside the HLS top function


class SpecializeToCodenetHLS(Transformation):
    """Every HW layer -> <op_type>_codenet in FINN's HLS domain, attributes (folding, ram_style) kept;
    a CodenetError naming the layers our kernels cannot implement as configured."""

    def apply(self, model):
        from codenet.overlay.codegen import hls_ops
        from codenet.overlay.ops.hw import HW_DOMAINS

        problems = []
        for index, node in enumerate(list(model.graph.node)):
            if node.domain not in HW_DOMAINS or node.op_type not in hls_ops.SPECIALIZED:
                if node.domain in HW_DOMAINS:
                    problems.append(f"{node.name}: no codenet HLS kernel for {node.op_type}")
                continue
            cls = hls_ops.SPECIALIZED[node.op_type]
            new = helper.make_node(cls.__name__, list(node.input), list(node.output), name=node.name,
                                   domain=hls_ops.HLS_DOMAIN)
            new.attribute.extend(a for a in node.attribute if a.name not in BACKEND_ATTRS)
            op = getCustomOp(new)
            for attr, value in BACKEND_ATTRS.items():
                op.set_nodeattr(attr, value)
            if node.op_type in EMBEDDED:
                op.set_nodeattr("mem_mode", "internal_embedded")
            problems += [f"{node.name}: {p}" for p in op.unsupported()]
            model.graph.node[index].CopyFrom(new)
        if problems:
            raise CodenetError("layers our HLS kernels cannot implement:\n  " + "\n  ".join(problems))
        return model, False


def specialize(model):
    """The folded HW-layer graph (ModelWrapper) -> the same graph with every HW layer one of our HLS ops,
    ready for FINN's PrepareCppSim/CompileCppSim and PrepareIP (step_hw_codegen). Host-side nodes (the
    layout transposes) are left as they are."""
    return model.transform(SpecializeToCodenetHLS())
