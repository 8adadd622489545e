"""host/preprocess.py: letterbox geometry, pixel-format normalisation, image reading."""

import numpy as np
import pytest
from PIL import Image

from codenet.host.errors import CodenetError
from codenet.host.decode import to_image_coords
from codenet.host.preprocess import (
    PAD_VALUE,
    letterbox_image,
    letterbox_params,
    read_image,
    to_rgb_uint8,
)


@pytest.mark.parametrize(
    "h, w, size, expected",
    [
        (480, 640, 256, (0.4, 256, 192, 0, 32)),
        (100, 50, 64, (0.64, 32, 64, 16, 0)),
        (256, 256, 256, (1.0, 256, 256, 0, 0)),
        (255, 256, 256, (1.0, 256, 255, 0, 0)),  # the odd padding pixel goes to the bottom
        (1, 1000, 256, (0.256, 256, 1, 0, 127)),  # never less than 1 px
        (30, 40, 320, (8.0, 320, 240, 0, 40)),  # upscaling
        (333, 500, 416, (416 / 500, 416, 277, 0, 69)),
    ],
)
def test_letterbox_params_exact(h, w, size, expected):
    scale, new_w, new_h, pad_x, pad_y = letterbox_params(h, w, size)
    assert scale == pytest.approx(expected[0], rel=1e-12)
    assert (new_w, new_h, pad_x, pad_y) == expected[1:]
    assert isinstance(scale, float) and all(type(v) is int for v in (new_w, new_h, pad_x, pad_y))


@pytest.mark.parametrize("args", [(0, 10, 64), (10, -1, 64), (10, 10, 0), (10.5, 10, 64), (True, 10, 64)])
def test_letterbox_params_rejects_bad_sizes(args):
    with pytest.raises(CodenetError, match="positive integer"):
        letterbox_params(*args)


def test_letterbox_image_places_and_pads():
    image = np.zeros((40, 80, 3), dtype=np.uint8)
    image[...] = (200, 10, 30)
    canvas, (scale, pad_x, pad_y) = letterbox_image(image, 64)
    assert canvas.shape == (64, 64, 3) and canvas.dtype == np.uint8
    assert (scale, pad_x, pad_y) == (0.8, 0, 16)
    assert (canvas[16:48] == (200, 10, 30)).all()
    assert (canvas[:16] == PAD_VALUE).all() and (canvas[48:] == PAD_VALUE).all()


def test_letterbox_image_same_size_is_identity_and_accepts_gray():
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    canvas, params = letterbox_image(image, 32)
    assert params == (1.0, 0, 0) and np.array_equal(canvas, image)
    canvas, _ = letterbox_image(image[:, :, 0], 32)
    assert np.array_equal(canvas, np.repeat(image[:, :, :1], 3, axis=2))


def test_unletterbox_inverts_the_box_mapping():
    h, w, size = 300, 500, 256
    scale, _, _, pad_x, pad_y = letterbox_params(h, w, size)
    boxes = np.array([[10, 20, 110, 220], [0, 0, 500, 300]], dtype=np.float32)
    mapped = boxes * scale + np.array([pad_x, pad_y, pad_x, pad_y], dtype=np.float32)
    np.testing.assert_allclose(to_image_coords(mapped, scale, pad_x, pad_y, w, h), boxes, atol=1e-3)
    # boxes reaching into the padding are clipped to the image
    out = to_image_coords([[-5, 0, 300, 256]], scale, pad_x, pad_y, w, h)
    np.testing.assert_allclose(out, [[0, 0, 500, 300]])


def test_to_rgb_uint8_passes_rgb_through():
    image = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    out = to_rgb_uint8(image)
    assert out.dtype == np.uint8 and np.array_equal(out, image)


@pytest.mark.parametrize("shape", [(4, 6), (4, 6, 1)])
def test_to_rgb_uint8_gray(shape):
    gray = np.arange(24, dtype=np.uint8).reshape(shape)
    out = to_rgb_uint8(gray)
    assert out.shape == (4, 6, 3)
    assert all(np.array_equal(out[:, :, c], gray.reshape(4, 6)) for c in range(3))


def test_to_rgb_uint8_composites_alpha_on_pad_gray():
    rgba = np.zeros((1, 3, 4), dtype=np.uint8)
    rgba[0, :, :3] = (255, 0, 10)
    rgba[0, :, 3] = (0, 255, 128)
    out = to_rgb_uint8(rgba)
    assert out[0, 0].tolist() == [PAD_VALUE] * 3  # transparent: the letterbox gray
    assert out[0, 1].tolist() == [255, 0, 10]  # opaque: unchanged
    expected = [round((v * 128 + PAD_VALUE * 127) / 255) for v in (255, 0, 10)]
    assert out[0, 2].tolist() == expected
    gray_alpha = np.array([[[50, 0], [50, 255]]], dtype=np.uint8)
    assert to_rgb_uint8(gray_alpha).tolist() == [[[PAD_VALUE] * 3, [50] * 3]]


def test_to_rgb_uint8_scales_16_bit():
    image = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    out = to_rgb_uint8(image)
    assert out[0, :, 0].tolist() == [0, 1, 128, 255]
    rgb16 = np.full((2, 2, 3), 65535, dtype=np.uint16)
    assert (to_rgb_uint8(rgb16) == 255).all()


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((0, 5, 3), np.uint8), "shape"),
        (np.zeros((5, 0), np.uint8), "shape"),
        (np.zeros((1, 4, 4, 3), np.uint8), "shape"),
        (np.zeros((4, 4, 5), np.uint8), "shape"),
        (np.zeros(5, np.uint8), "shape"),
        (np.zeros((4, 4, 3), np.float32), "float32"),
        (np.zeros((4, 4, 3), bool), "bool"),
    ],
)
def test_to_rgb_uint8_rejects_other_inputs(image, message):
    with pytest.raises(CodenetError, match=message) as info:
        to_rgb_uint8(image)
    assert "\n" not in str(info.value)


def test_read_image_formats(tmp_path):
    rgb = np.random.default_rng(2).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert np.array_equal(read_image(tmp_path / "rgb.png"), rgb)
    Image.fromarray(rgb[:, :, 0]).save(tmp_path / "gray.png")
    assert np.array_equal(read_image(tmp_path / "gray.png"), np.repeat(rgb[:, :, :1], 3, axis=2))
    rgba = np.dstack([rgb, np.zeros((6, 8), np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    assert (read_image(tmp_path / "rgba.png") == PAD_VALUE).all()
    Image.fromarray(np.full((3, 4), 65535, np.uint16)).save(tmp_path / "deep.png")
    assert (read_image(tmp_path / "deep.png") == 255).all()
    Image.fromarray(rgb).convert("P").save(tmp_path / "palette.gif")
    out = read_image(tmp_path / "palette.gif")
    assert out.shape == (6, 8, 3) and out.dtype == np.uint8


def test_read_image_errors_name_the_file(tmp_path):
    with pytest.raises(CodenetError, match="missing.jpg: image file not found"):
        read_image(tmp_path / "missing.jpg")
    (tmp_path / "junk.jpg").write_bytes(b"not an image")
    with pytest.raises(CodenetError, match="junk.jpg: cannot read image"):
        read_image(tmp_path / "junk.jpg")
