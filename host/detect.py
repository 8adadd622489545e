"""`codenet detect`: images, folders, video files and a camera through a bundle; annotated images (or
videos), JSON, CSV, frames/s and the time per stage. Images need numpy + pillow; videos and cameras
also OpenCV, imported only when one is given."""

from __future__ import annotations

import csv
import io
import sys
import time
from pathlib import Path

from codenet.host.io import write_bytes_atomic, write_json_atomic


def add_detect_args(p):
    p.add_argument("inputs", nargs="*", help="image files, video files (OpenCV) or folders of them")
    p.add_argument("--camera", type=int, metavar="INDEX", help="also read camera INDEX (OpenCV), e.g. 0")
    p.add_argument("--frames", type=int, metavar="N", help="at most N frames per video or camera "
                   "(a camera runs until Ctrl-C without it)")
    p.add_argument("--bundle", help="bundle folder (default: the shipped codenet-s)")
    p.add_argument("--backend", default="sim", help="sim (bit-exact numpy simulator), pynq (on the board), csim")
    p.add_argument("--out", default="detections", help="output folder (default: detections)")
    p.add_argument("--score", type=float, default=0.3, help="score threshold (default: 0.3)")
    p.add_argument("--timeout", type=float, default=5.0, help="pynq: seconds to wait for the accelerator")
    p.add_argument("--no-progress", action="store_true")


def sources(args):
    """(kind, path or camera index) for every input, checked before any detection runs."""
    from codenet.host.errors import CodenetError
    from codenet.host.images import IMAGE_SUFFIXES, expand
    from codenet.host.video import VIDEO_SUFFIXES, cv2_module, is_video

    if not args.inputs and args.camera is None:
        raise CodenetError("nothing to detect: give image or video files, folders, or --camera INDEX")
    if args.frames is not None and args.frames < 1:
        raise CodenetError(f"--frames must be at least 1, got {args.frames}")
    found = [("video" if is_video(p) else "image", p) for p in expand(args.inputs, IMAGE_SUFFIXES | VIDEO_SUFFIXES)]
    if args.camera is not None:
        found.append(("camera", args.camera))
    if any(kind != "image" for kind, _ in found):
        cv2_module()  # a clear error now rather than after the images
    return found


def run_detect(args):
    import numpy as np

    from codenet.host.annotate import annotate
    from codenet.host.decode import as_dicts
    from codenet.host.detector import Detector
    from codenet.host.images import progress_line
    from codenet.host.preprocess import read_image
    from codenet.host.video import VideoWriter, frame_rate, read_frames

    todo = sources(args)
    detector = Detector(args.bundle, backend=args.backend, score_threshold=args.score, timeout_s=args.timeout)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results, t0 = {}, time.perf_counter()
    show = not args.no_progress and len(todo) > 1 and sys.stderr.isatty()

    def detect(image, key):
        boxes, scores, labels = detector(image)
        results[key] = as_dicts(boxes, scores, labels, detector.classes)
        return annotate(image, boxes, scores, labels, detector.classes)

    try:
        for i, (kind, src) in enumerate(todo):
            if show:
                name = src.name if kind != "camera" else f"camera {src}"
                print("\r" + progress_line(i, len(todo), time.perf_counter() - t0, name), end="", file=sys.stderr,
                      flush=True)
            if kind == "image":
                buf = io.BytesIO()
                detect(read_image(src), str(src)).save(buf, format="JPEG", quality=92)
                write_bytes_atomic(buf.getvalue(), out / f"{Path(src).stem}.jpg")
                continue
            stem = Path(src).stem if kind == "video" else f"camera{src}"
            writer = VideoWriter(out / f"{stem}.avi", frame_rate(src) if kind == "video" else 15.0)
            ok = False
            try:
                for n, frame in read_frames(src, args.frames):
                    writer.write(np.asarray(detect(frame, f"{src}#{n}")))
                ok = True
            except KeyboardInterrupt:
                if kind != "camera":
                    raise
                ok = True  # Ctrl-C is how a camera run ends: keep what was seen
            finally:
                writer.close(keep=ok)
    finally:
        if show:
            print("\r" + progress_line(len(todo), len(todo), time.perf_counter() - t0), file=sys.stderr)
        detector.close()
    wall = time.perf_counter() - t0
    write_json_atomic(results, out / "detections.json")
    rows = io.StringIO()
    w = csv.writer(rows)
    w.writerow(["image", "name", "score", "x1", "y1", "x2", "y2"])
    for image, dets in results.items():
        for d in dets:
            w.writerow([image, d["name"], d["score"], *d["box"]])
    write_bytes_atomic(rows.getvalue().encode(), out / "detections.csv")
    t = detector.timing
    n = max(t["frames"], 1)
    print(f"{t['frames']} frames -> {out}/ | {t['frames'] / wall:.1f} frames/s | per frame: pre "
          f"{1e3 * t['pre'] / n:.1f} ms, {args.backend} {1e3 * t['accel'] / n:.1f} ms, post {1e3 * t['post'] / n:.1f} ms")
