"""Ablation: the decoder's deformable variants over seeds, on both data sets, and whether distillation
helps QAT. Every variant gets the same budget, data and seeds; only the decoder's sampling differs.

Each run is `codenet train` on a config written into its folder (resumable: rerunning continues
unfinished runs and skips finished ones), `--jobs` at a time with one torch thread each. The table
gives the mean and spread over seeds, and the per-seed paired difference to the hardware variant.

    python -m codenet.model.ablation --study trees --seeds 0 1 2 --jobs 2 --out runs/ablation
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from codenet.host.errors import CodenetError
from codenet.host.io import write_bytes_atomic, write_json_atomic

VARIANTS = {
    "bounded": "bounded deformable, integer d in {1..4} (hardware semantics, ours)",
    "plain": "plain depthwise 3x3 (d = 1)",
    "fixed": "fixed dilation d = 2",
    "bilinear": "bilinear real-valued dilation, rounded after float training (CoDeNet's way)",
}
REFERENCE = "bounded"


@dataclasses.dataclass(frozen=True)
class Study:
    """One data set's budget. The stem and backbone start from a float model of that data (a
    pretrained feature extractor, as CoDeNet starts from ImageNet's), the decoder and head from
    scratch: that is what lets each variant come near its accuracy within minutes on one core."""

    config: str      # the preset whose network and training section the runs start from
    model: dict      # overrides of its model section
    budget: dict     # overrides of its training section
    backbone: str    # the float model (a training run's float.pt) the backbone comes from
    about: str       # one line for the report


STUDIES = {
    "trees": Study(
        "trees", {},
        {"float_epochs": 40, "qat_epochs": 1, "lr": 0.004, "distill": 1.0, "val_every": 0,
         "report_splits": ["test"], "eval_float": True, "workers": 1, "threads": 1},
        "model/weights/trees-float.pt",
        "the tree detector's network at 256x256 on the trees set (257 training windows); AP50 on the "
        "held-out test bands (198 crowns)"),
    "synthetic": Study(
        "codenet-s", {"input_size": 128, "num_classes": 1},
        {"data": "synthetic-objects", "train_images": 2000, "val_images": 300, "float_epochs": 8,
         "qat_epochs": 1, "lr": 0.004, "distill": 1.0, "val_every": 0, "report_splits": ["test"],
         "eval_float": True, "workers": 1, "threads": 1},
        "runs/codenet-s/float.pt",
        "the codenet-s network at 128x128 on the class-agnostic synthetic set (2000 training scenes); "
        "AP50 on the held-out test split (300 scenes)"),
}


def run_dir(out: Path, study: str, name: str, seed: int) -> Path:
    return out / study / f"{name}-s{seed}"


def plan(study_name: str, seeds, out: Path, variants) -> list:
    """[(run folder, config YAML text, after)]: one training per variant and seed, and a QAT-only run
    without distillation from each seed's reference float model (`after`: the run it starts from)."""
    from codenet.model.config import config_yaml, load_config

    study = STUDIES[study_name]
    base_cfg, base_train = load_config(study.config)
    if not Path(study.backbone).is_file():
        raise CodenetError(f"{study.backbone} not found: the {study_name} study's backbone comes from that "
                           f"run (make {'train-trees' if study_name == 'trees' else 'train'})")
    runs = []
    for seed in seeds:
        for kind in variants:
            cfg = dataclasses.replace(base_cfg, **study.model, deform=kind).validate()
            train = {**base_train, **study.budget, "seed": seed, "init_backbone": study.backbone}
            runs.append((run_dir(out, study_name, kind, seed), config_yaml(cfg, train), None))
        if REFERENCE in variants:
            ref = run_dir(out, study_name, REFERENCE, seed)
            cfg = dataclasses.replace(base_cfg, **study.model, deform=REFERENCE).validate()
            train = {**base_train, **study.budget, "seed": seed, "init_from": str(ref / "float.pt"),
                     "float_epochs": 0, "distill": 0.0, "eval_float": False}
            runs.append((run_dir(out, study_name, "no-distill", seed), config_yaml(cfg, train), ref))
    return runs


def describe_backbone(path) -> dict:
    """The backbone file's digest and, from its metadata, the recipe that made it."""
    from codenet.model import checkpoint

    path = Path(path)
    record = {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:12]}
    try:
        settings = checkpoint.model_meta(path).get("settings", {})
    except CodenetError:  # not a model file: training will say so; the digest still pins it
        settings = {}
    record.update({k: settings[k] for k in ("data", "train_images", "float_epochs", "seed") if k in settings})
    return record


def pin_backbone(out: Path, study: str) -> dict:
    """Records the study's backbone in its folder; finished runs from another backbone are an error,
    since rerunning skips them and the table would mix two starts."""
    record = describe_backbone(STUDIES[study].backbone)
    pinned = out / study / "backbone.json"
    if pinned.exists():
        old = json.loads(pinned.read_text())
        if old.get("sha256") != record["sha256"]:
            raise CodenetError(f"{pinned.parent} holds runs from another backbone ({old.get('path')} sha256 "
                               f"{old.get('sha256')}, now {record['sha256']}): remove that folder or pass "
                               "another --out")
    write_json_atomic(record, pinned)
    return record


