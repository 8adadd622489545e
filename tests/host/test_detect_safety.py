"""`codenet detect` loses nothing: unique output names, results written after Ctrl-C and failures, every
bad argument or bundle a one-line error, one error hierarchy, --version."""

import json
import os
import shutil
import stat
import sys

import pytest
from PIL import Image

from codenet.host.cli import main
from codenet.host.errors import CodenetError
from codenet.host.outputs import output_names
from tests.host.cli_run import detect, one_line

from tests.host.test_detect_cli import SAMPLES, results


def scene(path, i=0):
    Image.open(SAMPLES / f"scene{i}.jpg").convert("RGB").save(path)
    return path


def test_same_stem_in_one_folder_and_same_name_in_two(capsys, tmp_path, tiny_bundle):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    for i, suffix in enumerate((".jpg", ".png", ".webp")):
        scene(one / f"a{suffix}", i)
    scene(two / "a.jpg", 3)
    code, err, out = detect(capsys, tmp_path, tiny_bundle, one, two)
    assert code == 0, err
    written = sorted(p.name for p in (tmp_path / "out").glob("*.jpg"))
    assert written == ["a.png.jpg", "a.webp.jpg", "one_a.jpg", "two_a.jpg"]
    assert len(results(tmp_path)) == 4 and "4 frames" in out


def test_output_names_are_unique_and_stable():
    src = [("image", "x/a.jpg"), ("image", "x/b.png"), ("image", "y/b.png"), ("video", "x/a.mp4"), ("camera", 0),
           ("image", "p/x/c.jpg"), ("image", "q/x/c.jpg")]
    names = output_names(src, lambda kind: ".jpg" if kind == "image" else ".avi")
    assert names == {"x/a.jpg": "a.jpg", "x/b.png": "x_b.jpg", "y/b.png": "y_b.jpg", "x/a.mp4": "a.avi",
                     0: "camera0.avi", "p/x/c.jpg": "c-2.jpg", "q/x/c.jpg": "c-3.jpg"}
    assert len(set(names.values())) == len(src)


def test_ctrl_c_keeps_what_was_done(capsys, tmp_path, tiny_bundle, monkeypatch):
    from codenet.host.detector import Detector

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        scene(folder / f"s{i}.jpg", i)
    real, calls = Detector.__call__, []

    def interrupted(self, image):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, image)

    monkeypatch.setattr(Detector, "__call__", interrupted)
    code = main(["detect", str(folder), "--bundle", str(tiny_bundle), "--out", str(tmp_path / "out"),
                 "--no-progress"])
    assert code == 130 and "interrupted" in capsys.readouterr().err
    assert list(results(tmp_path)) == [str(folder / "s0.jpg")]
    csv_rows = (tmp_path / "out" / "detections.csv").read_text().splitlines()
    assert csv_rows[0] == "image,name,score,x1,y1,x2,y2"
    assert not list((tmp_path / "out").glob(".*"))  # no temp files left


def test_a_failed_write_stops_the_run_and_keeps_the_json(capsys, tmp_path, tiny_bundle, monkeypatch):
    import codenet.host.detect as detect_module

    def full(self, data, path):
        raise detect_module._Fatal(f"{path}: cannot write (No space left on device)")

    monkeypatch.setattr(detect_module.Run, "write", full)
    code, err, _ = detect(capsys, tmp_path, tiny_bundle, scene(tmp_path / "a.jpg"), scene(tmp_path / "b.jpg", 1))
    one_line(code, err, "a.jpg", "No space left")
    assert list(results(tmp_path)) == [str(tmp_path / "a.jpg")]


@pytest.mark.parametrize("args, needle", [
    (["--score", "-1"], "--score must be a number in [0, 1], got -1.0"),
    (["--score", "1.5"], "--score"), (["--score", "nan"], "--score"), (["--score", "inf"], "--score"),
    (["--camera", "-1"], "--camera must be a camera index >= 0"),
    (["--frames", "0"], "--frames"), (["--timeout", "0"], "--timeout"), (["--timeout", "nan"], "--timeout"),
    (["--max-pixels", "0"], "--max-pixels"), (["--overlap", "-3"], "--overlap"),
    (["--tile", "--overlap", "64"], "--overlap must be below the input size (64)"),
    (["--tile-iou", "0"], "--tile-iou"),
])
def test_bad_arguments(capsys, tmp_path, tiny_bundle, args, needle):
    one_line(*detect(capsys, tmp_path, tiny_bundle, scene(tmp_path / "a.jpg"), *args)[:2], needle)
    assert not (tmp_path / "out").exists()  # refused before anything was made


def test_out_is_a_file(capsys, tmp_path, tiny_bundle):
    (tmp_path / "taken").write_text("x")
    code = main(["detect", str(scene(tmp_path / "a.jpg")), "--bundle", str(tiny_bundle), "--out",
                 str(tmp_path / "taken")])
    one_line(code, capsys.readouterr().err.strip(), "taken", "not a folder")
    code = main(["detect", str(tmp_path / "a.jpg"), "--bundle", str(tiny_bundle), "--out",
                 str(tmp_path / "taken" / "sub")])
    one_line(code, capsys.readouterr().err.strip(), "cannot create the folder")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_out_not_writable(capsys, tmp_path, tiny_bundle):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code = main(["detect", str(scene(tmp_path / "a.jpg")), "--bundle", str(tiny_bundle), "--out", str(locked)])
    one_line(code, capsys.readouterr().err.strip(), "not writable")


