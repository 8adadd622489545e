"""The FINN flow's step list: QONNX + model card -> bundle, each step's graph saved beside the QONNX file.

QONNX -> FINN's integer graph with our layers as single nodes (streamline) -> FINN HW layers
(to_hw_layers) -> folded (apply_folding) -> the bundle; then the folded graph specialized to our HLS
ops (specialized.onnx), what FINN's cppsim and hw_codegen take. Sets what FINN needs itself (a build
dir, a stand-in XILINX_VIVADO for the builder's bookkeeping, no XSI simulator), so no user
environment variables are needed.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

from codenet.host.io import write_json_atomic
from codenet.overlay.estimate.folding import apply_folding
from codenet.overlay.flow.bundle_writer import write_bundle


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

    from codenet.overlay.transforms.absorb import AbsorbDeformable, AbsorbDyadicRequant

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

    from codenet.overlay.transforms.nhwc import MakeChannelwiseOpsNHWC
    from codenet.overlay.transforms.to_hw import InferBoundedDeformableDW, InferDyadicRequantLayer

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


#: (name of the saved graph, step): QONNX -> FINN integer graph -> FINN HW layers -> folded
STEPS = (("streamlined", streamline), ("hw_layers", to_hw_layers), ("folded", apply_folding))


def build_bundle(qonnx_path, card: dict, bundle_dir, folding: dict | None = None) -> dict:
    """Run STEPS on the QONNX file, write the bundle from the folded graph, save specialized.onnx;
    returns the bundle's manifest."""
    from codenet.overlay.codegen.specialize import specialize

    out = Path(qonnx_path).parent
    model, seconds = str(qonnx_path), {}
    for name, step in STEPS:
        t = time.perf_counter()
        model = step(model, folding) if step is apply_folding else step(model)
        seconds[name] = round(time.perf_counter() - t, 2)
        model.save(str(out / f"{name}.onnx"))
    manifest = write_bundle(model, card, bundle_dir)  # the bundle: HW layers, as the simulator runs them
    t = time.perf_counter()
    specialize(model).save(str(out / "specialized.onnx"))
    seconds["specialized"] = round(time.perf_counter() - t, 2)
    write_json_atomic(seconds, out / "time_per_step.json")
    return manifest
