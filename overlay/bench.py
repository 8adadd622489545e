"""`make bench`: the simulator's frames/s against onnxruntime on the same graph, and the host's costs.

One run, one core (the Makefile pins the BLAS and onnxruntime threads to 1), ratios from that run.
Writes build/bench.json and prints a table.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def best_of(fn, repeat=5, number=1) -> float:
    """Seconds per call: the best of `repeat` timings of `number` calls (least disturbed by the machine)."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t) / number)
    return best


def onnxruntime_session(model_path, tmp):
    """The QONNX model with its weight Quant nodes folded (pure ONNX) in onnxruntime, one thread."""
    import onnxruntime as ort
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
    from qonnx.core.modelwrapper import ModelWrapper

    from codenet.overlay.flow import prepare_finn

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

    from codenet.host.decode import decode, decode_reference
    from codenet.host.detector import Detector
    from codenet.host.preprocess import letterbox_image
    from codenet.model.cli import DEFAULT_MODEL
    from codenet.model.data.synthetic import SyntheticDetection
    from codenet.model.export import export
    from codenet.overlay.build import build_bundle

    with tempfile.TemporaryDirectory() as tmp:
        card = export(args.model or DEFAULT_MODEL, tmp)
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
        wide = np.concatenate([batch[0], batch[1]], axis=1)
        t_pre = best_of(lambda: letterbox_image(wide, size), number=20)
        heads = detector.head(sim_out[0])
        t_dec = best_of(lambda: decode(*heads, score_threshold=detector.score_threshold), number=50)
        t_ref = best_of(lambda: decode_reference(*heads, score_threshold=detector.score_threshold), repeat=3)
        t_head = best_of(lambda: detector.head(sim_out[0]), number=50)

    result = {
        "machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version(),
                    "threads": 1},
        "input": [size, size, 3],
        "simulator_fps": 1 / t_sim, "onnxruntime_fps": 1 / t_ort, "simulator_vs_onnxruntime": t_ort / t_sim,
        "host_ms": {"letterbox_512x256": 1e3 * t_pre, "dequantize_head": 1e3 * t_head, "decode": 1e3 * t_dec,
                    "decode_reference": 1e3 * t_ref},
        "decode_speedup_vs_reference": t_ref / t_dec,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from codenet.host.io import write_json_atomic

    write_json_atomic(result, out)
    print(f"simulator      {result['simulator_fps']:7.2f} frames/s (one core, {size}x{size})")
    print(f"onnxruntime    {result['onnxruntime_fps']:7.2f} frames/s (same graph, one thread)")
    print(f"sim / ort      {result['simulator_vs_onnxruntime']:7.2f}x")
    for k, v in result["host_ms"].items():
        print(f"{k:22s} {v:8.3f} ms")
    print(f"decode vs reference {result['decode_speedup_vs_reference']:.0f}x faster  -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
