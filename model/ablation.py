"""Ablation: the decoder's deformable variants and float vs W4A8, each trained on the same budget.

Runs one training per variant (resumable: rerunning continues unfinished runs) and writes a markdown
table plus JSON. Usage: python -m codenet.model.ablation --out runs/ablation --report model/results.md
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from codenet.host.errors import CodenetError
from codenet.host.io import write_json_atomic

VARIANTS = {
    "bounded": "bounded deformable, integer d in {1..4} (hardware semantics, ours)",
    "plain": "plain depthwise 3x3 (d = 1)",
    "fixed": "fixed dilation d = 2",
    "bilinear": "bilinear real-valued dilation, rounded after float training (CoDeNet's way)",
}
# the shared budget: the codenet-s network at 128x128 input (a quarter of the default's pixels) on the
# class-agnostic synthetic set, so that each variant learns to localize within minutes on one CPU
# core: what the decoder's sampling changes is localization. Identical data, epochs and seed.
INPUT_SIZE = 128
BUDGET = {"data": "synthetic-objects", "train_images": 2000, "val_images": 300, "val_split": "test",
          "float_epochs": 5, "qat_epochs": 1, "workers": 0, "threads": 1, "eval_float": True,
          "report_splits": []}


def budget() -> dict:
    """What every variant trains with: BUDGET over codenet-s's train section (its learning rates)."""
    from codenet.model.config import load_config

    train = load_config("codenet-s")[1]
    return {**{k: train[k] for k in ("batch_size", "lr", "qat_lr") if k in train}, **BUDGET}


def run_variant(kind: str, out: Path, progress: bool) -> dict:
    from codenet.model.config import load_config
    from codenet.model.network import CoDeNet, count
    from codenet.model.train import Trainer, TrainSettings

    cfg, train = load_config("codenet-s")
    cfg = dataclasses.replace(cfg, deform=kind, input_size=INPUT_SIZE, num_classes=1).validate()
    settings = TrainSettings.from_dict({**train, **BUDGET})
    run_dir = out / kind
    if not (run_dir / "metrics.json").exists():
        Trainer(cfg, settings, run_dir, progress=progress).run(resume=(run_dir / "checkpoint.pt").exists())
    floats = json.loads((run_dir / "float_metrics.json").read_text())
    quant = json.loads((run_dir / "metrics.json").read_text())
    sizes = count(CoDeNet(cfg))
    return {"variant": kind, "float": floats["float"], "float_rounded": floats.get("float_rounded"),
            "w4a8": quant, **sizes}


def report(rows, budget) -> str:
    def ap(m):
        return "n/a" if m is None else f"{m['AP50']:.1f}"

    lines = [
        "| decoder variant | float AP50 | float, d rounded | W4A8 AP50 | W4A8 mAP | params | MACs | weight bytes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {VARIANTS[r['variant']]} | {ap(r['float'])} | {ap(r['float_rounded'])} | {ap(r['w4a8'])} "
                     f"| {r['w4a8']['mAP']:.1f} | {r['parameters'] / 1e3:.1f} k | {r['macs'] / 1e6:.1f} M "
                     f"| {r['weight_bytes'] / 1024:.1f} KiB |")
    budget_text = ", ".join(f"{k}={v}" for k, v in budget.items())
    return "\n".join(lines) + (f"\n\nBudget per variant: the codenet-s network at {INPUT_SIZE}x{INPUT_SIZE}, "
                                f"{budget_text}, seed 0; AP on the held-out synthetic test split.\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/ablation")
    p.add_argument("--report", default=None, help="write the markdown table here (and JSON beside it)")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    try:
        rows = [run_variant(k, Path(args.out), not args.no_progress) for k in args.variants]
    except CodenetError as e:
        print(f"ablation: error: {e}", file=sys.stderr)
        return 2
    table = report(rows, budget())
    print(table)
    write_json_atomic(rows, Path(args.out) / "ablation.json")
    if args.report:
        from codenet.host.io import write_bytes_atomic

        write_bytes_atomic(("# Ablation: deformable variants, float vs W4A8\n\n" + table).encode(), args.report)
        print(f"-> {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
