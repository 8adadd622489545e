"""Writes model/results.md from the default training run, the tree detector's run and an ablation run.

python -m codenet.model.report --run runs/codenet-s --trees runs/trees --ablation runs/ablation \
    --out model/results.md

A section whose run folder is absent is kept as the existing file has it, so one model can be
retrained and reported without the others.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _read(path):
    return json.loads(Path(path).read_text())


def default_section(run: Path) -> str:
    from codenet.model.config import ModelConfig
    from codenet.model.network import CoDeNet, count

    # tuned on val: the test split's numbers are in metrics_test.json (older runs validated on test)
    test = (run / "metrics_test.json").exists()
    floats = _read(run / "float_metrics.json")["float_test" if test else "float"]
    quant = _read(run / "metrics_test.json" if test else run / "metrics.json")
    log = _read(run / "log.json")
    from codenet.model.checkpoint import CHECKPOINT_FORMAT, load, model_meta

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
        f"AP on {settings['val_images']} images of the held-out synthetic `{'test' if test else settings['val_split']}` "
        f"split{' (the learning rate was chosen on val)' if test else ''}:",
        "",
        *rows,
        "",
        f"W4A8 minus float: {quant['AP50'] - floats['AP50']:+.1f} AP50 points.",
        f"Per-class AP50 (W4A8): {per_class}.",
        *_scores_lines(quant, meta),
        "",
        f"How it was made: `make train` (`codenet train --config codenet-s`): synthetic set, "
        f"{settings['train_images']} training images, {settings['float_epochs']} float epochs "
        f"({_views(settings, cfg.input_size)}; AdamW, lr "
        f"{settings['lr']}, cosine{', weight EMA ' + str(settings['ema']) if settings.get('ema') else ''}) then "
        f"{settings['qat_epochs']} QAT epochs (lr {settings['qat_lr']}, BN frozen and folded into the integer "
        f"requantization{', distilled from the float model' if settings.get('distill') else ''}), batch "
        f"{settings['batch_size']}, seed "
        f"{settings['seed']}; {seconds / 60:.0f} minutes of training steps on {where}: "
        f"{_rates(log)}. Precision-recall curves: "
        f"`runs/codenet-s/pr.png` after `make train`.",
    ])


def _scores_lines(quant: dict, meta: dict) -> list:
    """How the W4A8 model's boxes score: class-agnostic AP50, the true objects' scores, and the threshold
    its bundle carries (the best F1 on val), where the metrics hold them."""
    lines = []
    if "agnostic_AP50" in quant and len(quant.get("per_class_AP50", {})) > 1:
        lines.append(f"Class-agnostic AP50 (W4A8, every box one class: localization alone): {quant['agnostic_AP50']:.1f}.")
    if "true_score_median" in quant:
        lines.append(f"True objects' best score: median {quant['true_score_median'] / 100:.2f}; recall at score 0.3 "
                     f"{quant['recall_at_0.3']:.0f} %, at 0.5 {quant['recall_at_0.5']:.0f} %.")
    if "score_calibration" in meta:
        cal = meta["score_calibration"]
        lines.append(f"Scores calibrated on {cal['split']} (Platt scaling, sigmoid(a * logit + b) with a = {cal['a']:.3f}, "
                     f"b = {cal['b']:.3f}; it keeps every detection and AP): D-ECE there "
                     f"{cal['calibration_error'][0]:.1f} -> {cal['calibration_error'][1]:.1f} %.")
    if "calibration_error" in quant:
        lines.append(_calibration_text(quant))
    val = meta.get("val", {})
    if "score_threshold" in val:
        lines.append(f"Score threshold in its bundle (the default of `codenet detect`): {val['score_threshold']:.2f}, "
                     f"the best F1 on val ({val['F1']:.1f} %).")
    return lines


def _calibration_text(m: dict, what: str = "Scores") -> str:
    """The scores against the share of true detections at them (evaluate.score_calibration)."""
    bins = ", ".join(f"{score:.2f} -> {share * 100:.0f} %" for score, share, _ in m["reliability"])
    return (f"{what} as estimates of precision (detections scoring 0.1 or more, in bins of 0.1: mean score -> "
            f"share true): {bins}; D-ECE {m['calibration_error']:.1f} %.")


def _ap(m) -> str:
    return f"{m['AP50']:.1f}"


def _stages(run: Path) -> list:
    """A run and the runs it started from (init_from .../float.pt), first stage first."""
    from codenet.model.checkpoint import CHECKPOINT_FORMAT, load

    stages = []
    while run is not None:
        state = load(run / "checkpoint.pt", CHECKPOINT_FORMAT)
        stages.insert(0, {"run": run, "settings": state["settings"], "config": state["config"],
                          "log": _read(run / "log.json")})
        start = state["settings"].get("init_from", "")
        run = Path(start).parent if start and Path(start).name == "float.pt" else None
    return stages


def _views(s: dict, size: int) -> str:
    """What a stage's float epochs trained on: full-size views, or crops then a full-size finish."""
    if not s.get("crop"):
        return f"each a {size}-pixel view"
    full = s.get("full_epochs", 0)
    return (f"{s['crop']}-pixel crops at test scale for {s['float_epochs'] - full} epochs"
            f"{f', the last {full} at the full {size} pixels' if full else ''}")


