"""Instructions the board's CPU executes per frame around the accelerator, counted on armhf under qemu-user.

`make bench-armhf` (tests/armhf/insns.sh) runs this twice: on the build machine, for the milliseconds
of each step, then as Debian armhf python3 under the dynamic qemu-arm with tests/armhf/insn_count.c,
where each step runs `--repeat` times between two markers. The steps are what the Detector does per
frame (overlay/estimate/host_split.py times the same): letterbox a 640x480 frame, dequantize the head, CenterNet
decode, map the boxes back to the frame; the accumulators are the shipped bundle's own for a sample
scene (the bit-exact simulator, not counted), decoded at the Detector's default threshold and, as
the worst case, with every peak a candidate. A call of an empty step is subtracted as the markers' cost.

Instructions are not time: a 650 MHz Cortex-A9 retires at most about one per cycle on this kind of code
and often half that (cache misses on a 900 KB frame, 16-bit DDR3), so the report gives milliseconds at
an IPC of 1 and of 0.5, and what that makes of the x86 times as a slowdown factor.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from codenet.host.decode import decode, to_image_coords
from codenet.host.detector import Detector
from codenet.host.io import write_json_atomic
from codenet.host.preprocess import letterbox_image, read_image

SAMPLE = Path(__file__).resolve().parents[2] / "host" / "samples" / "scene0.jpg"
CAMERA = (480, 640)
ARM_HZ = 650e6
WORST_CASE = {"decode_top_k_of_all_peaks"}  # reported, not in the per-frame total
MARK = 0x7C0DE000  # insn_count.c: sched_get_priority_max(MARK + k) is a marker


def mark():
    try:
        os.sched_get_priority_max(MARK)
    except OSError:  # EINVAL: the call itself is the marker
        pass


def frame_steps(detector: Detector) -> dict:
    frame = np.asarray(Image.fromarray(read_image(SAMPLE)).resize(CAMERA[::-1], Image.BILINEAR))
    size, stride = detector.bundle.input_size, detector.stride
    canvas, (scale, pad_x, pad_y) = letterbox_image(frame, size)
    acc = detector.run_graph(canvas[None])[0]
    heads = detector.head(acc)
    boxes = decode(*heads, top_k=detector.top_k, score_threshold=detector.score_threshold, output_stride=stride)[0]
    return {
        "empty": lambda: None,
        "letterbox_640x480": lambda: letterbox_image(frame, size),
        "dequantize_head": lambda: detector.head(acc),
        "decode": lambda: decode(*heads, top_k=detector.top_k, score_threshold=detector.score_threshold,
                                 output_stride=stride),
        # the worst case: every peak a candidate, top_k boxes built
        "decode_top_k_of_all_peaks": lambda: decode(*heads, top_k=detector.top_k, score_threshold=0.0,
                                                    output_stride=stride),
        "to_image_coords": lambda: to_image_coords(boxes, scale, pad_x, pad_y, CAMERA[1], CAMERA[0]),
    }, len(boxes)


def milliseconds(steps: dict, repeat: int) -> dict:
    best = {}
    for name, fn in steps.items():
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        best[name] = 1e3 * min(times)
    return best


def instructions(steps: dict, repeat: int, marks: Path) -> dict:
    for fn in steps.values():
        for _ in range(repeat):
            mark()
            fn()
            mark()
    counts = [int(line.split()[1]) for line in marks.read_text().split("\n") if line]
    if len(counts) != 2 * repeat * len(steps):
        raise SystemExit(f"{marks}: {len(counts)} markers, expected {2 * repeat * len(steps)}: is insn_count.so loaded?")
    spans = [b - a for a, b in zip(counts[::2], counts[1::2])]
    per_step = {name: spans[i * repeat:(i + 1) * repeat] for i, name in enumerate(steps)}
    empty = statistics.median(per_step.pop("empty"))
    return {name: {"median": statistics.median(s) - empty, "min": min(s) - empty, "max": max(s) - empty}
            for name, s in per_step.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="JSON report")
    ap.add_argument("--marks", type=Path, help="insn_count.so's output file (armhf run)")
    ap.add_argument("--x86", type=Path, help="the build machine's report, for the slowdown factors (armhf run)")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()

    detector = Detector()
    steps, peaks = frame_steps(detector)
    report = {"machine": platform.machine(), "python": platform.python_version(), "numpy": np.__version__,
              "frame": list(CAMERA), "input": detector.bundle.input_size, "sample": SAMPLE.name,
              "boxes_decoded": peaks, "repeat": args.repeat}
    if args.marks is None:
        ms = milliseconds(steps, args.repeat)
        report["ms"] = {k: v - ms["empty"] for k, v in ms.items() if k != "empty"}
        report["ms_total"] = sum(v for k, v in report["ms"].items() if k not in WORST_CASE)
    else:
        counts = instructions(steps, args.repeat, args.marks)
        total = sum(c["median"] for k, c in counts.items() if k not in WORST_CASE)
        report.update(instructions=counts, instructions_total=total,
                      ms_at_650mhz={f"ipc_{ipc:g}": 1e3 * total / (ARM_HZ * ipc) for ipc in (1.0, 0.5)})
        if args.x86 and args.x86.exists():
            x86 = json.loads(args.x86.read_text())
            report["x86"] = {"ms": x86["ms"], "ms_total": x86["ms_total"], "machine": x86["machine"]}
            report["slowdown_vs_x86"] = {k: v / x86["ms_total"] for k, v in report["ms_at_650mhz"].items()}
    write_json_atomic(report, args.out)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
