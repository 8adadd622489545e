"""Video files and cameras for `codenet detect`, through OpenCV when it is installed (optional: the board
image may lack it; images need only pillow). Frames come out as HxWx3 uint8 RGB, like read_image."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from codenet.host.errors import CodenetError

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}


def cv2_module():
    try:
        import cv2
    except ImportError:
        raise CodenetError("video files and cameras need OpenCV (pip install opencv-python-headless); "
                           "images work without it") from None
    return cv2


def is_video(path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def read_frames(source, max_frames: int | None = None):
    """Yield (index, RGB frame) from a video file path or a camera index (int), up to max_frames."""
    cv2 = cv2_module()
    name = f"camera {source}" if isinstance(source, int) else str(source)
    if not isinstance(source, int) and not Path(source).is_file():
        raise CodenetError(f"{source}: no such video file")
    cap = cv2.VideoCapture(source if isinstance(source, int) else str(source))
    try:
        if not cap.isOpened():
            raise CodenetError(f"{name}: cannot open (not a video OpenCV can read, or no such camera)")
        i = 0
        while max_frames is None or i < max_frames:
            ok, bgr = cap.read()
            if not ok:
                if i == 0:
                    raise CodenetError(f"{name}: no frames could be read")
                return
            yield i, np.ascontiguousarray(bgr[:, :, ::-1])  # OpenCV decodes to BGR
            i += 1
    finally:
        cap.release()


def _container(path, prop: str) -> float:
    """One property the video file's container states (0 when it states none)."""
    cv2 = cv2_module()
    cap = cv2.VideoCapture(str(path))
    try:
        value = cap.get(getattr(cv2, prop))
    finally:
        cap.release()
    return value if value and value > 0 else 0.0


def frame_rate(path) -> float:
    return _container(path, "CAP_PROP_FPS") or 25.0


def frame_count(path) -> int:
    """The container's frame count, 0 when it does not say (for the progress bar only)."""
    return int(_container(path, "CAP_PROP_FRAME_COUNT"))


class VideoWriter:
    """Annotated frames -> an MJPG .avi, written under a temporary name and renamed when closed, so the
    output folder never holds a half-written video."""

    def __init__(self, path, fps: float):
        self.cv2, self.path, self.fps = cv2_module(), Path(path), fps
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".avi")
        os.close(fd)
        self.writer = None

    def write(self, rgb: np.ndarray):
        if self.writer is None:  # the size is known with the first frame
            h, w = rgb.shape[:2]
            self.writer = self.cv2.VideoWriter(self.tmp, self.cv2.VideoWriter_fourcc(*"MJPG"), self.fps, (w, h))
        self.writer.write(np.ascontiguousarray(rgb[:, :, ::-1]))

    def close(self, keep: bool = True):
        if self.writer is not None:
            self.writer.release()
        if keep and self.writer is not None:
            os.chmod(self.tmp, 0o644)  # mkstemp made it 0600; images and JSON are 0644
            os.replace(self.tmp, self.path)
        else:
            os.unlink(self.tmp)
