"""The FINN flow as a library: QONNX -> FINN's integer graph with our layers as single nodes.

Sets what FINN needs itself (a build dir, a stand-in XILINX_VIVADO for the builder's bookkeeping,
no XSI simulator), so no user environment variables are needed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def prepare_finn(build_dir=None) -> None:
    """Make finn-plus importable and runnable without Vivado: call before importing finn.builder."""
    if build_dir is None:
        build_dir = Path(tempfile.gettempdir()) / "codenet_finn_build"
    Path(build_dir).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("FINN_BUILD_DIR", str(build_dir))
    os.environ.setdefault("XILINX_VIVADO", "/nonexistent/Vivado/2024.2")
    import finn.xsi

    finn.xsi.SimEngine = None  # the builder imports it eagerly; the lazy lookup would demand XSI


def streamline(qonnx_path):
    """QONNX file -> ModelWrapper of the integer graph: Conv, Requant, BoundedDeformableConv, Resize."""
    prepare_finn()
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import (GiveReadableTensorNames, GiveUniqueNodeNames, RemoveUnusedTensors,
                                              SortGraph)
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    from codenet.overlay.absorb import AbsorbDeformable, AbsorbRequant

    model = ModelWrapper(str(qonnx_path))
    model.set_tensor_datatype(model.graph.input[0].name, DataType["UINT8"])
    model = model.transform(ConvertQONNXtoFINN())
    model = model.transform(InferShapes()).transform(FoldConstants())
    model = model.transform(AbsorbRequant()).transform(AbsorbDeformable())
    model = model.transform(SortGraph()).transform(RemoveUnusedTensors())
    model = model.transform(GiveUniqueNodeNames()).transform(GiveReadableTensorNames())
    model = model.transform(InferShapes()).transform(InferDataTypes())
    return model
