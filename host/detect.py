"""`codenet detect`: images and folders through a bundle; annotated images, JSON, CSV and timing."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

from codenet.host.io import write_bytes_atomic, write_json_atomic


def add_detect_args(p):
    p.add_argument("inputs", nargs="+", help="image files or folders")
    p.add_argument("--bundle", help="bundle folder (default: the shipped codenet-s)")
    p.add_argument("--backend", default="sim", help="sim (bit-exact numpy simulator), pynq (on the board), csim")
    p.add_argument("--out", default="detections", help="output folder (default: detections)")
    p.add_argument("--score", type=float, default=0.3, help="score threshold (default: 0.3)")
    p.add_argument("--no-progress", action="store_true")


def run_detect(args):
    from codenet.host.annotate import annotate
    from codenet.host.decode import as_dicts
    from codenet.host.detector import Detector
    from codenet.host.images import read_images

    detector = Detector(args.bundle, backend=args.backend, score_threshold=args.score)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results, t0 = {}, time.perf_counter()
    for path, image in read_images(args.inputs, progress=not args.no_progress):
        boxes, scores, labels = detector(image)
        buf = io.BytesIO()
        annotate(image, boxes, scores, labels, detector.classes).save(buf, format="JPEG", quality=92)
        write_bytes_atomic(buf.getvalue(), out / f"{Path(path).stem}.jpg")
        results[str(path)] = as_dicts(boxes, scores, labels, detector.classes)
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
    print(f"{t['frames']} images -> {out}/ | {t['frames'] / wall:.1f} frames/s | per frame: pre "
          f"{1e3 * t['pre'] / n:.1f} ms, {args.backend} {1e3 * t['accel'] / n:.1f} ms, post {1e3 * t['post'] / n:.1f} ms")
