"""Images for detection: files and folders expanded, read one by one with clear errors."""

from __future__ import annotations

import sys
from pathlib import Path

from codenet.host.errors import CodenetError
from codenet.host.preprocess import read_image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


def expand(inputs) -> list:
    """Files as given, folders to their images in sorted order."""
    paths = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise CodenetError(f"{p}: no images in this folder")
            paths += found
        elif p.is_file():
            paths.append(p)
        else:
            raise CodenetError(f"{p}: no such file or folder")
    return paths


def read_images(inputs, progress: bool = True):
    """Yield (path, image) for files and folders, with a progress line on stderr for many images."""
    paths = expand(inputs)
    show = progress and len(paths) > 1 and sys.stderr.isatty()
    for i, path in enumerate(paths):
        if show:
            print(f"\r{i + 1}/{len(paths)} {path.name[:40]:40s}", end="", file=sys.stderr, flush=True)
        yield path, read_image(path)
    if show:
        print(file=sys.stderr)
