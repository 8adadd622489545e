"""`codenet detect` on the session's codenet-tiny bundle: odd images, videos, a camera, progress, errors."""

import io
import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from codenet.host.cli import main
from codenet.host.images import progress_line, read_images
from tests.host.cli_run import detect, one_line

SAMPLES = Path(__file__).resolve().parents[2] / "host" / "samples"


def results(tmp_path):
    return json.loads((tmp_path / "out" / "detections.json").read_text())


def huge_png(path, width=20000, height=20000):
    """A valid PNG header announcing 400 M pixels (the check must refuse it before decoding)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    def png_chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + png_chunk(b"IEND", b""))
    return path


ODD = {
    "gray.png": lambda: Image.fromarray(np.arange(40 * 60, dtype=np.uint8).reshape(40, 60), "L"),
    "rgba.png": lambda: Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 50, 4), dtype=np.uint8), "RGBA"),
    "deep16.png": lambda: Image.fromarray(np.arange(33 * 70, dtype=np.uint16).reshape(33, 70) * 28),
    "palette.png": lambda: Image.fromarray(np.full((20, 20, 3), 90, np.uint8)).convert("P"),
    "tiny.png": lambda: Image.fromarray(np.full((1, 1, 3), 200, np.uint8)),
    "thin.png": lambda: Image.fromarray(np.full((2, 3000, 3), 10, np.uint8)),
    "cmyk.jpg": lambda: Image.fromarray(np.full((16, 16, 3), 70, np.uint8)).convert("CMYK"),
}


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_images_are_converted(capsys, tmp_path, tiny_bundle, name):
    path = tmp_path / name
    ODD[name]().save(path)
    code, err, out = detect(capsys, tmp_path, tiny_bundle, path)
    assert code == 0, err
    assert (tmp_path / "out" / f"{path.stem}.jpg").is_file()
    assert list(results(tmp_path)) == [str(path)] and "1 frame -> " in out


def test_odd_images_equal_their_rgb_conversion(tmp_path, tiny_bundle):
    """A 16-bit gray image detects exactly as its 8-bit RGB conversion (the conversion is the contract)."""
    from codenet.host.detector import Detector

    arr16 = (np.arange(48 * 64, dtype=np.uint32).reshape(48, 64) * 21).astype(np.uint16)
    Image.fromarray(arr16).save(tmp_path / "a.png")
    from codenet.host.preprocess import read_image, to_rgb_uint8

    det = Detector(tiny_bundle, score_threshold=0.05)
    got, want = det(read_image(tmp_path / "a.png")), det(to_rgb_uint8(arr16))
    assert all(np.array_equal(g, w) for g, w in zip(got, want))


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n truncated"])
def test_unreadable_image(capsys, tmp_path, tiny_bundle, content):
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    one_line(*detect(capsys, tmp_path, tiny_bundle, bad)[:2], "bad.png", "cannot read")


@pytest.mark.parametrize("side, message", [(10000, "too large (10000x10000 pixels"), (20000, "decompression bomb")])
def test_huge_image_refused_before_decoding(capsys, tmp_path, tiny_bundle, side, message):
    path = huge_png(tmp_path / "huge.png", side, side)
    one_line(*detect(capsys, tmp_path, tiny_bundle, path)[:2], "huge.png", message)


def test_bad_image_in_a_folder_is_skipped_and_the_rest_kept(capsys, tmp_path, tiny_bundle):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.open(SAMPLES / "scene0.jpg").save(folder / "a.jpg")
    (folder / "b.jpg").write_bytes(b"garbage")
    (folder / "c.jpg").write_bytes(b"")
    Image.open(SAMPLES / "scene1.jpg").save(folder / "d.jpg")
    code, err, out = detect(capsys, tmp_path, tiny_bundle, folder)
    assert code == 2 and "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 2 and "b.jpg: cannot read image" in lines[0] and "c.jpg: cannot read image" in lines[1]
    assert list(results(tmp_path)) == [str(folder / "a.jpg"), str(folder / "d.jpg")]
    assert "2 frames" in out and "2 inputs skipped" in out
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["a.jpg", "d.jpg", "detections.csv", "detections.json"]


def test_unknown_backend(capsys, tmp_path, tiny_bundle):
    code = main(["detect", str(SAMPLES / "scene0.jpg"), "--bundle", str(tiny_bundle), "--backend", "gpu"])
    one_line(code, capsys.readouterr().err.strip(), "unknown backend 'gpu'", "sim, pynq, csim")


def test_nothing_to_detect(capsys, tmp_path, tiny_bundle):
    one_line(*detect(capsys, tmp_path, tiny_bundle)[:2], "nothing to detect")


def test_folder_progress_bar(tiny_bundle):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    got = [p.name for p, _ in read_images([SAMPLES], stream=stream)]
    assert got == sorted(p.name for p in SAMPLES.glob("*.jpg"))
    text = stream.getvalue()
    assert text.count("\r") == len(got) + 1 and f"{len(got)}/{len(got)} 100%" in text


def test_progress_line():
    line = progress_line(10, 40, 2.0, "scene0.jpg", width=20)
    assert line.startswith("[#####---------------] 10/40  25%   5.0 it/s eta 6s scene0.jpg")


# --- videos and cameras (OpenCV) -------------------------------------------------------------------------------

def write_video(path, frames):
    import cv2

    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (w, h))
    for f in frames:
        vw.write(np.ascontiguousarray(f[:, :, ::-1]))
    vw.release()
    return path


def sample_frames(n):
    base = np.asarray(Image.open(SAMPLES / "scene0.jpg").convert("RGB").resize((96, 64)))
    return [np.roll(base, 7 * i, axis=1) for i in range(n)]


def test_video_file(capsys, tmp_path, tiny_bundle):
    import cv2

    video = write_video(tmp_path / "clip.avi", sample_frames(5))
    code, err, out = detect(capsys, tmp_path, tiny_bundle, video, "--frames", "3")
    assert code == 0, err
    assert list(results(tmp_path)) == [f"{video}#{i}" for i in range(3)] and "3 frames" in out
    cap = cv2.VideoCapture(str(tmp_path / "out" / "clip.avi"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 3


def test_video_frames_detect_as_decoded(tmp_path, tiny_bundle):
    from codenet.host.detector import Detector
    from codenet.host.video import read_frames

    video = write_video(tmp_path / "clip.avi", sample_frames(2))
    det = Detector(tiny_bundle, score_threshold=0.05)
    for _, frame in read_frames(video):
        assert frame.dtype == np.uint8 and frame.shape == (64, 96, 3) and frame.flags.c_contiguous
        det(frame)
    assert det.timing["frames"] == 2


def test_camera_until_ctrl_c(capsys, tmp_path, tiny_bundle, monkeypatch):
    import cv2

    frames = sample_frames(3)

    class Camera:  # what cv2.VideoCapture(0) gives: three frames, then the user presses Ctrl-C
        def __init__(self, index):
            assert index == 0
            self.n = 0

        def isOpened(self):
            return True

        def read(self):
            if self.n == len(frames):
                raise KeyboardInterrupt
            self.n += 1
            return True, np.ascontiguousarray(frames[self.n - 1][:, :, ::-1])

        def release(self):
            pass

    monkeypatch.setattr(cv2, "VideoCapture", Camera)
    code, err, out = detect(capsys, tmp_path, tiny_bundle, "--camera", "0")
    assert code == 0, err
    assert list(results(tmp_path)) == ["0#0", "0#1", "0#2"]
    assert (tmp_path / "out" / "camera0.avi").is_file()


def test_missing_camera(capsys, tmp_path, tiny_bundle):
    import cv2  # noqa: F401  (the CLI opens cameras and videos with it: missing, this test fails here)

    one_line(*detect(capsys, tmp_path, tiny_bundle, "--camera", "57")[:2], "camera 57", "cannot open")


def test_unreadable_video(capsys, tmp_path, tiny_bundle):
    import cv2  # noqa: F401  (the CLI opens cameras and videos with it: missing, this test fails here)

    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    one_line(*detect(capsys, tmp_path, tiny_bundle, bad)[:2], "bad.mp4")
    assert not (tmp_path / "out" / "bad.avi").exists() and not list((tmp_path / "out").glob(".*.tmp*"))


@pytest.mark.parametrize("args", [["clip.mp4"], ["--camera", "0"]])
def test_video_without_opencv(capsys, tmp_path, tiny_bundle, monkeypatch, args):
    monkeypatch.setitem(sys.modules, "cv2", None)
    (tmp_path / "clip.mp4").write_bytes(b"x")
    args = [str(tmp_path / a) if a.endswith(".mp4") else a for a in args]
    one_line(*detect(capsys, tmp_path, tiny_bundle, *args)[:2], "need OpenCV")


def test_images_without_opencv(capsys, tmp_path, tiny_bundle, monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)
    code, err, _ = detect(capsys, tmp_path, tiny_bundle, SAMPLES / "scene0.jpg")
    assert code == 0, err
