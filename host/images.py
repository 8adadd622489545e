"""Images for detection: files and folders expanded, read one by one with clear errors."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from codenet.host.errors import CodenetError
from codenet.host.preprocess import read_image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


def expand(inputs, suffixes=IMAGE_SUFFIXES) -> list:
    """Files as given, folders to their files with `suffixes` (images by default) in sorted order."""
    paths = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in suffixes and q.is_file())
            if not found:
                raise CodenetError(f"{p}: no images in this folder")
            paths += found
        elif p.is_file():
            paths.append(p)
        else:
            raise CodenetError(f"{p}: no such file or folder")
    return paths


def progress_line(done: int, total: int, seconds: float, name: str = "", width: int = 24) -> str:
    """`[#########---------]  12/40  30%  3.1 it/s  eta 9s  name`: one line, redrawn with a carriage return."""
    filled = width * done // max(total, 1)
    rate = done / seconds if seconds > 0 else 0.0
    eta = f"eta {(total - done) / rate:.0f}s" if rate > 0 and done < total else " " * 6
    return (f"[{'#' * filled}{'-' * (width - filled)}] {done:>{len(str(total))}}/{total} "
            f"{100 * done // max(total, 1):3d}% {rate:5.1f} it/s {eta} {name[:30]:30s}")


def read_images(inputs, progress: bool = True, stream=None):
    """Yield (path, image) for files and folders, with a progress bar on stderr (a terminal) for several."""
    paths, stream = expand(inputs), stream or sys.stderr
    show = progress and len(paths) > 1 and stream.isatty()
    t0 = time.perf_counter()
    for i, path in enumerate(paths):
        if show:
            print("\r" + progress_line(i, len(paths), time.perf_counter() - t0, path.name), end="", file=stream,
                  flush=True)
        yield path, read_image(path)
    if show:
        print("\r" + progress_line(len(paths), len(paths), time.perf_counter() - t0), file=stream)
