"""Training: resumable exactly, and every bad input is one clear line with a non-zero exit."""

import subprocess
import sys

import pytest
import torch

from codenet.host.cli import main
from codenet.model.checkpoint import load_model
from codenet.model.config import load_config
from codenet.model.train import Trainer, TrainSettings


def tiny(**overrides):
    cfg, train = load_config("codenet-tiny")
    return cfg, TrainSettings.from_dict({**train, **overrides})


def test_interrupted_then_resumed_equals_uninterrupted(tmp_path):
    cfg, s = tiny(checkpoint_every=1)
    straight = Trainer(cfg, s, tmp_path / "a", progress=False).run()
    # interrupted mid float epoch, then mid QAT epoch, then run to the end
    Trainer(cfg, s, tmp_path / "b", progress=False).run(stop_after_steps=3)
    Trainer(cfg, s, tmp_path / "b", progress=False).run(resume=True, stop_after_steps=3)
    resumed = Trainer(cfg, s, tmp_path / "b", progress=False).run(resume=True)
    a, _, meta_a = load_model(straight)
    b, _, meta_b = load_model(resumed)
    assert a.is_quant and b.is_quant
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    assert meta_a["val"] == meta_b["val"]
    for name in ("log.csv", "log.json", "metrics.json", "pr.png"):
        assert (tmp_path / "b" / name).is_file()


def run_cli(capsys, *argv):
    code = main(list(argv))
    err = capsys.readouterr().err.strip()
    return code, err


def assert_one_line_error(code, err, *needles):
    assert code == 2
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, err


@pytest.fixture
def checkpoint_dir(tmp_path):
    cfg, s = tiny()
    Trainer(cfg, s, tmp_path / "run", progress=False).run(stop_after_steps=2)
    return tmp_path / "run"


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_damaged_checkpoint_is_one_clear_error(capsys, checkpoint_dir, damage):
    ckpt = checkpoint_dir / "checkpoint.pt"
    data = ckpt.read_bytes()
    ckpt.write_bytes({"garbage": b"not a checkpoint" * 10, "truncated": data[: len(data) // 2], "empty": b""}[damage])
    code, err = run_cli(capsys, "train", "--config", "codenet-tiny", "--out", str(checkpoint_dir), "--resume",
                        "--no-progress")
    assert_one_line_error(code, err, "checkpoint.pt", "corrupt")


def test_existing_run_needs_resume(capsys, checkpoint_dir):
    code, err = run_cli(capsys, "train", "--config", "codenet-tiny", "--out", str(checkpoint_dir), "--no-progress")
    assert_one_line_error(code, err, "--resume")


def test_resume_without_checkpoint(capsys, tmp_path):
    code, err = run_cli(capsys, "train", "--config", "codenet-tiny", "--out", str(tmp_path / "none"), "--resume")
    assert_one_line_error(code, err, "no such file")


@pytest.mark.parametrize("data, needle", [
    ("voc:/nonexistent/VOCdevkit", "/nonexistent"),
    ("coco:/nonexistent/images:/nonexistent/instances.json", "/nonexistent"),
    ("imagenet", "bad data set"),
])
def test_missing_or_unknown_data_set(capsys, tmp_path, data, needle):
    code, err = run_cli(capsys, "train", "--config", "codenet-tiny", "--out", str(tmp_path / "r"), "--data", data)
    assert_one_line_error(code, err, needle)


def test_malformed_voc_data_set(capsys, tmp_path):
    root = tmp_path / "voc"
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / sub).mkdir(parents=True)
    (root / "ImageSets/Main/trainval.txt").write_text("0001\n")
    (root / "Annotations/0001.xml").write_text("<annotation><object>")
    code, err = run_cli(capsys, "train", "--config", "codenet-tiny", "--out", str(tmp_path / "r"),
                        "--data", f"voc:{root}", "--no-progress")
    assert code == 2 and "Traceback" not in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("text, needle", [
    ("model: {input_size: 100}\n", "multiple of 32"),
    ("model: {deform: wobbly}\n", "deform"),
    ("model: {widht: 3}\n", "unknown model config keys: widht"),
    ("train: {batch_size: 0}\n", "batch_size"),
    ("train: {epochs: 3}\n", "unknown train settings"),
    ("model: [1, 2\n", "not valid YAML"),
])
def test_bad_config(capsys, tmp_path, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, err = run_cli(capsys, "train", "--config", str(path), "--out", str(tmp_path / "r"))
    assert_one_line_error(code, err, needle)


def test_unknown_preset(capsys, tmp_path):
    code, err = run_cli(capsys, "info", "--config", "codenet-xxl")
    assert_one_line_error(code, err, "codenet-s")


def test_cli_exit_code_in_a_real_process(tmp_path):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"\x00" * 100)
    p = subprocess.run([sys.executable, "-m", "codenet.host.cli", "eval", "--model", str(bad), "--no-progress"],
                       capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.startswith("codenet: error: ") and "Traceback" not in p.stderr
