"""Training: resumable exactly, and every bad input is one clear line with a non-zero exit."""

import json
import subprocess
import sys

import pytest
import torch

from codenet.host.cli import main
from codenet.host.errors import CodenetError
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


def test_weight_average_crops_and_channels_last_resume_exactly(tmp_path):
    """The float phase's weight average is checkpointed with the run and QAT starts from it."""
    cfg, s = tiny(checkpoint_every=1, ema=0.9, crop=32, channels_last=True, val_every=1,
                  report_splits=["test"], eval_float=True)
    straight = Trainer(cfg, s, tmp_path / "a", progress=False).run()
    Trainer(cfg, s, tmp_path / "b", progress=False).run(stop_after_steps=3)
    resumed = Trainer(cfg, s, tmp_path / "b", progress=False).run(resume=True)
    sa, sb = load_model(straight)[0].state_dict(), load_model(resumed)[0].state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    # the float model saved at the switch to QAT is the average, not the last step's weights
    float_model, _, meta = load_model(tmp_path / "a" / "float.pt")
    last = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)
    assert meta["phase"] == "float" and not float_model.is_quant
    for k, v in float_model.state_dict().items():
        assert torch.equal(v, last["ema"]["averaged"][k]), k
    rows = json.loads((tmp_path / "a" / "log.json").read_text())
    assert all("val_AP50" in r and r["images_per_s"] > 0 for r in rows)
    floats = json.loads((tmp_path / "a" / "float_metrics.json").read_text())
    assert set(floats) == {"float", "float_test"} and (tmp_path / "a" / "metrics_test.json").is_file()


def test_qat_weight_average_resumes_exactly_and_is_the_shipped_model(tmp_path):
    """qat_ema: the W4A8 model quantizes the QAT phase's average of its trained parameters; the
    frozen BN statistics and activation scales, buffers, are copied, never averaged."""
    cfg, s = tiny(checkpoint_every=1, qat_epochs=2, qat_ema=0.9)
    straight = Trainer(cfg, s, tmp_path / "a", progress=False).run()
    Trainer(cfg, s, tmp_path / "b", progress=False).run(stop_after_steps=6)  # mid QAT: 4 steps an epoch
    resumed = Trainer(cfg, s, tmp_path / "b", progress=False).run(resume=True)
    shipped, resumed = load_model(straight)[0].state_dict(), load_model(resumed)[0].state_dict()
    assert all(torch.equal(shipped[k], resumed[k]) for k in shipped)
    last = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)
    average, weights = last["qat_ema"]["averaged"], last["model"]
    trained = {k for k, _ in Trainer(cfg, s, tmp_path / "c", progress=False).model.named_parameters()}
    for k, v in average.items():
        assert torch.equal(shipped[k], v), k
        if k not in trained:
            assert torch.equal(v, weights[k]), k
    moved = [k for k in trained if k in weights and not torch.equal(shipped[k], weights[k])]
    assert moved, "the average equals the last step's weights"


def test_a_checkpoint_from_before_a_new_setting_resumes(tmp_path):
    """A setting added since a checkpoint was written counts as its default there, not as a change."""
    cfg, s = tiny(checkpoint_every=1)
    Trainer(cfg, s, tmp_path / "a", progress=False).run(stop_after_steps=2)
    path = tmp_path / "a" / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    del state["settings"]["qat_ema"], state["qat_ema"]
    torch.save(state, path)
    assert load_model(Trainer(cfg, s, tmp_path / "a", progress=False).run(resume=True))[0].is_quant
    changed = tiny(checkpoint_every=1, qat_ema=0.9)[1]
    with pytest.raises(CodenetError, match="other training settings"):
        Trainer(cfg, changed, tmp_path / "a", progress=False).restore()


def test_crops_in_the_float_phase_then_the_full_size():
    _, s = tiny(float_epochs=4, full_epochs=1, crop=32)
    assert [s.crop_at(e, quant=False) for e in range(4)] == [32, 32, 32, 0]
    assert s.crop_at(0, quant=True) == 0  # QAT at the size the hardware sees
    assert tiny(float_epochs=4, crop=32)[1].crop_at(3, quant=False) == 32


def test_qat_only_run_from_a_float_model(tmp_path):
    cfg, s = tiny(qat_epochs=0, ema=0.9)
    Trainer(cfg, s, tmp_path / "float", progress=False).run()
    float_model = tmp_path / "float" / "model.pt"
    average = torch.load(tmp_path / "float" / "checkpoint.pt", weights_only=True)["ema"]["averaged"]
    assert all(torch.equal(v, average[k]) for k, v in load_model(float_model)[0].state_dict().items())
    cfg, s = tiny(float_epochs=0, qat_epochs=1, init_from=str(float_model), distill=1.0)
    trainer = Trainer(cfg, s, tmp_path / "qat", progress=False)
    start = load_model(float_model)[0].state_dict()
    assert all(torch.equal(v, trainer.model.state_dict()[k]) for k, v in start.items())
    assert load_model(trainer.run())[0].is_quant
    with pytest.raises(CodenetError, match="needs a float model"):
        Trainer(cfg, TrainSettings.from_dict({**s.__dict__, "init_from": str(tmp_path / "qat" / "model.pt")}),
                tmp_path / "again", progress=False)



