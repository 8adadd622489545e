"""Writes model/results.md from a default training run and an ablation run.

python -m codenet.model.report --run runs/codenet-s --ablation runs/ablation --out model/results.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _read(path):
    return json.loads(Path(path).read_text())


def model_meta(path) -> dict:
    from codenet.model.checkpoint import MODEL_FORMAT, load

    return load(path, MODEL_FORMAT).get("meta", {})


def default_section(run: Path) -> str:
    from codenet.model.config import ModelConfig
    from codenet.model.network import CoDeNet, count

    floats = _read(run / "float_metrics.json")["float"]
    quant = _read(run / "metrics.json")
    log = _read(run / "log.json")
    from codenet.model.checkpoint import CHECKPOINT_FORMAT, load

    state = load(run / "checkpoint.pt", CHECKPOINT_FORMAT)
    cfg = ModelConfig.from_dict(state["config"])
    settings = state["settings"]
    sizes = count(CoDeNet(cfg))
    seconds = sum(r["seconds"] for r in log)
    meta = model_meta(run / "model.pt")
    where = (f"{meta['device']} ({meta['threads']} threads, {meta.get('processes', 1)} process(es))"
             if "device" in meta else "the CPU")
    rows = ["| model | AP50 | mAP@[.5:.95] | AP75 | VOC AP50 |", "|---|---|---|---|---|"]
    for name, m in (("float", floats), ("W4A8 (QAT, hardware integers)", quant)):
        rows.append(f"| {name} | {m['AP50']:.1f} | {m['mAP']:.1f} | {m['AP75']:.1f} | {m['VOC_AP50']:.1f} |")
    per_class = ", ".join(f"{k} {v:.0f}" for k, v in quant["per_class_AP50"].items())
    return "\n".join([
        f"## Default model: {cfg.name} (`model/weights/codenet-s.pt`)",
        "",
        f"{cfg.input_size}x{cfg.input_size} input, {cfg.num_classes} classes, bounded deformable decoder "
        f"(D = {cfg.bound}), W{cfg.weight_bits}A{cfg.act_bits} (first conv W{cfg.stem_weight_bits}). "
        f"{sizes['parameters'] / 1e3:.1f} k parameters, {sizes['macs'] / 1e6:.1f} M MACs per frame, "
        f"{sizes['weight_bytes'] / 1024:.1f} KiB of weights at their bit widths.",
        "",
        f"AP on {settings['val_images']} images of the held-out synthetic `{settings['val_split']}` split:",
        "",
        *rows,
        "",
        f"W4A8 minus float: {quant['AP50'] - floats['AP50']:+.1f} AP50 points.",
        f"Per-class AP50 (W4A8): {per_class}.",
        "",
        f"How it was made: `make train` (`codenet train --config codenet-s`): synthetic set, "
        f"{settings['train_images']} training images, {settings['float_epochs']} float epochs (AdamW, lr "
        f"{settings['lr']}, cosine) then {settings['qat_epochs']} QAT epochs (lr {settings['qat_lr']}, BN "
        f"frozen and folded into the integer requantization), batch {settings['batch_size']}, seed "
        f"{settings['seed']}; {seconds / 60:.0f} minutes of training steps on {where}. Precision-recall curves: "
        f"`runs/codenet-s/pr.png` after `make train`.",
    ])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default="runs/codenet-s")
    p.add_argument("--ablation", default="runs/ablation")
    p.add_argument("--out", default="model/results.md")
    args = p.parse_args(argv)
    from codenet.host.io import write_bytes_atomic
    from codenet.model.ablation import budget, report

    parts = ["# Results", "", default_section(Path(args.run)), ""]
    ablation = Path(args.ablation) / "ablation.json"
    if ablation.exists():
        parts += ["## Ablation: the decoder's deformable variants, float vs W4A8", "", report(_read(ablation), budget()),
                  "How to read it: one seed, 300 test images and a short budget, so differences of a point or two "
                  "are within run-to-run noise. The W4A8 column is the float model after calibration plus its QAT "
                  "epoch(s), so it has trained longer than the float column. \"float, d rounded\" is CoDeNet's "
                  "recipe: bilinear (real-valued) dilations in training, rounded to the hardware's integers "
                  "after it.", ""]
    write_bytes_atomic(("\n".join(parts) + "\n").encode(), args.out)
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
