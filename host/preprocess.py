"""Image pre-processing shared by training, evaluation and the board, so all three see the same pixels.

The letterbox math lives only here: the model side imports it rather than re-deriving it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps

from .errors import CodenetError

PAD_VALUE = 114  # the gray that fills letterbox borders and replaces transparency
# about 7 bytes a pixel while decoding (Pillow's 4 + our 3): 24 M pixels stay near 170 MB of the
# PYNQ-Z2's 512 MB, which the DMA buffers and the OS share
MAX_PIXELS = 24_000_000
BAND_PIXELS = 1 << 20  # larger images are copied out of Pillow this many pixels at a time


def to_rgb_uint8(image) -> np.ndarray:
    """Return `image` as a contiguous HxWx3 uint8 RGB array.

    Accepts HxW, HxWx1 (gray), HxWx2 (gray + alpha), HxWx3 (RGB) and HxWx4 (RGBA) arrays of uint8 or
    uint16 (scaled down to 8 bits); alpha is composited on gray 114 (the letterbox fill) so transparent
    areas look like padding. Anything else raises CodenetError.
    """
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or arr.size == 0 or (arr.ndim == 3 and arr.shape[2] not in (1, 2, 3, 4)):
        raise CodenetError(
            f"image has shape {arr.shape}: expected a non-empty HxW, HxWx1, HxWx3 or HxWx4 array"
        )
    if arr.dtype == np.uint16:
        # round(x * 255 / 65535) in integers, so 65535 -> 255 and 0 -> 0 exactly
        arr = ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    elif arr.dtype != np.uint8:
        raise CodenetError(f"image has pixel type {arr.dtype}: expected uint8 or uint16")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    channels = arr.shape[2]
    if channels in (2, 4):
        color = arr[:, :, :-1].astype(np.uint32)
        alpha = arr[:, :, -1:].astype(np.uint32)
        arr = ((color * alpha + PAD_VALUE * (255 - alpha) + 127) // 255).astype(np.uint8)
        channels -= 1
    if channels == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr)


class Loaded(NamedTuple):
    """A decoded image: HxWx3 uint8 RGB, how many original pixels one decoded pixel spans (x, y: more
    than 1 when a JPEG was decoded reduced), and the file's frame count (animated GIF/WebP/PNG: > 1)."""

    pixels: np.ndarray
    factor: tuple
    frames: int


