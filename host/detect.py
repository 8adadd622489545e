"""`codenet detect`: images, folders, video files and a camera through a bundle; annotated images (or
videos), JSON, CSV, frames/s and the time per stage. Images need numpy + pillow; videos and cameras
also OpenCV, imported only when one is given.

Nothing is lost: a bad input is reported on one line and skipped (the exit code says so at the end),
and detections.json/.csv are written atomically for every input done, also after Ctrl-C or a failure.
"""

from __future__ import annotations

import io
import math
import os
import signal
import sys
import time
from pathlib import Path

from codenet.host.errors import CodenetError


def add_detect_args(p):
    from codenet.host.preprocess import MAX_PIXELS
    from codenet.host.tiling import DEFAULT_IOU, DEFAULT_OVERLAP

    p.add_argument("inputs", nargs="*", help="image files, video files (OpenCV) or folders of them")
    p.add_argument("--camera", type=int, metavar="INDEX", help="also read camera INDEX (OpenCV), e.g. 0")
    p.add_argument("--frames", type=int, metavar="N", help="at most N frames per video or camera "
                   "(a camera runs until Ctrl-C without it)")
    p.add_argument("--bundle", help="bundle folder (default: the shipped codenet-s)")
    p.add_argument("--backend", default="sim", help="sim (bit-exact numpy simulator), pynq (on the board), csim")
    p.add_argument("--out", default="detections", help="output folder (default: detections)")
    p.add_argument("--score", type=float, default=None, help="score threshold in [0, 1] (default: the bundle's "
                   "own, its model's best F1 on its val split; 0.3 for a bundle without one)")
    p.add_argument("--tile", action="store_true", help="cut large images into overlapping windows of the input "
                   "size at native resolution and merge their boxes (aerial imagery)")
    p.add_argument("--overlap", type=int, default=DEFAULT_OVERLAP, metavar="PX",
                   help=f"--tile: pixels shared by neighbouring windows (default: {DEFAULT_OVERLAP})")
    p.add_argument("--tile-iou", type=float, default=DEFAULT_IOU, metavar="IOU",
                   help=f"--tile: class-wise NMS overlap that merges boxes across windows (default: {DEFAULT_IOU})")
    p.add_argument("--max-pixels", type=int, default=MAX_PIXELS, metavar="N",
                   help=f"refuse decoded images larger than N pixels (default: {MAX_PIXELS:,}, sized for the "
                        f"board's 512 MB; large JPEGs decode reduced unless --tile)")
    p.add_argument("--timeout", type=float, default=5.0, help="pynq: seconds to wait for the accelerator")
    p.add_argument("--no-progress", action="store_true")


def check_args(args):
    """Every argument checked before anything loads."""
    def finite(value):
        return isinstance(value, (int, float)) and math.isfinite(value)

    if args.score is not None and not (finite(args.score) and 0 <= args.score <= 1):
        raise CodenetError(f"--score must be a number in [0, 1], got {args.score}")
    if args.camera is not None and args.camera < 0:
        raise CodenetError(f"--camera must be a camera index >= 0, got {args.camera}")
    if args.frames is not None and args.frames < 1:
        raise CodenetError(f"--frames must be at least 1, got {args.frames}")
    if not (finite(args.timeout) and args.timeout > 0):
        raise CodenetError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    if args.max_pixels < 1:
        raise CodenetError(f"--max-pixels must be at least 1, got {args.max_pixels}")
    if args.overlap < 0:
        raise CodenetError(f"--overlap must be >= 0 pixels, got {args.overlap}")
    if not (finite(args.tile_iou) and 0 < args.tile_iou <= 1):
        raise CodenetError(f"--tile-iou must be in (0, 1], got {args.tile_iou}")


def sources(args):
    """(kind, path or camera index) for every input, each once, checked before any detection runs."""
    from codenet.host.images import IMAGE_SUFFIXES, expand
    from codenet.host.video import VIDEO_SUFFIXES, cv2_module, is_video

    if not args.inputs and args.camera is None:
        raise CodenetError("nothing to detect: give image or video files, folders, or --camera INDEX")
    found = [("video" if is_video(p) else "image", p) for p in dict.fromkeys(expand(args.inputs,
                                                                                     IMAGE_SUFFIXES | VIDEO_SUFFIXES))]
    if args.camera is not None:
        found.append(("camera", args.camera))
    if any(kind != "image" for kind, _ in found):
        cv2_module()  # a clear error now rather than after the images
    return found


def output_folder(path: str) -> Path:
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise CodenetError(f"--out {out}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CodenetError(f"--out {out}: cannot create the folder ({e.strerror})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise CodenetError(f"--out {out}: not writable")
    return out


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class _Terminated(KeyboardInterrupt):
    """SIGTERM handled like Ctrl-C: the detections so far are written before the exit."""


def run_detect(args):
    from codenet.host.detector import Detector
    from codenet.host.outputs import output_names, write_results

    check_args(args)
    todo = sources(args)
    detector = Detector(args.bundle, backend=args.backend, score_threshold=args.score, timeout_s=args.timeout)
    if args.tile and not args.overlap < detector.bundle.input_size:
        raise CodenetError(f"--overlap must be below the input size ({detector.bundle.input_size}), got {args.overlap}")
    out = output_folder(args.out)
    names = output_names(todo, lambda kind: ".jpg" if kind == "image" else ".avi")
    run = Run(args, detector, out, names, show=not args.no_progress and sys.stderr.isatty())

    def terminate(signum, frame):
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, terminate) if _main_thread() else None
    try:
        for i, (kind, src) in enumerate(todo):
            run.progress(i, len(todo), src if kind != "camera" else f"camera {src}")
            try:
                if kind == "image":
                    run.image(src)
                else:
                    run.video(kind, src)
            except _Fatal:
                raise
            except CodenetError as e:
                run.failed.append(str(src))
                run.clear_progress()
                print(f"codenet: error: {e}", file=sys.stderr, flush=True)
        run.progress(len(todo), len(todo), "", end="\n")
    finally:
        detector.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        try:
            write_results(run.results, out)
        except OSError as e:
            raise CodenetError(f"{out}: cannot write detections.json/.csv ({e.strerror})") from None
    run.summary()
    return 2 if run.failed else 0


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


