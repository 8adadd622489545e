"""`make bench-board`: frames/s of the pipelined loop against the plain one, end to end on the simulated
PYNQ-Z2 (the unmodified pynq backend on pynq 3.1.2, tests/host/mock_pynq.py), in one run -> build/.

The accelerator is a stand-in that takes a set time per frame (raising ap_done that long after the
start) and returns the simulator's accumulators for a real frame, so the loop does all of its real
host work: 640x480 frames letterboxed, packed, flushed, the IODMAs started and polled, invalidated,
unpacked, dequantized and decoded. Two frame times: the accelerator's estimate (overlay/estimate.md),
and that divided by the ARM/x86 factor the estimate uses (ARM_FACTOR), which keeps the board's ratio of
host work to PL time on this faster CPU. Runs in .venv-board: python tests/host/bench_pipeline.py
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from codenet.host.bundle import DEFAULT_BUNDLE, load_bundle  # noqa: E402
from codenet.host.detector import Detector  # noqa: E402
from codenet.host.io import write_json_atomic  # noqa: E402
from codenet.host.pipeline import pipelined, plain  # noqa: E402
from codenet.host.sim import simulate  # noqa: E402
from tests.host.mock_pynq import AP_DONE, AP_IDLE, CTRL, SimulatedBoard, install, pack_rows  # noqa: E402
from tests.host.test_pynq_backend import make_board_bundle  # noqa: E402

ARM_FACTOR = 50  # overlay/pynq-z2.yaml's arm_slowdown (counted by make bench-armhf); this venv has no yaml reader


class TimedBoard(SimulatedBoard):
    """The simulated board with an accelerator that takes `frame_s` per image and gives fixed accumulators."""

    def __init__(self, accelerator, packed_output: bytes, frame_s: float):
        super().__init__(accelerator, simulate=None)
        self.packed_output, self.frame_s, self.done_at = packed_output, frame_s, None

    def _run(self):  # both IODMAs started: the PL is busy for one frame time
        acc = self.accelerator
        self.odma_base = self.ips[acc["output"]["dma"]]
        self.dst = self._ddr_at(self._word(self.odma_base + 0x10) | self._word(self.odma_base + 0x14) << 32)
        self.done_at = time.perf_counter() + self.frame_s * self._word(self.odma_base + 0x1C)

    def read_registers(self, address, length):
        if self.done_at is not None and time.perf_counter() >= self.done_at:
            self.dst[:len(self.packed_output)] = self.packed_output
            for base in (self.ips[self.accelerator["input"]["dma"]], self.odma_base):
                self._store(base + CTRL, (AP_DONE | AP_IDLE).to_bytes(4, "little"))
            self.done_at = None
            self.runs += 1
        return super().read_registers(address, length)


def estimated_frame_ms() -> float:
    text = (ROOT / "overlay" / "estimate.md").read_text()
    return 1000.0 / float(re.search(r"\| frames/s \| \*\*([\d.]+)\*\*", text).group(1))


def camera(n: int):
    """n 640x480 frames, each a fresh copy as a capture would hand over."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    for i in range(n):
        yield f"cam#{i}", np.roll(base, i, axis=1)


def run(bundle_dir: Path, frame_s: float, frames: int) -> dict:
    bundle = load_bundle(bundle_dir)
    accel = bundle.manifest["accelerator"]
    probe = Detector(bundle_dir, backend="sim").prepare(next(camera(1))[1])[0]
    acc = simulate(bundle.graph, probe[None])
    packed = pack_rows(np.asarray(acc, np.int64).reshape(1, *accel["output"]["folded_shape"][1:]),
                       accel["output"]["datatype"])
    out = {}
    for name, loop in (("plain", plain), ("pipelined", pipelined)):
        board = install(TimedBoard(accel, packed, frame_s))
        det = Detector(bundle_dir, backend="pynq", score_threshold=0.1)
        list(loop(det, camera(3)))  # warm: buffers allocated, caches filled
        det.timing = {k: 0.0 if k != "frames" else 0 for k in det.timing}
        t0 = time.perf_counter()
        results = list(loop(det, camera(frames)))
        wall = time.perf_counter() - t0
        assert len(results) == frames and board.runs == frames + 3
        out[name] = {"frames_per_s": frames / wall, "ms_per_frame": 1e3 * wall / frames,
                     "host_ms_per_frame": {k: 1e3 * det.timing[k] / frames for k in ("pre", "accel", "post")}}
        det.close()
    out["speedup"] = out["pipelined"]["frames_per_s"] / out["plain"]["frames_per_s"]
    out["accelerator_ms"] = 1e3 * frame_s
    out["accelerator_bound_frames_per_s"] = 1.0 / frame_s
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle", default=str(DEFAULT_BUNDLE))
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--out", default=str(ROOT / "build" / "pipeline.json"))
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = make_board_bundle(Path(args.bundle), Path(tmp) / "bundle")
        est = estimated_frame_ms()
        report = {"bundle": str(args.bundle), "frames": args.frames, "frame": "640x480 RGB",
                  "runs": {f"accelerator {est:.1f} ms (the estimate)": run(bundle, est / 1e3, args.frames),
                           f"accelerator {est / ARM_FACTOR:.2f} ms (estimate / {ARM_FACTOR}: the board's host-to-PL "
                           f"ratio)": run(bundle, est / ARM_FACTOR / 1e3, args.frames)}}
    write_json_atomic(report, args.out)
    for name, r in report["runs"].items():
        print(f"{name}: plain {r['plain']['frames_per_s']:.1f} frames/s, pipelined "
              f"{r['pipelined']['frames_per_s']:.1f} frames/s (x{r['speedup']:.2f}; the PL alone allows "
              f"{r['accelerator_bound_frames_per_s']:.1f})")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