def train_all(runs, jobs: int, progress: bool) -> None:
    """Trains every unfinished run, `jobs` at a time, each `codenet train` in its own process (one
    torch thread: two share two cores), a run waiting for the run it starts from."""
    todo = [r for r in runs if not (r[0] / "metrics.json").exists()]
    done = {r[0] for r in runs} - {r[0] for r in todo}
    active, start = {}, time.perf_counter()
    while todo or active:
        for folder, proc in list(active.items()):
            if proc.poll() is not None:
                del active[folder]
                if proc.returncode != 0:
                    raise CodenetError(f"training {folder} failed (exit {proc.returncode}): see {folder / 'train.log'}")
                done.add(folder)
                if progress:
                    print(f"  done {folder} ({len(done)}/{len(runs)}, {time.perf_counter() - start:.0f} s)", flush=True)
        for run in [r for r in todo if r[2] is None or r[2] in done]:
            if len(active) >= jobs:
                break
            folder, config, _ = run
            todo.remove(run)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "config.yaml").write_text(config)
            cmd = [sys.executable, "-m", "codenet.host.cli", "train", "--config", str(folder / "config.yaml"),
                   "--out", str(folder), "--no-progress"]
            if (folder / "checkpoint.pt").exists():
                cmd.append("--resume")
            with open(folder / "train.log", "a") as log:
                active[folder] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        if active:
            time.sleep(2)


def _ap50(path: Path, key: str | None = None):
    """AP50 of a metrics file (of its entry `key`), None where the run has none."""
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    data = data.get(key) if key else data
    return data["AP50"] if data else None


def collect(study: str, seeds, out: Path, variants) -> dict:
    """{variant: {seed: {"float", "rounded", "w4a8"}: test AP50}} and the no-distillation QAT runs."""
    rows = {}
    for kind in [*variants, "no-distill"]:
        for seed in seeds:
            d = run_dir(out, study, kind, seed)
            if not (d / "metrics_test.json").exists():
                continue
            rows.setdefault(kind, {})[seed] = {
                "float": _ap50(d / "float_metrics.json", "float_test"),
                "rounded": _ap50(d / "float_metrics.json", "float_rounded_test"),
                "w4a8": _ap50(d / "metrics_test.json"),
            }
    return rows


def _spread(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def _backbone_text(study: Study, backbone: dict | None) -> str:
    if not backbone:
        return f"`{study.backbone}`"
    shown = ("data", "train_images", "float_epochs")
    recipe = ", ".join(f"{k.replace('_', ' ')} {backbone[k]}" for k in shown
                       if backbone.get(k) not in (None, 0))
    return f"`{backbone['path']}` (sha256 {backbone['sha256']}{': ' + recipe if recipe else ''})"


def report(study: str, rows: dict, seeds, backbone: dict | None = None) -> str:
    """The markdown table of one study: mean ± standard deviation over seeds (n in the header);
    `backbone` is what `pin_backbone` recorded."""
    from codenet.model.config import load_config

    ref = rows.get(REFERENCE, {})

    def paired(kind, key):
        diffs = [ref[s][key] - rows[kind][s][key] for s in rows[kind]
                 if s in ref and ref[s][key] is not None and rows[kind][s][key] is not None]
        return _spread(diffs) if diffs else "n/a"

    n = len(seeds)
    lines = [f"| decoder variant | float AP50 | float, d rounded | W4A8 AP50 | {REFERENCE} minus it (W4A8, "
             "paired by seed) |", "|---|---|---|---|---|"]
    for kind, text in VARIANTS.items():
        if kind not in rows:
            continue
        r = rows[kind].values()
        diff = "" if kind == REFERENCE else paired(kind, "w4a8")
        lines.append(f"| {text} | {_spread(x['float'] for x in r)} | {_spread(x['rounded'] for x in r)} | "
                     f"{_spread(x['w4a8'] for x in r)} | {diff} |")
    if "no-distill" in rows:
        r = rows["no-distill"].values()
        lines.append(f"| {VARIANTS[REFERENCE].split(',')[0]}, QAT without distillation | | | "
                     f"{_spread(x['w4a8'] for x in r)} | {paired('no-distill', 'w4a8')} |")
    study_ = STUDIES[study]
    scales = dataclasses.replace(load_config(study_.config)[0], **study_.model).weight_scale  # as plan() builds it
    hidden = ("workers", "threads", "eval_float", "val_every", "report_splits")
    budget = ", ".join(f"{k} {v}" for k, v in study_.budget.items() if k not in hidden)
    return ("\n".join(lines) + f"\n\nMean ± standard deviation over seeds {', '.join(map(str, seeds))} (n = {n}): "
            f"{study_.about}. Budget per run: {budget}; stem and backbone from "
            f"{_backbone_text(study_, backbone)}, decoder and head from scratch; the W4A8 figure is after its "
            f"QAT epoch(s), weight scales {scales}. \"QAT without distillation\" "
            f"starts from the same seed's {REFERENCE} float model as the row above it.\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m codenet.model.ablation", description=__doc__.splitlines()[0])
    p.add_argument("--study", nargs="+", default=list(STUDIES), choices=list(STUDIES))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--jobs", type=int, default=1, help="trainings at once, one torch thread each (default 1)")
    p.add_argument("--out", default="runs/ablation")
    p.add_argument("--report", default=None, help="also write the markdown tables here")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    out = Path(args.out)
    try:
        runs = [r for s in args.study for r in plan(s, args.seeds, out, args.variants)]
        backbones = {s: pin_backbone(out, s) for s in args.study}
        train_all(runs, max(1, args.jobs), not args.no_progress)
    except CodenetError as e:
        print(f"ablation: error: {e}", file=sys.stderr)
        return 2
    results, tables = {}, []
    for s in args.study:
        results[s] = {"seeds": args.seeds, "rows": collect(s, args.seeds, out, args.variants),
                      "backbone": backbones[s]}
        tables.append(f"### {s}\n\n" + report(s, results[s]["rows"], args.seeds, backbones[s]))
    write_json_atomic(results, out / "ablation.json")
    text = "\n".join(tables)
    print(text)
    if args.report:
        write_bytes_atomic(("# Ablation: deformable variants over seeds\n\n" + text).encode(), args.report)
        print(f"-> {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
