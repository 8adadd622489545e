"""Atomic file writes: a reader (or a crash) never sees a half-written file.

Numpy-only (runs on the board). The pattern is: write a temp file in the target's own folder
(os.replace is only atomic within one file system), flush + fsync it, then os.replace it over the target.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import numpy as np

__all__ = ["write_bytes_atomic", "write_json_atomic"]


def write_bytes_atomic(data: bytes, path: str | os.PathLike) -> str:
    """Write `data` to `path` atomically (parent folders are created). Returns the path as a str."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    # mkstemp creates the file 0600; keep an existing target's mode, else the usual 0644.
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        # Never leave the temp file behind; the target is untouched.
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(folder)
    return path


def write_json_atomic(obj: Any, path: str | os.PathLike) -> str:
    """Write `obj` as indented, strict JSON (no NaN/Infinity) atomically. Numpy scalars/arrays are accepted.

    The object is serialised before anything touches the disk, so a bad object leaves no file behind.
    """
    text = json.dumps(obj, indent=2, allow_nan=False, default=_to_builtin) + "\n"
    return write_bytes_atomic(text.encode("utf-8"), path)


def _to_builtin(value: Any) -> Any:
    """json.dumps fallback for numpy types (metrics and boxes are often numpy)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"object of type {type(value).__name__} is not JSON serializable")


def _fsync_dir(folder: str) -> None:
    """Make the rename itself durable; not possible on every platform/file system, so best effort."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