def read_image(path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file as HxWx3 uint8 RGB, pixels as stored (data sets: EXIF orientation not applied,
    annotations refer to the stored pixels); a missing or unreadable file raises CodenetError."""
    return load_image(path, max_pixels=max_pixels).pixels


def load_image(path, max_pixels: int = MAX_PIXELS, orient: bool = False, reduce_to: int | None = None) -> Loaded:
    """Read an image as `read_image` does; `orient` applies its EXIF orientation (what a photo viewer
    shows), `reduce_to` lets a JPEG decode at 1/2, 1/4 or 1/8 scale (Pillow's draft mode, in the DCT)
    while its longest side stays >= reduce_to: a 12 MP photo for a 256-pixel network needs neither
    the memory nor the time of a full decode. The pixel limit applies to the decoded size."""
    try:
        with Image.open(path) as im:
            if reduce_to is not None and im.format == "JPEG":
                w, h = im.size
                fit = reduce_to / max(w, h)
                if fit < 1:  # draft keeps both sides >= the requested ones
                    im.draft("RGB", (max(1, int(w * fit)), max(1, int(h * fit))))
                factor = (w / im.size[0], h / im.size[1])
            else:
                factor = (1.0, 1.0)
            if im.width * im.height > max_pixels:  # before decoding: a huge image would exhaust memory
                raise CodenetError(f"{path}: image too large ({im.width}x{im.height} pixels; the limit is "
                                   f"{max_pixels:,}, --max-pixels sets it)")
            frames = int(getattr(im, "n_frames", 1))
            im.load()
            if orient and im.getexif().get(0x0112, 1) in range(2, 9):  # transpose copies: only when needed
                turned = ImageOps.exif_transpose(im)
                if turned.size != im.size:  # a quarter turn swaps the axes
                    factor = factor[::-1]
                im = turned
            arr = _pixels(path, im)
    except FileNotFoundError:
        raise CodenetError(f"{path}: image file not found") from None
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as e:
        raise CodenetError(f"{path}: cannot read image ({e})") from None
    if not (arr.ndim == 3 and arr.shape[2] == 3 and arr.dtype == np.uint8):
        arr = to_rgb_uint8(arr)
    return Loaded(arr, factor, frames)


def _pixels(path, im) -> np.ndarray:
    """A loaded PIL image as an array to_rgb_uint8 takes, every mode handled explicitly."""
    if im.mode == "RGB" and im.width * im.height > BAND_PIXELS:
        # in bands: Pillow's tobytes (behind np.asarray) holds the whole image twice more while it joins
        arr = np.empty((im.height, im.width, 3), np.uint8)
        step = max(1, BAND_PIXELS // im.width)
        for y in range(0, im.height, step):
            arr[y:y + step] = np.asarray(im.crop((0, y, im.width, min(im.height, y + step))))
        return arr
    if im.mode in ("RGB", "L", "LA", "RGBA") or im.mode.startswith("I;16"):
        return np.asarray(im)
    if im.mode == "I":
        arr = np.asarray(im)
        if arr.min() < 0 or arr.max() > 65535:
            raise CodenetError(f"{path}: 32-bit pixel values outside 0..65535")
        return arr.astype(np.uint16)
    if im.mode == "F":  # float TIFFs: 0..1 (normalised) or 0..255; anything else has no meaning as a photo
        arr = np.asarray(im)
        lo, hi = (float(arr.min()), float(arr.max())) if np.isfinite(arr).all() else (np.nan, np.nan)
        if not (lo >= 0 and hi <= 255):
            raise CodenetError(f"{path}: float pixels in [{lo:g}, {hi:g}]: expected 0..1 or 0..255 "
                               f"(convert it to 8-bit first)")
        return np.rint(arr * (255.0 if hi <= 1 else 1.0)).astype(np.uint8)
    if im.mode in ("P", "PA") and ("transparency" in im.info or im.mode == "PA"):
        return np.asarray(im.convert("RGBA"))
    return np.asarray(im.convert("RGB"))  # palette, CMYK, YCbCr, 1-bit, ...: pillow knows how to make RGB


def letterbox_params(h: int, w: int, size: int) -> tuple[float, int, int, int, int]:
    """Fit an h x w image into size x size keeping aspect: (scale, new_w, new_h, pad_x, pad_y).

    The longest side becomes exactly `size`; the other is rounded (at least 1 px) and centered, the
    odd pixel of padding going to the right/bottom. A point maps as x' = x * scale + pad_x.
    """
    for name, value in (("height", h), ("width", w), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise CodenetError(f"letterbox: {name} must be a positive integer, got {value!r}")
    h, w, size = int(h), int(w), int(size)  # numpy ints would make `scale` a numpy float
    scale = size / max(h, w)
    new_w = min(size, max(1, int(w * scale + 0.5)))
    new_h = min(size, max(1, int(h * scale + 0.5)))
    return scale, new_w, new_h, (size - new_w) // 2, (size - new_h) // 2


def letterbox_image(image, size: int) -> tuple[np.ndarray, tuple[float, int, int]]:
    """Resize `image` into a size x size canvas (gray 114 borders): (canvas uint8, (scale, pad_x, pad_y)).

    Nearest-neighbour sampling at pixel centres through precomputed index tables: a 640x480 frame
    costs two gathers (about 0.1 ms on one x86 core, against 1.2 ms for Pillow's bilinear), which the
    board's Cortex-A9 pays every frame. Training, evaluation and the board all letterbox here.
    """
    rgb = to_rgb_uint8(image)
    h, w = rgb.shape[:2]
    scale, new_w, new_h, pad_x, pad_y = letterbox_params(h, w, size)
    canvas = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    inside = canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w]
    if (new_w, new_h) == (w, h):
        inside[...] = rgb
    else:
        rows = np.take(rgb, _centres(h, new_h), axis=0)
        np.take(rows, _centres(w, new_w), axis=1, out=inside)
    return canvas, (scale, pad_x, pad_y)


@lru_cache(maxsize=64)
def _centres(src: int, dst: int) -> np.ndarray:
    """Source index of each destination pixel's centre: floor((i + 0.5) * src / dst), in integers."""
    i = np.arange(dst, dtype=np.int64)
    return np.minimum(((2 * i + 1) * src) // (2 * dst), src - 1).astype(np.intp)
