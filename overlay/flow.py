"""The FINN flow as a library: QONNX -> FINN's integer graph with our layers as single nodes.

Sets what FINN needs itself (a build dir, a stand-in XILINX_VIVADO for the builder's bookkeeping,
no XSI simulator), so no user environment variables are needed.
"""

from __future__ import annotations

import logging
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
    """QONNX file -> ModelWrapper of the integer graph: Conv, DyadicRequant, BoundedDeformableConv, Resize."""
    prepare_finn()
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import (GiveReadableTensorNames, GiveUniqueNodeNames, RemoveUnusedTensors,
                                              SortGraph)
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    from codenet.overlay.absorb import AbsorbDeformable, AbsorbDyadicRequant

    model = ModelWrapper(str(qonnx_path))
    model.set_tensor_datatype(model.graph.input[0].name, DataType["UINT8"])
    model = model.transform(ConvertQONNXtoFINN())
    model = model.transform(InferShapes()).transform(FoldConstants())
    model = model.transform(AbsorbDyadicRequant()).transform(AbsorbDeformable())
    model = model.transform(SortGraph()).transform(RemoveUnusedTensors())
    model = model.transform(GiveUniqueNodeNames()).transform(GiveReadableTensorNames())
    model = model.transform(InferShapes()).transform(InferDataTypes())
    return model


def to_hw_layers(model):
    """The integer graph -> FINN HW layers, NHWC: FMPadding, ConvolutionInputGenerator, MVAU, VVAU,
    DyadicRequant, BoundedDeformableDW, UpsampleNearestNeighbour, DuplicateStreams; the input and
    output transposes stay outside, on the host."""
    prepare_finn()
    from finn.transformation.fpgadataflow.convert_to_hw.conv_inp_gen import InferConvInpGen
    from finn.transformation.fpgadataflow.convert_to_hw.duplicate_streams import InferDuplicateStreamsLayer
    from finn.transformation.fpgadataflow.convert_to_hw.quantized_matrix_vector_activation import (
        InferQuantizedMatrixVectorActivation)
    from finn.transformation.fpgadataflow.convert_to_hw.upsample import InferUpsample
    from finn.transformation.fpgadataflow.convert_to_hw.vector_vector_activation import InferVectorVectorActivation
    from finn.transformation.streamline.absorb import AbsorbConsecutiveTransposes
    from finn.transformation.streamline.reorder import MakeScaleResizeNHWC
    from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames, SortGraph
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul

    from codenet.overlay.layout import MakeChannelwiseOpsNHWC
    from codenet.overlay.to_hw import InferBoundedDeformableDW, InferDyadicRequantLayer

    model = model.transform(LowerConvsToMatMul())
    reorder_log = logging.getLogger("finn_logger")
    level = reorder_log.level
    reorder_log.setLevel(logging.ERROR)  # later passes find Resize already NHWC and say so
    for _ in range(3):  # each pass exposes transposes the next can cancel
        model = model.transform(MakeChannelwiseOpsNHWC()).transform(AbsorbConsecutiveTransposes())
        model = model.transform(InferDataLayouts()).transform(MakeScaleResizeNHWC())
        model = model.transform(AbsorbConsecutiveTransposes())
    reorder_log.setLevel(level)
    model = model.transform(InferShapes()).transform(InferDataTypes()).transform(InferDataLayouts())
    model = model.transform(InferBoundedDeformableDW())
    for step in (InferConvInpGen(), InferVectorVectorActivation(), InferQuantizedMatrixVectorActivation(),
                 InferUpsample(), InferDyadicRequantLayer(), InferDuplicateStreamsLayer()):
        model = model.transform(step)
    model = model.transform(SortGraph()).transform(GiveUniqueNodeNames()).transform(GiveReadableTensorNames())
    return model.transform(InferShapes()).transform(InferDataTypes())