def test_pretrained_backbone_and_a_fresh_decoder(tmp_path):
    """init_backbone: the stem and backbone of a float model, the decoder and head as initialised."""
    import dataclasses

    cfg, s = tiny(qat_epochs=0)
    Trainer(cfg, s, tmp_path / "float", progress=False).run()
    source = load_model(tmp_path / "float" / "model.pt")[0]
    plain = dataclasses.replace(cfg, deform="plain").validate()  # another decoder over the same backbone
    fresh = Trainer(plain, tiny()[1], tmp_path / "fresh", progress=False).model.state_dict()
    started = Trainer(plain, tiny(init_backbone=str(tmp_path / "float" / "model.pt"))[1], tmp_path / "b",
                      progress=False).model.state_dict()
    for k, v in started.items():
        want = source.state_dict()[k] if k.startswith(("stem.", "backbone.")) else fresh[k]
        assert torch.equal(v, want), k
    wider = dataclasses.replace(cfg, stem=(cfg.stem[0] * 2, cfg.stem[1])).validate()
    with pytest.raises(CodenetError, match="not those of config"):
        Trainer(wider, tiny(init_backbone=str(tmp_path / "float" / "model.pt"))[1], tmp_path / "c", progress=False)

def test_vectorized_targets_equal_one_gaussian_at_a_time():
    import numpy as np

    from codenet.model.targets import MAX_OBJECTS, centernet_targets, gaussian_radius

    def reference(boxes, labels, num_classes, out_size, stride):
        """The per-object loop the vectorized targets replace."""
        hm = np.zeros((num_classes, out_size, out_size), np.float32)
        index, mask = np.zeros(MAX_OBJECTS, np.int64), np.zeros(MAX_OBJECTS, np.float32)
        size, offset = np.zeros((MAX_OBJECTS, 2), np.float32), np.zeros((MAX_OBJECTS, 2), np.float32)
        for k, (box, label) in enumerate(zip(boxes[:MAX_OBJECTS], labels[:MAX_OBJECTS])):
            x1, y1, x2, y2 = np.asarray(box, np.float32) / stride
            w, h = x2 - x1, y2 - y1
            if w <= 0 or h <= 0:
                continue
            c = np.array([(x1 + x2) / 2, (y1 + y2) / 2], np.float32)
            cx, cy = np.clip(c.astype(np.int64), 0, out_size - 1)
            r = max(0, int(gaussian_radius(np.float64(np.ceil(h)), np.float64(np.ceil(w)))))
            sigma = (2 * r + 1) / 6
            ax = np.arange(-r, r + 1, dtype=np.float32)
            g = np.exp(-(ax[:, None] ** 2 + ax[None, :] ** 2) / (2 * sigma * sigma))
            left, right, top, bottom = min(cx, r), min(out_size - cx, r + 1), min(cy, r), min(out_size - cy, r + 1)
            region = hm[label, cy - top:cy + bottom, cx - left:cx + right]
            np.maximum(region, g[r - top:r + bottom, r - left:r + right], out=region)
            index[k], size[k], offset[k], mask[k] = cy * out_size + cx, (w, h), c - (cx, cy), 1
        return {"heatmap": hm, "index": index, "size": size, "offset": offset, "mask": mask}

    rng = np.random.default_rng(0)
    for trial in range(200):
        k = int(rng.integers(0, 70))  # beyond MAX_OBJECTS too
        corner = rng.uniform(-20, 256, (k, 2))
        boxes = np.concatenate([corner, corner + rng.uniform(0, 120, (k, 2))], axis=1).astype(np.float32)
        boxes[: k // 3] = np.round(boxes[: k // 3])  # integer edges, empty boxes among them
        labels = rng.integers(0, 3, k)
        want, got = reference(boxes, labels, 3, 64, 4), centernet_targets(boxes, labels, 3, 64, 4)
        for key in want:
            assert np.array_equal(want[key], got[key]), (trial, key)


def test_dense_box_targets_decode_each_object_from_every_weighted_cell():
    import numpy as np

    from codenet.host.decode import boxes_at
    from codenet.model.targets import centernet_targets

    rng = np.random.default_rng(1)
    for trial in range(50):
        k = int(rng.integers(1, 12))
        corner = rng.uniform(0, 200, (k, 2))
        boxes = np.concatenate([corner, corner + rng.uniform(8, 90, (k, 2))], axis=1).astype(np.float32)
        labels = rng.integers(0, 2, k)
        centre = centernet_targets(boxes, labels, 2, 64, 4)
        dense = centernet_targets(boxes, labels, 2, 64, 4, dense=True)
        for key in centre:  # the centre targets are unchanged
            assert np.array_equal(centre[key], dense[key]), (trial, key)
        weight, box = dense["box_weight"], dense["box_map"]
        ys, xs = np.nonzero(weight)
        decoded = boxes_at(xs, ys, box[0, ys, xs], box[1, ys, xs], box[2, ys, xs], box[3, ys, xs], 4)
        # every weighted cell decodes one object's box; each object's weights sum to 1
        owner = np.abs(decoded[:, None, :] - boxes[None]).max(axis=2).argmin(axis=1)
        assert np.allclose(decoded, boxes[owner], atol=1e-3), trial
        sums = np.bincount(owner, weights=weight[ys, xs], minlength=k)
        assert np.allclose(sums[sums > 0], 1, atol=1e-5), trial
        # an object's centre cell is its own unless a smaller object's Gaussian peaks there too
        cells = dense["index"][:k]
        assert set(owner[np.isin(ys * 64 + xs, cells)]) <= set(range(k))
    empty = centernet_targets(np.zeros((0, 4), np.float32), np.zeros(0, np.int64), 2, 64, 4, dense=True)
    assert not empty["box_weight"].any() and empty["box_map"].shape == (4, 64, 64)


def test_dense_box_loss_with_centre_weights_is_the_centre_loss():
    import numpy as np

    from codenet.model.loss import centernet_loss
    from codenet.model.targets import centernet_targets

    boxes = np.array([[10, 12, 60, 50], [100, 90, 180, 200], [30, 150, 70, 190]], np.float32)
    arrays = centernet_targets(boxes, np.array([0, 1, 0]), 2, 64, 4, dense=True)
    t = {k: torch.as_tensor(v)[None] for k, v in arrays.items()}
    torch.manual_seed(0)
    heat, size, offset = torch.randn(1, 2, 64, 64), torch.randn(1, 2, 64, 64) * 9, torch.rand(1, 2, 64, 64)
    _, centre = centernet_loss(heat, size, offset, {k: v for k, v in t.items() if not k.startswith("box_")})
    weight = torch.zeros(1, 64 * 64)
    weight[0, t["index"][0, :3]] = 1
    box_map = torch.zeros(1, 4, 64 * 64)
    box_map[0, :, t["index"][0, :3]] = torch.cat([t["size"][0, :3], t["offset"][0, :3]], dim=1).T
    at_centres = {**t, "box_weight": weight.view(1, 64, 64), "box_map": box_map.view(1, 4, 64, 64)}
    _, dense = centernet_loss(heat, size, offset, at_centres)
    assert dense["size"] == pytest.approx(centre["size"], rel=1e-4)
    assert dense["offset"] == pytest.approx(centre["offset"], rel=1e-4)
    _, spread = centernet_loss(heat, size, offset, t)  # the Gaussian cells weigh in too
    assert spread["size"] != pytest.approx(centre["size"], rel=1e-3)


def test_dense_boxes_train_and_resume_exactly(tmp_path):
    cfg, s = tiny(checkpoint_every=1, dense_boxes=True)
    straight = Trainer(cfg, s, tmp_path / "a", progress=False).run()
    Trainer(cfg, s, tmp_path / "b", progress=False).run(stop_after_steps=3)
    resumed = Trainer(cfg, s, tmp_path / "b", progress=False).run(resume=True)
    sa, sb = load_model(straight)[0].state_dict(), load_model(resumed)[0].state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert load_model(straight)[2]["settings"]["dense_boxes"] is True


def test_boolean_train_settings_on_the_command_line():
    import argparse

    from codenet.model.cli_args import add_train_args

    p = argparse.ArgumentParser()
    add_train_args(p)
    assert p.parse_args(["--out", "x", "--dense-boxes"]).dense_boxes is True
    assert p.parse_args(["--out", "x", "--no-dense-boxes"]).dense_boxes is False
    assert p.parse_args(["--out", "x"]).dense_boxes is None  # the config decides


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
    ("train: {ema: 1.0}\n", "ema must be in [0, 1)"),
    ("train: {qat_ema: -0.1}\n", "qat_ema must be in [0, 1)"),
    ("train: {crop: 100}\n", "crop must be 0 or a multiple of 32"),
    ("train: {full_epochs: 9}\n", "full_epochs must be an integer in 0..float_epochs"),
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