def edit_manifest(tiny_bundle, tmp_path, change):
    dst = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, dst)
    m = json.loads((dst / "manifest.json").read_text())
    change(m)
    (dst / "manifest.json").write_text(json.dumps(m))
    return dst


@pytest.mark.parametrize("change, needle", [
    (lambda m: m.pop("output"), "no 'output' entry"),
    (lambda m: m.pop("classes"), "no 'classes' entry"),
    (lambda m: m.__setitem__("classes", m["classes"][:3]), "3 classes + 4 box channels"),
    (lambda m: m.__setitem__("classes", []), "non-empty list"),
    (lambda m: m["output"].__setitem__("dtype", "float32"), "output dtype 'float32'"),
    (lambda m: m["input"].__setitem__("dtype", "int8"), "input dtype 'int8'"),
    (lambda m: m["input"].__setitem__("shape", [1, 128, 128, 3]), "output shape"),
    (lambda m: m["input"].__setitem__("shape", [1, 64, 32, 3]), "square RGB"),
    (lambda m: m["output"].__setitem__("scale", m["output"]["scale"][:-1]), "output scale must hold"),
    (lambda m: m.__setitem__("output_stride", 0), "output_stride"),
])
def test_manifest_checked_against_the_graph(capsys, tmp_path, tiny_bundle, change, needle):
    bundle = edit_manifest(tiny_bundle, tmp_path, change)
    one_line(*detect(capsys, tmp_path, bundle, scene(tmp_path / "a.jpg"))[:2], "manifest.json", needle)


def test_manifest_and_graph_disagree_on_the_output(tmp_path, tiny_bundle):
    from codenet.host.bundle import load_bundle
    from codenet.host.bundle_check import check_manifest

    b = load_bundle(tiny_bundle)
    last = next(layer for layer in b.graph.layers if b.graph.output in layer["outputs"])
    last["shape"] = [1, 1, 1, 1]
    with pytest.raises(CodenetError, match="graph's output layer"):
        check_manifest("m", b.manifest, b.graph)


@pytest.mark.parametrize("command", ["info", "train", "eval", "export"])
def test_model_commands_without_torch(capsys, monkeypatch, command):
    for name in [m for m in sys.modules if m.split(".")[0] == "torch" or m.startswith("codenet.model")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ModuleNotFoundError, as in the core install
    args = {"info": ["--config", "codenet-tiny"], "train": ["--out", "o"], "eval": ["--model", "x.pt"],
            "export": ["--model", "x.pt", "--out", "o"]}[command]
    try:
        code = main([command, *args])
    except SystemExit as e:  # argparse: a required argument this test did not guess
        code = e.code
    one_line(code, capsys.readouterr().err.strip(), "needs torch", "codenet-fpga[train]")


def test_csim_unavailable_reads_as_a_sentence(capsys, tmp_path, tiny_bundle, monkeypatch):
    from codenet.hls import csim

    monkeypatch.setattr(csim, "unavailable", lambda: "no ap_types headers (hls4ml is not installed)")
    code, err, _ = detect(capsys, tmp_path, tiny_bundle, scene(tmp_path / "a.jpg"), "--backend", "csim")
    one_line(code, err, "csim backend cannot run here: no ap_types headers")


def test_csim_errors_are_codenet_errors():
    from codenet.hls.csim import CsimError

    assert issubclass(CsimError, CodenetError)


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("codenet ")


def test_video_written_0644(capsys, tmp_path, tiny_bundle):
    import cv2  # noqa: F401  (.venv's dev tools: make test installs OpenCV)
    from tests.host.test_detect_cli import sample_frames, write_video

    video = write_video(tmp_path / "clip.avi", sample_frames(2))
    code, err, out = detect(capsys, tmp_path, tiny_bundle, video)
    assert code == 0, err
    assert stat.S_IMODE((tmp_path / "out" / "clip.avi").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "out" / "detections.json").stat().st_mode) == 0o644


def test_missing_input_among_several(capsys, tmp_path, tiny_bundle):
    one_line(*detect(capsys, tmp_path, tiny_bundle, scene(tmp_path / "a.jpg"), tmp_path / "nope.jpg")[:2],
             "nope.jpg", "no such file")


def test_sigterm_keeps_what_was_done(capsys, tmp_path, tiny_bundle, monkeypatch):
    import signal

    from codenet.host.detector import Detector

    real, calls = Detector.__call__, []

    def terminated(self, image):
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # the handler raises here, in the main thread
        return real(self, image)

    monkeypatch.setattr(Detector, "__call__", terminated)
    before = signal.getsignal(signal.SIGTERM)
    code = main(["detect", str(scene(tmp_path / "a.jpg")), str(scene(tmp_path / "b.jpg", 1)), "--bundle",
                 str(tiny_bundle), "--out", str(tmp_path / "out"), "--no-progress"])
    assert code == 130 and list(results(tmp_path)) == [str(tmp_path / "a.jpg")]
    assert signal.getsignal(signal.SIGTERM) == before  # put back


def test_long_video_shows_progress(capsys, tmp_path, tiny_bundle, monkeypatch):
    import cv2  # noqa: F401  (.venv's dev tools: make test installs OpenCV)
    from tests.host.test_detect_cli import sample_frames, write_video

    video = write_video(tmp_path / "clip.avi", sample_frames(4))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code = main(["detect", str(video), "--bundle", str(tiny_bundle), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 0 and "\r[" in err and "clip.avi" in err and "/4" in err
