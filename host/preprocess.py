"""Image pre-processing shared by training, evaluation and the board, so all three see the same pixels.

The letterbox math lives only here: the model side imports it rather than re-deriving it.
"""

import numpy as np
from PIL import Image

from .errors import CodenetError

PAD_VALUE = 114  # the gray that fills letterbox borders and replaces transparency
MAX_PIXELS = 64_000_000


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


def read_image(path) -> np.ndarray:
    """Read an image file as HxWx3 uint8 RGB; a missing or unreadable file raises CodenetError.

    EXIF orientation is not applied: data set annotations refer to the pixels as stored.
    """
    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_PIXELS:  # before decoding: a huge image would exhaust memory
                raise CodenetError(f"{path}: image too large ({im.width}x{im.height} pixels)")
            im.load()
            if im.mode in ("RGB", "L", "LA", "RGBA") or im.mode.startswith("I;16"):
                arr = np.array(im)
            elif im.mode == "I":
                arr = np.array(im)
                if arr.min() < 0 or arr.max() > 65535:
                    raise CodenetError(f"{path}: 32-bit pixel values outside 0..65535")
                arr = arr.astype(np.uint16)
            elif im.mode in ("P", "PA") and ("transparency" in im.info or im.mode == "PA"):
                arr = np.array(im.convert("RGBA"))
            else:  # palette, CMYK, YCbCr, 1-bit, ...: pillow knows how to make RGB
                arr = np.array(im.convert("RGB"))
    except FileNotFoundError:
        raise CodenetError(f"{path}: image file not found") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise CodenetError(f"{path}: cannot read image ({e})") from None
    if arr.ndim == 3 and arr.shape[2] == 3 and arr.dtype == np.uint8:
        return arr
    return to_rgb_uint8(arr)


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
    """Resize `image` into a size x size canvas (gray 114 borders): (canvas uint8, (scale, pad_x, pad_y))."""
    rgb = to_rgb_uint8(image)
    h, w = rgb.shape[:2]
    scale, new_w, new_h, pad_x, pad_y = letterbox_params(h, w, size)
    if (new_w, new_h) != (w, h):
        rgb = np.asarray(Image.fromarray(rgb).resize((new_w, new_h), Image.BILINEAR))
    canvas = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = rgb
    return canvas, (scale, pad_x, pad_y)
