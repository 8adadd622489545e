"""The hardware/software split, measured: what the ARM does per frame around the accelerator.

The PL runs the integer graph (NHWC uint8 in, int32 accumulators out). The host does the rest, with
the same functions the Detector calls: letterbox a camera frame to the input size, dequantize the
head (acc * scale + bias, the float scale the graph leaves out), CenterNet decode (peaks, top-k,
boxes) and the map back to image pixels. Timed here on one x86 core; the board's Cortex-A9 at
650 MHz is taken as `arm_slowdown` times slower (board config): a factor from the ARM instructions
`make bench-armhf` counts for the same work under qemu-user, at an assumed 0.7 instructions a cycle.
"""

from __future__ import annotations

import numpy as np

from codenet.overlay.bench.timing import best_of

CAMERA = (480, 640)  # a VGA frame: what a USB camera on the PYNQ-Z2 gives


def host_split(bundle_dir, slowdown: float) -> dict:
    """Milliseconds per frame of each host step, here and scaled to the board."""
    import platform

    from codenet.host.decode import decode, to_image_coords
    from codenet.host.detector import Detector
    from codenet.host.preprocess import letterbox_image

    detector = Detector(bundle_dir)
    size, stride = detector.bundle.input_size, detector.stride
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (*CAMERA, 3), dtype=np.uint8)
    _, (scale, pad_x, pad_y) = letterbox_image(frame, size)
    channels = detector.bundle.manifest["output"]["shape"][-1]
    # accumulators with a few confident peaks, so decode does its full work (top-k, boxes)
    acc = rng.integers(-2000, 2000, (size // stride, size // stride, channels)).astype(np.int32)
    heads = detector.head(acc)
    boxes = decode(*heads, top_k=detector.top_k, score_threshold=0.0, output_stride=stride)[0]
    steps = {
        "letterbox": lambda: letterbox_image(frame, size),
        "dequantize_head": lambda: detector.head(acc),
        "decode": lambda: decode(*heads, top_k=detector.top_k, score_threshold=detector.decode_threshold,
                                 output_stride=stride),
        "to_image_coords": lambda: to_image_coords(boxes, scale, pad_x, pad_y, CAMERA[1], CAMERA[0]),
    }
    here = {name: 1e3 * best_of(fn, repeat=5, number=10) for name, fn in steps.items()}
    total = sum(here.values())
    return {"camera": list(CAMERA), "input": size, "machine": platform.processor() or platform.machine(),
            "arm_slowdown": slowdown, "ms_here": here, "ms_here_total": total,
            "ms_board": {k: v * slowdown for k, v in here.items()}, "ms_board_total": total * slowdown,
            "board_fps_limit": 1e3 / (total * slowdown)}
