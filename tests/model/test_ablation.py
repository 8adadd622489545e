"""The ablation's plan (one valid config a run, the same budget for every variant) and its table
(mean and spread over seeds, paired differences), on metric files written here."""

import dataclasses
import json

import pytest

from codenet.host.errors import CodenetError
from codenet.model import ablation
from codenet.model.config import load_config


@pytest.fixture
def study(tmp_path, monkeypatch):
    backbone = tmp_path / "float.pt"
    backbone.write_bytes(b"")
    monkeypatch.setitem(ablation.STUDIES, "trees", dataclasses.replace(ablation.STUDIES["trees"],
                                                                      backbone=str(backbone)))
    return backbone


def test_plan_gives_every_variant_the_same_budget(tmp_path, study):
    runs = ablation.plan("trees", [0, 1], tmp_path / "out", list(ablation.VARIANTS))
    assert len(runs) == 2 * (len(ablation.VARIANTS) + 1)
    configs = {}
    for folder, text, after in runs:
        (tmp_path / "c.yaml").write_text(text)
        cfg, train = load_config(str(tmp_path / "c.yaml"))
        configs[folder.name] = (cfg, train, after)
    for seed in (0, 1):
        ref_cfg, ref_train, _ = configs[f"bounded-s{seed}"]
        for kind in ablation.VARIANTS:
            cfg, train, after = configs[f"{kind}-s{seed}"]
            assert cfg.deform == kind and dataclasses.replace(cfg, deform="bounded") == ref_cfg
            assert train == ref_train and train["seed"] == seed and after is None
            assert train["init_backbone"] == str(study)
        cfg, train, after = configs[f"no-distill-s{seed}"]
        assert after == tmp_path / "out" / "trees" / f"bounded-s{seed}" and cfg == ref_cfg
        assert train["init_from"] == str(after / "float.pt") and train["distill"] == 0 and train["float_epochs"] == 0


def test_plan_names_the_missing_backbone(tmp_path, study):
    study.unlink()
    with pytest.raises(CodenetError, match="make train-trees"):
        ablation.plan("trees", [0], tmp_path, ["bounded"])


def test_a_study_folder_keeps_to_its_backbone(tmp_path, study):
    out = tmp_path / "out"
    record = ablation.pin_backbone(out, "trees")
    assert record["path"] == str(study) and len(record["sha256"]) == 12
    assert ablation.pin_backbone(out, "trees") == record  # the same file: runs resume
    study.write_bytes(b"another float model")
    with pytest.raises(CodenetError, match="another backbone"):
        ablation.pin_backbone(out, "trees")  # finished runs would be skipped and mixed into the table


def test_backbone_recipe_comes_from_the_model_file(tmp_path):
    from codenet.model import checkpoint
    from codenet.model.config import ModelConfig
    from codenet.model.network import CoDeNet

    path = tmp_path / "float.pt"
    model = CoDeNet(ModelConfig(input_size=64, num_classes=1, backbone=((16, 2), (16, 2), (16, 2), (16, 2)),
                                neck=(16, 16, 16), head_channels=8))
    checkpoint.save_model(model, ["tree"], path, {"settings": {"data": "trees", "train_images": 0,
                                                               "float_epochs": 300, "seed": 0}})
    record = ablation.describe_backbone(path)
    assert record["float_epochs"] == 300 and record["data"] == "trees"
    text = ablation._backbone_text(ablation.STUDIES["trees"], record)
    assert text == f"`{path}` (sha256 {record['sha256']}: data trees, float epochs 300)"


def write_run(folder, float_ap, w4a8_ap, rounded=None):
    folder.mkdir(parents=True)
    floats = {"float_test": {"AP50": float_ap}}
    if rounded is not None:
        floats["float_rounded_test"] = {"AP50": rounded}
    (folder / "float_metrics.json").write_text(json.dumps(floats))
    (folder / "metrics_test.json").write_text(json.dumps({"AP50": w4a8_ap}))


def test_report_gives_mean_spread_and_paired_differences(tmp_path):
    out = tmp_path / "out"
    for seed, (b, p) in enumerate([(40.0, 30.0), (42.0, 36.0), (44.0, 36.0)]):
        write_run(out / "trees" / f"bounded-s{seed}", b + 1, b)
        write_run(out / "trees" / f"plain-s{seed}", p + 1, p)
        write_run(out / "trees" / f"bilinear-s{seed}", 10.0, 9.0, rounded=8.0)
    rows = ablation.collect("trees", [0, 1, 2], out, list(ablation.VARIANTS))
    assert set(rows) == {"bounded", "plain", "bilinear"}
    # through JSON, as make report reads it (the seeds become strings)
    table = ablation.report("trees", json.loads(json.dumps(rows)), [0, 1, 2])
    lines = {line.split(" | ")[0].lstrip("| "): line for line in table.splitlines() if line.startswith("| ")}
    bounded = lines[ablation.VARIANTS["bounded"]].split(" | ")
    plain = lines[ablation.VARIANTS["plain"]].split(" | ")
    assert bounded[1:4] == ["43.0 ± 2.0", "n/a", "42.0 ± 2.0"]
    assert plain[3] == "34.0 ± 3.5" and plain[4] == "8.0 ± 2.0 |"  # 10, 6, 8 bounded minus plain
    assert lines[ablation.VARIANTS["bilinear"]].split(" | ")[2] == "8.0 ± 0.0"
    assert ablation.VARIANTS["fixed"] not in table and "n = 3" in table


def test_rerunning_one_study_keeps_the_others_text(tmp_path):
    """make report after an ablation of one study: the other study's tables stay as the file had them."""
    from codenet.model import report

    out = tmp_path / "ablation"
    for seed in range(2):
        write_run(out / "synthetic" / f"bounded-s{seed}", 50.0 + seed, 45.0 + seed)
    rows = ablation.collect("synthetic", [0, 1], out, ["bounded"])
    (out / "ablation.json").write_text(json.dumps({"synthetic": {"seeds": [0, 1], "rows": rows}}))
    results = tmp_path / "results.md"
    results.write_text("# Results\n\n## Ablation: old\n\n### trees\n\n| trees table |\n\nabout trees\n\n"
                       "### synthetic\n\n| old synthetic table |\n\n" + report.ABLATION_FOOTER + " (old).\n")
    assert report.main(["--run", str(tmp_path / "none"), "--trees", str(tmp_path / "none"),
                        "--ablation", str(out), "--ptq", str(tmp_path / "none"),
                        "--ptq-synthetic", str(tmp_path / "none"), "--prune", str(tmp_path / "none"),
                        "--shift", str(tmp_path / "none"), "--out", str(results)]) == 0
    text = results.read_text()
    assert "### trees\n\n| trees table |\n\nabout trees\n\n### synthetic" in text
    assert "old synthetic table" not in text and "45.5 ± 0.7" in text
    assert text.count(report.ABLATION_FOOTER) == 1