def _stage_text(stage, windows: int, scale) -> str:
    s = stage["settings"]
    start = f"from {s['init_from']}, " if s.get("init_from") else ""
    scales = ("learned per-channel weight scales (LSQ-style, from the weights' max)"
              if stage["config"].get("weight_scale") == "learned" else "weight scales from the weights' max")
    qat = (f"then {s['qat_epochs']} QAT epochs (lr {s['qat_lr']}, {scales}"
           f"{', distilled from the float model, weight ' + str(s['distill']) if s['distill'] else ''})")
    return (f"`{stage['run']}`: {start}{s['float_epochs']} float epochs over the {windows} overlapping training "
            f"windows, {_views(s, stage['config']['input_size'])} (random scale {scale[0]}-{scale[1]}, the 8 "
            f"flips/rotations, colour jitter), batch {s['batch_size']}, AdamW lr {s['lr']} cosine, weight EMA "
            f"{s['ema']}; {qat}")


def _rates(rows) -> str:
    """Training throughput of a run's logged epochs, float and QAT phases apart."""
    def rate(phase):
        done = [r for r in rows if r["phase"] == phase]
        images = sum(r["images_per_s"] * r["seconds"] for r in done)
        return images / max(sum(r["seconds"] for r in done), 1e-9)

    return f"{rate('float'):.0f} images/s float, {rate('qat'):.0f} images/s QAT"


def _network_text(config: dict) -> str:
    """What a tree network is, from its model config: the depth of its bottom and of its decoder."""
    from codenet.model.config import ModelConfig, load_config

    cfg, default = ModelConfig.from_dict(config), load_config("codenet-s")[0]
    classes = "one class" if cfg.num_classes == 1 else f"{cfg.num_classes} classes"
    same = [c for c, _ in cfg.backbone] == [c for c, _ in default.backbone] and cfg.stem[0] == default.stem[0]
    channels = "codenet-s's channels" if same else "its own channels"
    stages = {1: "one", 2: "two", 3: "three"}[len(cfg.neck)]
    return (f"A stride-{cfg.total_stride} network with {classes} ({channels}, "
            f"{stages} decoder stages to the head's stride {cfg.output_stride}: `model/configs/trees.yaml`)")


