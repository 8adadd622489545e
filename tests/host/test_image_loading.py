"""Images as a board user has them: EXIF-rotated photos, large JPEGs (decoded reduced), a settable pixel
limit, animated GIFs, float TIFFs; and the letterbox's nearest-neighbour index tables."""

import json

import numpy as np
import pytest
from PIL import Image

from codenet.host.errors import CodenetError
from codenet.host.preprocess import PAD_VALUE, _centres, letterbox_image, load_image, read_image
from tests.host.cli_run import detect, one_line
from tests.host.test_detect_cli import results


def photo(w, h, seed=0):
    rng = np.random.default_rng(seed)
    return np.kron(rng.integers(0, 256, (h // 8, w // 8, 3)), np.ones((8, 8, 1))).astype(np.uint8)


def test_exif_orientation_applied_for_detection_only(tmp_path):
    arr = photo(80, 40)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view"
    Image.fromarray(arr).save(tmp_path / "turned.jpg", exif=exif, quality=95)
    assert read_image(tmp_path / "turned.jpg").shape == (40, 80, 3)  # data sets: pixels as stored
    assert load_image(tmp_path / "turned.jpg", orient=True).pixels.shape == (80, 40, 3)


def test_large_jpeg_decodes_reduced_and_boxes_speak_of_the_file(capsys, tmp_path, tiny_bundle):
    Image.fromarray(photo(2048, 1536)).save(tmp_path / "big.jpg", quality=90)
    loaded = load_image(tmp_path / "big.jpg", reduce_to=256)
    assert loaded.pixels.shape == (192, 256, 3) and loaded.factor == (8.0, 8.0)  # 1/8 in the DCT
    assert load_image(tmp_path / "big.jpg", reduce_to=600).pixels.shape == (768, 1024, 3)  # never below 600
    code, err, _ = detect(capsys, tmp_path, tiny_bundle, tmp_path / "big.jpg", "--score", "0.0")
    assert code == 0, err
    boxes = np.array([d["box"] for d in results(tmp_path)[str(tmp_path / "big.jpg")]])
    assert len(boxes) and boxes[:, 2].max() > 64 * 8 and (boxes[:, [0, 2]] <= 2048).all()
    assert Image.open(tmp_path / "out" / "big.jpg").size == (256, 192)  # annotated at the decoded size


def test_pixel_limit_is_settable(capsys, tmp_path, tiny_bundle):
    Image.fromarray(photo(64, 48)).save(tmp_path / "a.png")
    one_line(*detect(capsys, tmp_path, tiny_bundle, tmp_path / "a.png", "--max-pixels", "3000")[:2],
             "a.png", "64x48", "--max-pixels")
    code, err, _ = detect(capsys, tmp_path, tiny_bundle, tmp_path / "a.png", "--max-pixels", "3072")
    assert code == 0, err


def test_animated_gif_first_frame_with_a_note(capsys, tmp_path, tiny_bundle):
    folder = tmp_path / "gifs"
    folder.mkdir()
    frames = [Image.fromarray(photo(64, 48, seed)) for seed in range(3)]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    loaded = load_image(folder / "anim.gif")
    assert loaded.frames == 3 and loaded.pixels.shape == (48, 64, 3)
    code, err, _ = detect(capsys, tmp_path, tiny_bundle, folder)  # a folder of GIFs has images
    assert code == 0 and "3 frames (animated); detecting on the first only" in err
    assert list(results(tmp_path)) == [str(folder / "anim.gif")]


@pytest.mark.parametrize("scale", [1.0, 255.0])
def test_float_tiff_in_either_range(tmp_path, scale):
    values = np.linspace(0, 1, 40 * 30, dtype=np.float32).reshape(30, 40)
    Image.fromarray(values * scale, mode="F").save(tmp_path / "f.tif")
    out = read_image(tmp_path / "f.tif")
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255
    assert np.array_equal(out[..., 0], np.rint(values * 255).astype(np.uint8))


@pytest.mark.parametrize("bad", [-1.0, 300.0, np.nan])
def test_float_tiff_out_of_range_is_refused(tmp_path, bad):
    values = np.zeros((8, 8), np.float32)
    values[0, 0] = bad
    Image.fromarray(values, mode="F").save(tmp_path / "f.tif")
    with pytest.raises(CodenetError, match="f.tif: float pixels"):
        read_image(tmp_path / "f.tif")


def test_json_boxes_for_a_rotated_photo(capsys, tmp_path, tiny_bundle):
    exif = Image.Exif()
    exif[0x0112] = 8
    Image.fromarray(photo(120, 40)).save(tmp_path / "r.jpg", exif=exif)
    code, err, _ = detect(capsys, tmp_path, tiny_bundle, tmp_path / "r.jpg", "--score", "0.0")
    assert code == 0, err
    boxes = np.array([d["box"] for d in json.loads((tmp_path / "out" / "detections.json").read_text())[
        str(tmp_path / "r.jpg")]])
    assert (boxes[:, [0, 2]] <= 40).all() and (boxes[:, [1, 3]] <= 120).all()  # the viewer's 40 x 120


def test_letterbox_samples_pixel_centres():
    image = np.arange(6 * 10 * 3, dtype=np.uint8).reshape(6, 10, 3)
    canvas, (scale, pad_x, pad_y) = letterbox_image(image, 5)  # 10 -> 5 wide, 6 -> 3 high
    assert (scale, pad_x, pad_y) == (0.5, 0, 1)
    assert np.array_equal(canvas[1:4], image[1::2][:, 1::2])  # centres of 2x2 blocks: odd rows/cols
    assert (canvas[0] == PAD_VALUE).all() and (canvas[4] == PAD_VALUE).all()


@pytest.mark.parametrize("src, dst", [(480, 192), (640, 256), (7, 3), (3, 7), (1, 256), (2999, 256)])
def test_centre_tables_match_the_float_formula(src, dst):
    i = np.arange(dst)
    expected = np.minimum(np.floor((i + 0.5) * src / dst).astype(int), src - 1)
    assert np.array_equal(_centres(src, dst), expected)


def test_large_images_copied_in_bands_are_the_same_pixels(tmp_path, monkeypatch):
    import codenet.host.preprocess as pre

    arr = photo(96, 72, seed=4)
    Image.fromarray(arr).save(tmp_path / "a.png")
    monkeypatch.setattr(pre, "BAND_PIXELS", 1000)  # 10 rows a band, the last one short
    out = pre.read_image(tmp_path / "a.png")
    assert out.flags.c_contiguous and np.array_equal(out, arr)
