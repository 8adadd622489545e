"""`make bench`: the simulator's frames/s against onnxruntime on the same graph, and the host's costs.

One run, one core (the Makefile pins the BLAS and onnxruntime threads to 1), ratios from that run.
Writes build/bench.json and prints a table.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import warnings
from pathlib import Path

import numpy as np

from codenet.overlay.bench.timing import best_of


def onnxruntime_session(model_path, tmp):
    """The QONNX model with its weight Quant nodes folded (pure ONNX) in onnxruntime, one thread."""
    import onnxruntime as ort
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
    from qonnx.core.modelwrapper import ModelWrapper

    from codenet.overlay.flow.steps import prepare_finn

    prepare_finn()
    folded = Path(tmp) / "folded.onnx"
    ModelWrapper(str(model_path)).transform(ConvertQONNXtoFINN()).save(str(folded))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(folded), opts, providers=["CPUExecutionProvider"])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="W4A8 model file (default: the shipped codenet-s)")
    p.add_argument("--out", default="build/bench.json")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)  # brevitas/qonnx import chatter

    from codenet.model.cli import DEFAULT_MODEL
    from codenet.overlay.bench.host import host_costs

    model = Path(args.model) if args.model else DEFAULT_MODEL
    result = {"machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version(),
                          "numpy": np.__version__, "threads": 1}}
    if model.is_file():
        result.update(model_bench(model))
    else:  # no trained model yet: the host's costs still need none (a synthetic head of codenet-s's shape)
        print(f"{model}: not found, so no simulator/onnxruntime figures; host costs on a synthetic head")
        result.update({"simulator_fps": None, "note": f"{model} not found"})
        from codenet.model.config import load_config

        cfg, _ = load_config("codenet-s")
        result["host"] = host_costs(size=cfg.input_size, num_classes=cfg.num_classes,
                                    stride=cfg.output_stride)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from codenet.host.io import write_json_atomic

    write_json_atomic(result, out)
    if result.get("simulator_fps"):
        size = result["input"][0]
        print(f"simulator      {result['simulator_fps']:7.2f} frames/s (one core, {size}x{size})")
        print(f"onnxruntime    {result['onnxruntime_fps']:7.2f} frames/s (same graph, one thread)")
        print(f"sim / ort      {result['simulator_vs_onnxruntime']:7.2f}x")
    host = result["host"]
    print(f"host costs per frame at {host['input'][0]}x{host['input'][1]} (head: {host['head']}, "
          f"{host['peaks_decoded']} detections):")
    for k, v in host["host_ms"].items():
        print(f"  {k:26s} {v:8.3f} ms")
    print(f"decode vs reference: {host['decode_speedup_vs_reference']:.0f}x faster  -> {out}")
    return 0



def model_bench(model_path) -> dict:
    """The model through export and the FINN flow: simulator vs onnxruntime, and host costs on its head."""
    from codenet.host.detector import Detector
    from codenet.model.data.synthetic import SyntheticDetection
    from codenet.model.export import export
    from codenet.overlay.bench.host import host_costs
    from codenet.overlay.flow.steps import build_bundle

    with tempfile.TemporaryDirectory() as tmp:
        card = export(model_path, tmp)
        build_bundle(Path(tmp) / "model.onnx", card, Path(tmp) / "bundle")
        detector = Detector(Path(tmp) / "bundle")
        size = detector.bundle.input_size
        scenes = SyntheticDetection(4, size=size, seed=7, split="test")
        batch = np.stack([scenes[i][0] for i in range(4)])
        session = onnxruntime_session(Path(tmp) / "model.onnx", tmp)
        name = session.get_inputs()[0].name
        x = batch[:1].transpose(0, 3, 1, 2).astype(np.float32)
        ort_out = session.run(None, {name: x})[0]
        sim_out = detector.run_graph(batch[:1])
        assert np.array_equal(ort_out.astype(np.int32).transpose(0, 2, 3, 1), sim_out), "sim != onnxruntime"
        t_sim = best_of(lambda: detector.run_graph(batch[:1]), repeat=3)
        t_ort = best_of(lambda: session.run(None, {name: x}), repeat=3)
        host = host_costs(size, detector.num_classes, detector.stride, head=detector.head(sim_out[0]),
                          score_threshold=detector.decode_threshold, dequantize=detector.head, accumulators=sim_out)
    return {"input": [size, size, 3], "simulator_fps": 1 / t_sim, "onnxruntime_fps": 1 / t_ort,
            "simulator_vs_onnxruntime": t_ort / t_sim, "host": host}


if __name__ == "__main__":
    raise SystemExit(main())