def trees_section(run: Path, weights: Path) -> str:
    """The tree detector: float and W4A8 on val (tuning), the test bands and the cross-site test."""
    from codenet.model.checkpoint import model_meta
    from codenet.model.data.trees import SCALE_RANGE, TreeTiles

    quant = {"val": _read(run / "metrics.json"), "test": _read(run / "metrics_test.json"),
             "cross-site": _read(run / "metrics_cross-site.json")}
    stages = _stages(run)
    # the float model QAT started from: the last stage that trained (and scored) one
    floats = _read([st["run"] for st in stages if (st["run"] / "float_metrics.json").exists()][-1]
                   / "float_metrics.json")
    floats = {"val": floats["float"], "test": floats["float_test"], "cross-site": floats["float_cross-site"]}
    rows_all = [r for st in stages for r in st["log"]]
    seconds = sum(r["seconds"] for r in rows_all)
    meta = model_meta(run / "model.pt")

    sets = {split: TreeTiles(split) for split in ("train", "val", "test", "cross-site")}
    crowns = {split: sum(len(ds[i][1]) for i in range(len(ds))) for split, ds in sets.items()}
    what = {"val": "val bands (tuning)", "test": "test bands (held out)", "cross-site": "cross-site: OSBS + SOAP"}
    rows = ["| split | tiles / crowns | float AP50 | W4A8 AP50 | W4A8 mAP | W4A8 median true-object score | "
            "W4A8 recall at score 0.3 / 0.5 |", "|---|---|---|---|---|---|---|"]
    for split in ("val", "test", "cross-site"):
        q = quant[split]
        score = (f"{q['true_score_median'] / 100:.2f} | {q['recall_at_0.3']:.0f} % / {q['recall_at_0.5']:.0f} %"
                 if "true_score_median" in q else "n/a | n/a")
        rows.append(f"| {what[split]} | {len(sets[split])} / {crowns[split]} | {_ap(floats[split])} | {_ap(q)} | "
                    f"{q['mAP']:.1f} | {score} |")
    size = weights.stat().st_size if weights.exists() else (run / "model.pt").stat().st_size
    made = "; ".join(_stage_text(st, len(sets["train"]), SCALE_RANGE) for st in stages)
    return "\n".join([
        "## Tree-crown detector: codenet-trees (`model/weights/trees.pt`)",
        "",
        f"{_network_text(stages[-1]['config'])}, on NEON aerial RGB at native resolution (the `trees` data set: "
        "the deepforest wheel's data folder, `make trees-data`). Training rows, val and test bands of the two "
        "YELL images are disjoint; OSBS_029 and SOAP_061 (other sites) are seen by neither training nor tuning. "
        "Evaluated on disjoint 256x256 tiles (a crown cut by a tile edge is labelled in the tile holding at "
        "least half of it).",
        "",
        *rows,
        "",
        f"W4A8 minus float: {quant['test']['AP50'] - floats['test']['AP50']:+.1f} AP50 points on the test bands, "
        f"{quant['cross-site']['AP50'] - floats['cross-site']['AP50']:+.1f} cross-site, "
        f"{quant['val']['AP50'] - floats['val']['AP50']:+.1f} on val.",
        *([_calibration_text(quant["test"], "W4A8 scores on the test bands")] if "calibration_error" in quant["test"]
          else []),
        "",
        f"How it was made: `make train-trees` (niced), {len(stages)} stage(s): {made}. Seed "
        f"{stages[-1]['settings']['seed']}. {seconds / 60:.0f} minutes of training steps on "
        f"{meta.get('device', 'cpu')} ({meta.get('threads', 1)} thread, shared with other jobs): "
        f"{_rates(rows_all)}. Model file {size / 1024:.0f} KiB.",
        *_scores_lines({}, meta),
    ])


PTQ_TREES = ("## Post-training quantization vs QAT: the tree detector",
             "The same float model (`model/weights/trees-float.pt`, the weight average QAT began from) "
             "quantized W4A8 without training (`codenet quantize`, 256 calibration images of the train split, "
             "activation peaks at the 99.99th percentile or at the least 8-bit error) against its QAT "
             "(`model/weights/trees.pt`, distilled from it: the recipe above). Made by `make ptq-trees`.",
             "one seed, 98-198 crowns a split")
PTQ_SYNTHETIC = ("## Post-training quantization vs QAT on codenet-s: the synthetic set",
                 "The default model's float start (`model/weights/codenet-s-float.pt`, the weight average QAT began from) "
                 "quantized W4A8 by `codenet quantize` as above, against its QAT (3 epochs distilled from it: "
                 "`model/weights/codenet-s.pt`). Made by `make ptq-synthetic`.", "one seed, 300 images a split")