class Run:
    """One `codenet detect` run: what it has found so far, and how each kind of input is handled."""

    def __init__(self, args, detector, out: Path, names: dict, show: bool):
        self.args, self.detector, self.out, self.names, self.show = args, detector, out, names, show
        self.results, self.failed, self.t0, self.shown = {}, [], time.perf_counter(), False

    def progress(self, done: int, total: int, name, end: str = ""):
        from codenet.host.images import progress_line

        if self.show and total > 1:
            print("\r" + progress_line(done, total, time.perf_counter() - self.t0, Path(str(name)).name), end=end,
                  file=sys.stderr, flush=True)
            self.shown = end == ""

    def clear_progress(self):
        if self.shown:
            print(file=sys.stderr)
            self.shown = False

    def keep(self, key: str, boxes, scores, labels):
        from codenet.host.decode import as_dicts

        self.results[key] = as_dicts(boxes, scores, labels, self.detector.classes)

    def image(self, src):
        from codenet.host.annotate import annotate
        from codenet.host.preprocess import load_image
        from codenet.host.tiling import detect_tiled

        d, args = self.detector, self.args
        loaded = load_image(src, max_pixels=args.max_pixels, orient=True,
                            reduce_to=None if args.tile else d.bundle.input_size)
        if loaded.frames > 1:
            self.clear_progress()
            print(f"codenet: note: {src}: {loaded.frames} frames (animated); detecting on the first only "
                  f"(a video file gives every frame)", file=sys.stderr)
        if args.tile:
            boxes, scores, labels = detect_tiled(d, loaded.pixels, args.overlap, args.tile_iou,
                                                 batch=1 if args.backend == "pynq" else 4)
        else:
            boxes, scores, labels = d(loaded.pixels)
        fx, fy = loaded.factor  # a JPEG decoded reduced: the JSON speaks of the file's own pixels
        self.keep(str(src), boxes * [fx, fy, fx, fy], scores, labels)
        buf = io.BytesIO()
        annotate(loaded.pixels, boxes, scores, labels, d.classes).save(buf, format="JPEG", quality=92)
        self.write(buf.getvalue(), self.out / self.names[src])

    def write(self, data: bytes, path: Path):
        from codenet.host.io import write_bytes_atomic

        try:
            write_bytes_atomic(data, path)
        except OSError as e:  # disk full, folder removed: every later write would fail the same way
            raise _Fatal(f"{path}: cannot write ({e.strerror})") from None

    def video(self, kind: str, src):
        import numpy as np

        from codenet.host.annotate import annotate
        from codenet.host.pipeline import pipelined
        from codenet.host.video import VideoWriter, frame_count, frame_rate, read_frames

        writer = VideoWriter(self.out / self.names[src], frame_rate(src) if kind == "video" else 15.0)
        total = frame_count(src) if kind == "video" else 0
        if self.args.frames:
            total = min(total, self.args.frames) if total else 0
        ok, shown_at = False, 0.0
        try:
            frames = ((f"{src}#{n}", frame) for n, frame in read_frames(src, self.args.frames))
            for n, (key, frame, (boxes, scores, labels)) in enumerate(pipelined(self.detector, frames)):
                self.keep(key, boxes, scores, labels)
                writer.write(np.asarray(annotate(frame, boxes, scores, labels, self.detector.classes)))
                if self.show and time.perf_counter() - shown_at > 0.2:  # a long video shows its progress
                    from codenet.host.images import progress_line

                    print("\r" + progress_line(n + 1, max(total, n + 1), time.perf_counter() - self.t0,
                                               Path(str(src)).name), end="", file=sys.stderr, flush=True)
                    self.shown, shown_at = True, time.perf_counter()
            ok = True
        except KeyboardInterrupt as e:
            ok = True  # keep the frames done; Ctrl-C is how a camera run ends, anything else stops the run
            if kind != "camera" or isinstance(e, _Terminated):
                raise
        finally:
            writer.close(keep=ok)

    def summary(self):
        t, wall = self.detector.timing, time.perf_counter() - self.t0
        n = max(t["frames"], 1)
        skipped = f" | {plural(len(self.failed), 'input')} skipped (errors above)" if self.failed else ""
        print(f"{plural(t['frames'], 'frame')} -> {self.out}/ | {t['frames'] / wall:.1f} frames/s | per frame: pre "
              f"{1e3 * t['pre'] / n:.1f} ms, {self.args.backend} {1e3 * t['accel'] / n:.1f} ms, "
              f"post {1e3 * t['post'] / n:.1f} ms{skipped}")


class _Fatal(CodenetError):
    """An error that stops the run (not one input's problem); the detections so far are still written."""