def ptq_section(rows: list, title: str, how: str, noise: str) -> str:
    """Float vs PTQ vs QAT from the same float start (python -m codenet.model.ptq's ptq.json)."""
    splits = [k for k in rows[0] if k not in ("model", "file")]
    lines = [title, "", how, "",
             f"| model | {' | '.join(f'AP50 {s}' for s in splits)} |", "|---|" + "---|" * len(splits)]
    lines += [f"| {r['model']} | {' | '.join(f'{r[s]:.1f}' for s in splits)} |" for r in rows]
    qat = next(r for r in rows if r["model"].startswith("QAT"))
    ptq = [r for r in rows if r["model"].startswith("PTQ")]
    gains = ", ".join(f"{qat[s] - max(r[s] for r in ptq):+.1f} on {s}" for s in splits)
    lines += ["", f"QAT minus the better PTQ: {gains} AP50 points ({noise})."]
    return "\n".join(lines)


def prune_section(result: dict) -> str:
    """Pruned vs uniformly narrowed vs shipped tree detector (python -m codenet.model.prune's pareto.json)."""
    b = result["budget"]
    points = {p["role"]: p for p in result["points"]}
    rows = ["| design | channels (stem / backbone / neck / head) | parameters | MACs | frames/s folded for "
            f"{b['fps']:g} | LUT | BRAM36 | highest frames/s within the budget | float AP50 val | W4A8 AP50 val | "
            "test | cross-site |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in result["points"]:
        w, a, e = p["widths"], p["ap50"], p["at_budget"]
        chans = (f"{w['stem']} / {', '.join(str(v) for k, v in w.items() if k.startswith('backbone'))} / "
                 f"{', '.join(str(v) for k, v in w.items() if k.startswith('neck'))} / {w['head']}")
        rows.append(f"| {p['name']} | {chans} | {p['parameters'] / 1e3:.0f} k | {p['macs'] / 1e6:.0f} M | "
                    f"{e['fps']:.1f}{'' if p['fits_budget'] else ' (misses)'} | {e['lut']:,} | {e['bram18'] / 2:g} | "
                    f"{p['max_fps']:.1f} | {a['float val']:.1f} | {a['val']:.1f} | {a['test']:.1f} | "
                    f"{a['cross-site']:.1f} |")
    lines = ["## Hardware-aware channel pruning: the tree detector", "",
             f"Budget: folded for {b['fps']:g} frames/s (1.5 x the board's 60) at 100 MHz within the LUT "
             f"({b['lut']:,}) and BRAM18 ({b['bram18']}) that the unpruned network takes folded for 60, and the "
             "board's limits: 1.5 times the frame rate on the same silicon. The search (`python -m "
             "codenet.model.prune search`) cuts the float model's channel groups greedily by val AP50 lost (no "
             "fine-tuning between steps) per compute LUT and BRAM saved as the overlay's cost models fold them, "
             "checking each step with the estimate "
             f"({len(result['search']) - 1} steps, {result['search_seconds'] / 60:.0f} minutes); the uniform "
             "baseline is the widest all-widths x alpha network within the same budget, sliced from the same "
             "float model by the same BN |gamma| ranking. Both then get the same training: 30 float epochs "
             "(lr 0.002) and 5 QAT epochs, distilled from the unpruned float model throughout. "
             "Made by `make prune-trees`; `python -m codenet.overlay.estimate --model model/weights/trees-pruned.pt "
             "--fps 90` shows the pruned model within it. The mixed-precision row is the pruned float model "
             "quantized with narrower weights in five layers chosen by val sensitivity "
             "(`model/configs/trees-pruned-mixed.yaml`), by PTQ only.", "", *rows]
    steps = "; ".join(f"{r['group']} -> {r['widths'][r['group']]}: {r['score']:.1f}, {r['lut']:,}"
                      for r in result["search"][1:] if r.get("group"))
    if steps:
        lines += ["", f"Search steps (group -> channels: float val AP50 without fine-tuning, LUT folded for "
                      f"{b['fps']:g}): {steps}. Once that AP50 nears zero the steps are ranked by what they save."]
    if "pruned" in points and "uniform" in points:
        pr, un = points["pruned"], points["uniform"]
        gains = ", ".join(f"{pr['ap50'][s] - un['ap50'][s]:+.1f} on {s}" for s in ("val", "test", "cross-site"))
        lines += ["", f"Pruned minus uniform at the same budget: {gains} W4A8 AP50 points (one seed, 98-198 "
                      "crowns a split). The uniform network is the widest that fits; it leaves "
                      f"{b['lut'] - un['at_budget']['lut']:,} LUT and {(b['bram18'] - un['at_budget']['bram18']) / 2:g} "
                      f"BRAM36 of the budget unused (the pruned one {b['lut'] - pr['at_budget']['lut']:,} and "
                      f"{(b['bram18'] - pr['at_budget']['bram18']) / 2:g}), so the two share the budget, not every "
                      "figure."]
        if "train_minutes" in pr:
            lines += [f"Training steps: {pr['train_minutes']:.0f} minutes (pruned), {un['train_minutes']:.0f} "
                      "(uniform), on one shared CPU thread each."]
    if "pruned" in points and "shipped" in points:
        pr, sh = points["pruned"], points["shipped"]
        lines += [f"Pruned against the unpruned model it was cut from (the shipped row: `{sh['run']}`): "
                  f"{pr['max_fps'] / sh['max_fps']:.2f} x the frame rate on "
                  f"its LUT and BRAM, {pr['ap50']['test'] - sh['ap50']['test']:+.1f} AP50 on test, "
                  f"{pr['ap50']['val'] - sh['ap50']['val']:+.1f} on val, "
                  f"{pr['ap50']['cross-site'] - sh['ap50']['cross-site']:+.1f} cross-site (the pruned one trained "
                  "30 float and 5 QAT epochs more from that model's float weights)."]
    return "\n".join(lines)


SHIFT_DATA = (("synthetic", "its own generator's `test` split"),
              ("handwritten", "second generator, held-out handwriting (`synthetic-shift`)"),
              ("printed", "second generator, printed digits (`synthetic-shift:printed`)"))


def shift_section(folder: Path) -> str:
    """codenet-s on scenes another generator drew (`make eval-shift`'s metrics.json files)."""
    m = {name: _read(folder / name / "metrics.json") for name, _ in SHIFT_DATA}
    ap = {name: list(v["per_class_AP50"].values()) for name, v in m.items()}  # 0..9, then the shapes
    digits = {name: sum(v[:10]) / 10 for name, v in ap.items()}
    shapes = {name: sum(v[10:]) / len(v[10:]) for name, v in ap.items()}
    rows = ["| data (300 images) | AP50 | class-agnostic AP50 | mAP | digits AP50 | shapes AP50 | median true score |",
            "|---|---|---|---|---|---|---|"]
    for name, what in SHIFT_DATA:
        r = m[name]
        rows.append(f"| {what} | {r['AP50']:.1f} | {r['agnostic_AP50']:.1f} | {r['mAP']:.1f} | "
                    f"{digits[name]:.1f} | {shapes[name]:.1f} | {r['true_score_median'] / 100:.2f} |")
    own, printed = m["synthetic"], m["printed"]
    return "\n".join([
        "## Another generator: codenet-s on scenes it was not drawn from", "",
        "`model/data/shifted.py` draws the same 14 classes another way: value-noise, stripe, checkerboard "
        "and vignette backgrounds; digits upscaled by nearest neighbour, blurred and thresholded (the "
        "stroke weight varies) or printed in a font; axis-aligned squares and regular polygons; little "
        "overlap, less contrast, exposure changes, JPEG. A test set only: nothing is trained or tuned on it. "
        "The shipped W4A8 model, made by `make eval-shift`:", "", *rows, "",
        f"Against its own test split: {m['handwritten']['AP50'] - own['AP50']:+.1f} AP50 on the second "
        f"generator's handwriting, {printed['AP50'] - own['AP50']:+.1f} with printed digits (training only ever "
        f"saw handwriting): the digits' AP50 goes {digits['synthetic']:.1f} -> {digits['printed']:.1f}, the "
        f"shapes' {shapes['synthetic']:.1f} -> {shapes['printed']:.1f}, class-agnostic "
        f"{own['agnostic_AP50']:.1f} -> {printed['agnostic_AP50']:.1f}."])


def keep_sections(path: Path) -> dict:
    """The '## ' sections of an existing results file by their first words, to keep those not rebuilt."""
    if not path.exists():
        return {}
    sections, current = {}, None
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            current = line.split(":")[0]
            sections[current] = []
        if current:
            sections[current].append(line)
    return {k: "\n".join(v).rstrip() for k, v in sections.items()}


ABLATION_FOOTER = "Made by `make ablation`"


def kept_studies(section: str) -> dict:
    """The '### <study>' parts of an existing ablation section, without its closing paragraph."""
    studies, current = {}, None
    for line in section.splitlines():
        if line.startswith(ABLATION_FOOTER):
            break
        if line.startswith("### "):
            current = line[4:].strip()
            studies[current] = []
        elif current:
            studies[current].append(line)
    return {k: "\n".join(v).strip() for k, v in studies.items()}


def ablation_section(results: dict, kept: dict | None = None) -> str:
    """The ablation's tables (python -m codenet.model.ablation's ablation.json), a study each; a study
    the run did not cover keeps its `kept` text (from the existing file), so one study can be rerun."""
    from codenet.model.ablation import STUDIES, report

    parts = ["## Ablation: the decoder's deformable variants over seeds, and distillation in QAT", ""]
    for study in STUDIES:
        if study in results:
            r = results[study]
            parts += [f"### {study}", "", report(study, r["rows"], r["seeds"], r.get("backbone"))]
        elif kept and study in kept:
            parts += [f"### {study}", "", kept[study], ""]
    backbones = ", ".join(f"`{s.backbone}`" for s in STUDIES.values())
    parts.append(f"{ABLATION_FOOTER} (the backbones: {backbones}), two runs at a time on one thread each. "
                 "How to read it: the spread is the standard deviation over seeds (the runs share the "
                 "pretrained backbone, so it measures the decoder's initialisation and the data order); the "
                 "paired column differences each seed's run against the same seed's hardware variant. "
                 "\"float, d rounded\" is CoDeNet's recipe: bilinear (real-valued) dilations in training, "
                 "rounded to the hardware's integers after it. Its QAT distills at weight 1, too weak to "
                 "matter, so its distillation row says little; the tree detector's section compares weights "
                 "1, 100 and 1000.")
    return "\n".join(parts)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default="runs/codenet-s")
    p.add_argument("--trees", default="runs/trees", help="the tree detector's run (its last stage, if several)")
    p.add_argument("--ablation", default="runs/ablation")
    p.add_argument("--ptq", default="build/ptq-trees", help="python -m codenet.model.ptq's output folder")
    p.add_argument("--ptq-synthetic", default="build/ptq-synthetic", help="the same for codenet-s")
    p.add_argument("--prune", default="build/prune-trees", help="python -m codenet.model.prune's output folder")
    p.add_argument("--shift", default="build/eval-shift", help="make eval-shift's output folder")
    p.add_argument("--out", default="model/results.md")
    args = p.parse_args(argv)
    from codenet.host.io import write_bytes_atomic

    old = keep_sections(Path(args.out))
    parts = ["# Results", ""]
    for heading, run, make in (("## Default model", Path(args.run), lambda r: default_section(r)),
                               ("## Tree-crown detector", Path(args.trees),
                                lambda r: trees_section(r, Path("model/weights/trees.pt")))):
        if (run / "model.pt").exists():
            parts += [make(run), ""]
        elif heading in old:
            parts += [old[heading], ""]
    for folder, section in ((args.ptq, PTQ_TREES), (args.ptq_synthetic, PTQ_SYNTHETIC)):
        ptq, key = Path(folder) / "ptq.json", section[0].split(":")[0]
        if ptq.exists():
            parts += [ptq_section(_read(ptq), *section), ""]
        elif key in old:
            parts += [old[key], ""]
    pareto = Path(args.prune) / "pareto.json"
    if pareto.exists():
        parts += [prune_section(_read(pareto)), ""]
    elif "## Hardware-aware channel pruning" in old:
        parts += [old["## Hardware-aware channel pruning"], ""]
    if (Path(args.shift) / "printed" / "metrics.json").exists():
        parts += [shift_section(Path(args.shift)), ""]
    elif "## Another generator" in old:
        parts += [old["## Another generator"], ""]
    ablation = Path(args.ablation) / "ablation.json"
    if ablation.exists():
        parts += [ablation_section(_read(ablation), kept_studies(old.get("## Ablation", ""))), ""]
    elif "## Ablation" in old:
        parts += [old["## Ablation"], ""]
    write_bytes_atomic(("\n".join(parts).rstrip() + "\n").encode(), args.out)
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
